"""The audit trail: who did what to the store, the models or the settings, never the content."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, enum_column, utcnow


class ActorRole(StrEnum):
    operator = "operator"  # reviews and corrects
    admin = "admin"  # also promotes, rolls back, erases and changes settings
    system = "system"  # scheduled jobs: retention
    visitor = "visitor"  # not logged in: a failed login


class AuditEvent(SQLModel, table=True):
    """One operator, admin or system action. `details` holds ids and counts, never texts."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=128, description="Who: an operator's name, an API key's label.")
    role: ActorRole = Field(sa_type=enum_column(ActorRole))
    action: str = Field(max_length=64, index=True, description="What: review, promote, erase...")
    target: str | None = Field(
        default=None, max_length=256, description="On what: a message id, a model version."
    )
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
