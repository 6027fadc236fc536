"""Training profiles: named hyperparameter sets (a study's best trial) for the nightly job."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, utcnow


class TrainingProfile(SQLModel, table=True):
    """The best hyperparameters a study found, kept under a name; re-tuning updates them."""

    __tablename__ = "training_profile"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    values: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=sa.JSON,
        description="Training-plan field -> value, e.g. learning_rate, beta, num_train_epochs.",
    )
    study_name: str = Field(max_length=128, description="The study whose best trial it is.")
    dataset: str = Field(
        max_length=64, description="What it was tuned on: a dataset snapshot id, or synthetic."
    )
    objective: float = Field(
        description="Cross-validated held-out preference accuracy (margin as tie-break)."
    )
    trials: int = Field(ge=0, description="Finished trials in the study when it was saved.")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
