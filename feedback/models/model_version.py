"""The model registry's rows: every model the bot has served or might serve."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, enum_column, utcnow


class ModelStatus(StrEnum):
    candidate = "candidate"
    canary = "canary"  # serves a share of new conversations beside the active model
    active = "active"
    retired = "retired"
    rejected = "rejected"


class ModelVersion(SQLModel, table=True):
    __tablename__ = "model_version"
    __table_args__ = (
        # At most one active model, enforced by the database itself.
        sa.Index(
            "uq_model_version_one_active",
            "status",
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        ),
        # At most one canary: a live comparison is between two versions.
        sa.Index(
            "uq_model_version_one_canary",
            "status",
            unique=True,
            sqlite_where=sa.text("status = 'canary'"),
            postgresql_where=sa.text("status = 'canary'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    path: str = Field(
        max_length=1024, description="Model directory or hub id, as from_pretrained takes it."
    )
    adapter_path: str | None = Field(
        default=None, max_length=1024, description="Optional LoRA adapter."
    )
    parent_id: int | None = Field(default=None, foreign_key="model_version.id")
    status: ModelStatus = Field(default=ModelStatus.candidate, sa_type=enum_column(ModelStatus))
    origin: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=sa.JSON,
        description="How it was made: bootstrap, import, dpo.",
    )
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
