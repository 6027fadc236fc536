"""Everything an operator or admin changes, each checked against the role first (whatever the
page showed) and recorded in the audit trail: who, as what, on which ids; never user texts."""

import uuid
from typing import Any

from sqlmodel import Session

from dashboards.admin import Forget, SettingChange, SettingsFile
from dashboards.auth import Staff
from dashboards.rights import NotAllowed, allowed
from feedback import Store, activate, active_model_version, record_audit, record_review, rollback
from feedback.models import ModelVersion, OperatorReview


def review(
    store: Store,
    staff: Staff,
    *,
    message_id: uuid.UUID,
    action: str,
    feedback_id: uuid.UUID | None = None,
    corrected_text: str | None = None,
    note: str | None = None,
) -> OperatorReview:
    """Approve or correct an answer, or exclude one feedback event from training."""
    _authorise(store, staff, action)
    details = {"feedback_id": str(feedback_id)} if feedback_id else {}
    with store.session() as session:
        # Added first, committed by the review's own commit: both rows or neither.
        _audit(session, staff, action, target=str(message_id), details=details, commit=False)
        return record_review(
            session,
            message_id=message_id,
            action=action,
            reviewer=staff.name,
            feedback_id=feedback_id,
            corrected_text=corrected_text,
            note=note,
        )


def promote(store: Store, staff: Staff, version_id: int) -> ModelVersion:
    """Put a model version in service (admins only)."""
    _authorise(store, staff, "promote", target=str(version_id))
    with store.session() as session:
        details = {"replaced": _active_name(session)}
        _audit(session, staff, "promote", target=str(version_id), details=details, commit=False)
        return activate(session, version_id)


def roll_back(store: Store, staff: Staff) -> ModelVersion:
    """Put the previously active version back in service (admins only)."""
    _authorise(store, staff, "rollback")
    with store.session() as session:
        replaced = _active_name(session)
        previous = rollback(session)
        details = {"replaced": replaced, "name": previous.name}
        _audit(session, staff, "rollback", target=str(previous.id), details=details)
        return previous


def erase_user(store: Store, staff: Staff, forget: Forget, user_id: str) -> dict[str, Any]:
    """Erase a user's data (admins only); `forget` writes the audit row, without the id."""
    _authorise(store, staff, "erase")
    return forget(user_id, staff.name)


def change_setting(
    store: Store, staff: Staff, settings_file: SettingsFile, key: str, text: str | None
) -> SettingChange:
    """Set (or, with None, remove) one key of the settings file (admins only)."""
    _authorise(store, staff, "change_setting", target=key)
    change = settings_file.change(key, text)
    details = {"old": change.old, "new": change.new, "file": str(settings_file.path)}
    with store.session() as session:
        _audit(session, staff, "change_setting", target=key, details=details)
    return change


def _authorise(store: Store, staff: Staff, action: str, *, target: str | None = None) -> None:
    """Refuse, and record the refusal, when the role does not carry `action`."""
    if allowed(staff, action):
        return
    with store.session() as session:
        _audit(session, staff, "refused", target=target, details={"wanted": action})
    raise NotAllowed(f"{staff.name} is logged in as {staff.role.value}: {action} needs an admin")


def _audit(session: Session, staff: Staff, action: str, **fields: Any) -> None:
    record_audit(session, actor=staff.name, role=staff.role, action=action, **fields)


def _active_name(session: Session) -> str | None:
    active = active_model_version(session)
    return active.name if active else None
