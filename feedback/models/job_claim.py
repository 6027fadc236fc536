"""A claim on one period of a scheduled job, so that one replica runs it, not all of them."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, utcnow


class JobClaim(SQLModel, table=True):
    __tablename__ = "job_claim"

    job: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=64, description="e.g. the night's date.")
    holder: str = Field(max_length=128, description="host and process that runs it.")
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
