"""What the nightly job makes and records: preference pairs, dataset snapshots, training runs."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, enum_column, new_id, utcnow


class PairStrategy(StrEnum):
    correction = "correction"
    regeneration = "regeneration"
    same_prompt = "same_prompt"


class GateVerdict(StrEnum):
    pending = "pending"
    kept = "kept"
    dropped = "dropped"


class RunStatus(StrEnum):
    running = "running"
    promoted = "promoted"
    canary = "canary"  # passed the model gates; serving a share of traffic until decided
    rejected = "rejected"
    failed = "failed"
    skipped = "skipped"


class DatasetSnapshot(SQLModel, table=True):
    """A frozen, versioned training set in TRL's conversational preference format."""

    __tablename__ = "dataset_snapshot"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    path: str = Field(max_length=1024, description="JSONL of prompt / chosen / rejected rows.")
    sha256: str = Field(max_length=64)
    pair_count: int = Field(ge=0)
    kto_path: str | None = Field(
        default=None, max_length=1024, description="Unpaired thumbs, KTO rows."
    )
    kto_count: int = Field(default=0, ge=0)
    feedback_until: datetime = Field(
        sa_type=UTCDateTime, description="Feedback up to here is in it."
    )
    stats: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class PreferencePair(SQLModel, table=True):
    """One chosen-over-rejected pair, with the ids it came from and its gate verdict."""

    __tablename__ = "preference_pair"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    snapshot_id: uuid.UUID | None = Field(
        default=None, foreign_key="dataset_snapshot.id", index=True
    )
    strategy: PairStrategy = Field(sa_type=enum_column(PairStrategy))
    prompt: list[dict[str, str]] = Field(
        sa_type=sa.JSON, description="The context, as chat messages."
    )
    chosen: str = Field(sa_type=sa.Text)
    rejected: str = Field(sa_type=sa.Text)
    weight: float = Field(default=1.0, ge=0)
    chosen_message_id: uuid.UUID | None = Field(default=None, foreign_key="message.id")
    rejected_message_id: uuid.UUID | None = Field(default=None, foreign_key="message.id")
    feedback_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    verdict: GateVerdict = Field(default=GateVerdict.pending, sa_type=enum_column(GateVerdict))
    drop_reason: str | None = Field(default=None, max_length=256)
    scores: dict[str, float] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class TrainingRun(SQLModel, table=True):
    """One nightly (or manual) run: each named step, its counts, reports and decision."""

    __tablename__ = "training_run"

    id: int | None = Field(default=None, primary_key=True)
    status: RunStatus = Field(default=RunStatus.running, sa_type=enum_column(RunStatus), index=True)
    trigger: str = Field(default="schedule", max_length=32, description="schedule, manual or cli.")
    snapshot_id: uuid.UUID | None = Field(default=None, foreign_key="dataset_snapshot.id")
    base_version_id: int | None = Field(default=None, foreign_key="model_version.id")
    candidate_version_id: int | None = Field(default=None, foreign_key="model_version.id")
    scorer: str | None = Field(
        default=None, max_length=128, description="Scorer that gated the data."
    )
    steps: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    counts: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    gate_report: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    eval_report: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    profile: str | None = Field(
        default=None,
        max_length=128,
        description="Training profile it took its hyperparameters from; None: the settings'.",
    )
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict, sa_type=sa.JSON, description="The values it trained with."
    )
    decision: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
