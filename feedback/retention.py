"""Retention: texts older than the limit are purged; the daily rollups the dashboards read stay.

A message row outlives its text (content emptied, `purged_at` set) so that counts per day and
per model version can still be made from it. Corrections and flags, whose text is the point,
go with the operator reviews of them, and so do old pairs and snapshot files.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from feedback.columns import utcnow
from feedback.models import (
    DatasetSnapshot,
    FeedbackEvent,
    FeedbackKind,
    Message,
    OperatorReview,
    PreferencePair,
)
from feedback.rollups import catch_up_daily_quality
from feedback.snapshot_files import delete_snapshot_files

TEXT_KINDS = (FeedbackKind.correction, FeedbackKind.flag)


@dataclass
class PurgedRows:
    """What a retention pass purged: counts and snapshot ids, never content."""

    before: datetime
    messages: int = 0
    feedback_events: int = 0
    reviews: int = 0
    pairs: int = 0
    snapshots: list[str] = field(default_factory=list)


def retention_start(days: int | None) -> datetime | None:
    """The oldest moment whose texts are kept; None when nothing expires."""
    return None if days is None else utcnow() - timedelta(days=days)


def purge_expired(session: Session, *, before: datetime) -> PurgedRows:
    """Purge every text written before `before`, after bringing the daily rollups up to date."""
    catch_up_daily_quality(session)
    purged = PurgedRows(before=before)
    old_events = sa.select(FeedbackEvent.id).where(
        FeedbackEvent.created_at < before, FeedbackEvent.kind.in_(TEXT_KINDS)
    )
    old_reviews = sa.or_(
        OperatorReview.created_at < before, OperatorReview.feedback_id.in_(old_events)
    )
    purged.reviews = _count(session.execute(sa.delete(OperatorReview).where(old_reviews)))
    purged.feedback_events = _count(
        session.execute(sa.delete(FeedbackEvent).where(FeedbackEvent.id.in_(old_events)))
    )
    purged.pairs = _count(
        session.execute(sa.delete(PreferencePair).where(PreferencePair.created_at < before))
    )
    purged.messages = _count(
        session.execute(
            sa.update(Message)
            .where(Message.created_at < before, Message.purged_at.is_(None))
            .values(content="", purged_at=utcnow())
        )
    )
    session.commit()
    old_snapshots = select(DatasetSnapshot).where(DatasetSnapshot.created_at < before)
    for snapshot in session.exec(old_snapshots).all():
        if delete_snapshot_files(snapshot):
            snapshot.stats = {**snapshot.stats, "files_purged_at": utcnow().isoformat()}
            session.add(snapshot)
            purged.snapshots.append(str(snapshot.id))
    session.commit()
    return purged


def _count(result: sa.CursorResult) -> int:
    return result.rowcount or 0
