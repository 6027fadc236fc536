"""Claims on scheduled work: the first replica to claim a job's period runs it."""

import sqlalchemy as sa
from sqlmodel import Session

from feedback.models import JobClaim


def claim(session: Session, *, job: str, period: str, holder: str) -> bool:
    """True for exactly one caller per (job, period), across processes and machines."""
    try:
        with session.begin_nested():
            session.add(JobClaim(job=job, period=period, holder=holder))
        session.commit()
        return True
    except sa.exc.IntegrityError:
        session.rollback()
        return False
