"""Precomputed figures the dashboards read: quality per day and version, and rater trust."""

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, utcnow


class DailyQuality(SQLModel, table=True):
    """Answers and ratings of one day and model version (0: answers of no registered model)."""

    __tablename__ = "daily_quality"

    day: date = Field(primary_key=True)
    model_version_id: int = Field(default=0, primary_key=True)
    answers: int = 0
    ups: int = 0
    thumbs: int = 0
    stars_sum: int = 0
    stars_n: int = 0
    regenerates: int = 0
    # User messages that answer this version's answers, and the sum of their sentiment.
    user_messages: int = 0
    sentiment_sum: float = 0.0


# Below this weight a rater is distrusted: their votes alone make no pair (`PairPolicy.
# min_trust`) and their thumbs do not count in a canary's live numbers.
DISTRUSTED_BELOW = 0.5


class RaterTrustRecord(SQLModel, table=True):
    """A rater's trust as the last nightly run computed and used it (`DISTRUSTED_BELOW`)."""

    __tablename__ = "rater_trust"

    user_pseudonym: str = Field(primary_key=True, max_length=64)
    votes: int
    disagreement: float | None = None
    toxic_reward_share: float = 0.0
    weight: float = Field(index=True)
    reasons: str = Field(default="", max_length=512)
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RollupWatermark(SQLModel, table=True):
    """Up to when a rollup has counted what was written; catching up starts after it."""

    __tablename__ = "rollup_watermark"

    name: str = Field(primary_key=True, max_length=64)
    upto: datetime = Field(sa_type=UTCDateTime)
