"""The feedback store: tables, engine and sessions, migrations, and the write API the bot calls."""

from feedback.audit import recent_audit_events, record_audit
from feedback.chatlog import (
    check_follow_up,
    log_turn,
    log_turns,
    message_thread,
    start_conversation,
)
from feedback.db import Store, make_engine, pseudonymize
from feedback.overview import StoreOverview, describe_store
from feedback.ratings import record_feedback, record_feedback_batch, record_review
from feedback.registry import (
    activate,
    active_model_version,
    canary_model_version,
    line_start,
    list_versions,
    register_model_version,
    reject,
    revert,
    rollback,
    start_canary,
)

__all__ = [
    "Store",
    "StoreOverview",
    "activate",
    "active_model_version",
    "canary_model_version",
    "check_follow_up",
    "describe_store",
    "line_start",
    "list_versions",
    "log_turn",
    "log_turns",
    "make_engine",
    "message_thread",
    "pseudonymize",
    "recent_audit_events",
    "record_audit",
    "record_feedback",
    "record_feedback_batch",
    "record_review",
    "register_model_version",
    "reject",
    "revert",
    "rollback",
    "start_canary",
    "start_conversation",
]
