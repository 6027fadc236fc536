"""The canary's decisions: every check of a live comparison, with its numbers and reason."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, enum_column, utcnow


class CanaryPhase(StrEnum):
    canary = "canary"  # a candidate serves a share of traffic beside the active model
    watch = "watch"  # a promoted version, against the previous version's baseline


class CanaryOutcome(StrEnum):
    start = "start"  # a candidate passed the model gates and began serving as canary
    wait = "wait"  # not enough evidence either way yet
    promote = "promote"
    rollback = "rollback"
    keep = "keep"  # the watch after a promotion ended without a significant drop


class CanaryDecision(SQLModel, table=True):
    """One check of a canary (or of a promoted version under watch): what was decided, why,
    and the live numbers it was decided on."""

    __tablename__ = "canary_decision"
    __table_args__ = (sa.Index(None, "version_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(
        foreign_key="model_version.id", description="The canary, or the version under watch."
    )
    baseline_version_id: int | None = Field(
        default=None,
        foreign_key="model_version.id",
        description="What it was compared with: the active model, or the previous one.",
    )
    phase: CanaryPhase = Field(sa_type=enum_column(CanaryPhase))
    outcome: CanaryOutcome = Field(sa_type=enum_column(CanaryOutcome))
    method: str = Field(max_length=128, description="The statistical method that decided.")
    reason: str = Field(sa_type=sa.Text)
    numbers: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=sa.JSON,
        description="Per metric: both versions' counts and rates, bounds and evidence.",
    )
    trigger: str = Field(
        max_length=32, description="What asked for the check: nightly, schedule, ratings, ..."
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
