"""What users say about answers (feedback events) and what operators decide (reviews)."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import model_validator
from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, enum_column, new_id, utcnow


class FeedbackKind(StrEnum):
    thumbs = "thumbs"
    stars = "stars"
    regenerate = "regenerate"
    correction = "correction"
    flag = "flag"


ALLOWED_VALUES = {FeedbackKind.thumbs: (-1, 1), FeedbackKind.stars: (1, 2, 3, 4, 5)}
NEEDS_TEXT = {FeedbackKind.correction: "the corrected answer", FeedbackKind.flag: "the reason"}


class FeedbackBase(SQLModel):
    message_id: uuid.UUID = Field(foreign_key="message.id", index=True)
    kind: FeedbackKind = Field(sa_type=enum_column(FeedbackKind))
    value: int | None = Field(default=None, description="thumbs: 1 up, -1 down; stars: 1 to 5.")
    text: str | None = Field(
        default=None,
        sa_type=sa.Text,
        description="correction: the better answer; flag: the reason.",
    )
    idempotency_key: str | None = Field(
        default=None,
        max_length=128,
        unique=True,
        description="Retries with the same key store once.",
    )


class FeedbackEvent(FeedbackBase, table=True):
    """One vote or action; a changed vote is a new row, and the latest per rater counts."""

    __tablename__ = "feedback_event"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'thumbs' AND value IN (-1, 1))"
            " OR (kind = 'stars' AND value BETWEEN 1 AND 5)"
            " OR (kind IN ('regenerate', 'correction', 'flag') AND value IS NULL)",
            name="value_fits_kind",
        ),
        sa.CheckConstraint(
            "kind NOT IN ('correction', 'flag') OR length(trim(text)) > 0", name="text_fits_kind"
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_pseudonym: str = Field(
        max_length=64, index=True, description="Keyed hash of the rater id."
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class FeedbackCreate(FeedbackBase):
    """A feedback event as a client sends it; the raw user id is pseudonymized on write."""

    user_id: str = Field(min_length=1, max_length=256)

    @model_validator(mode="after")
    def _value_and_text_fit_kind(self) -> "FeedbackCreate":
        allowed = ALLOWED_VALUES.get(self.kind)
        if allowed and self.value not in allowed:
            raise ValueError(f"{self.kind} feedback needs a value in {allowed}, got {self.value}")
        if not allowed and self.value is not None:
            raise ValueError(f"{self.kind} feedback takes no value, got {self.value}")
        if self.kind in NEEDS_TEXT and not (self.text or "").strip():
            raise ValueError(f"{self.kind} feedback needs text: {NEEDS_TEXT[self.kind]}")
        return self


class ReviewAction(StrEnum):
    exclude = "exclude"
    approve = "approve"
    correct = "correct"


class ReviewBase(SQLModel):
    message_id: uuid.UUID = Field(foreign_key="message.id", index=True)
    feedback_id: uuid.UUID | None = Field(default=None, foreign_key="feedback_event.id", index=True)
    action: ReviewAction = Field(sa_type=enum_column(ReviewAction))
    corrected_text: str | None = Field(default=None, sa_type=sa.Text)
    note: str | None = Field(default=None, sa_type=sa.Text)
    reviewer: str = Field(min_length=1, max_length=128)


class OperatorReview(ReviewBase, table=True):
    """An operator's decision on an answer or one feedback event, with who and when."""

    __tablename__ = "operator_review"
    __table_args__ = (
        sa.CheckConstraint(
            "action != 'correct' OR length(trim(corrected_text)) > 0", name="correction_has_text"
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class ReviewCreate(ReviewBase):
    @model_validator(mode="after")
    def _correction_has_text(self) -> "ReviewCreate":
        if self.action is ReviewAction.correct and not (self.corrected_text or "").strip():
            raise ValueError("a 'correct' review needs corrected_text: the better answer")
        return self
