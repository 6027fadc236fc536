"""Keep the dashboards' rollups: quality per day and version, and the raters' trust.

Aggregating a million messages takes seconds; reading a rollup takes milliseconds. The
nightly run rebuilds the daily counts; a dashboard adds what came in since, as it reads.
"""

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, delete

from feedback.columns import utcnow
from feedback.models import (
    DailyQuality,
    FeedbackEvent,
    FeedbackKind,
    Message,
    RaterTrustRecord,
    Role,
    RollupWatermark,
)
from feedback.trust import RaterTrust

DAILY_QUALITY = "daily_quality"
SETTLE = timedelta(seconds=10)
COUNTS = (
    "answers",
    "ups",
    "thumbs",
    "stars_sum",
    "stars_n",
    "regenerates",
    "user_messages",
    "sentiment_sum",
)


def rebuild_daily_quality(session: Session, *, settle: timedelta = SETTLE) -> int:
    """Recount every day from scratch (the nightly run does); returns the rows written."""
    upto = utcnow() - settle
    counts = _count(session, Message.created_at <= upto, FeedbackEvent.created_at <= upto)
    session.exec(delete(DailyQuality))
    session.add_all(counts.values())
    _move_watermark(session, old=None, new=upto)
    session.commit()
    return len(counts)


def catch_up_daily_quality(session: Session, *, settle: timedelta = SETTLE) -> int:
    """Add what was written since the last count (a dashboard does, as it reads); returns the
    rows touched. Rows younger than `settle` wait for the next call: a writer may still be
    committing rows stamped just before now."""
    watermark = session.get(RollupWatermark, DAILY_QUALITY)
    if watermark is None:
        return rebuild_daily_quality(session, settle=settle)
    since, upto = watermark.upto, utcnow() - settle
    if upto <= since:
        return 0
    counts = _count(
        session,
        sa.and_(Message.created_at > since, Message.created_at <= upto),
        sa.and_(FeedbackEvent.created_at > since, FeedbackEvent.created_at <= upto),
    )
    if not _move_watermark(session, old=since, new=upto):
        session.rollback()  # another reader caught up on this stretch first
        return 0
    for key, increment in counts.items():
        row = session.get(DailyQuality, key) or DailyQuality(day=key[0], model_version_id=key[1])
        for field in COUNTS:
            setattr(row, field, getattr(row, field) + getattr(increment, field))
        session.add(row)
    session.commit()
    return len(counts)


def _count(session: Session, new_messages, new_feedback) -> dict[tuple[date, int], DailyQuality]:
    """Answers, ratings and user sentiment per (day, version): `new_messages` selects the
    messages counted, `new_feedback` the feedback counted (by the day and version of the answer
    it rates). Answers the serving guard withheld were never shown and do not count; a user
    message counts for the version whose answer it replies to."""
    day = sa.func.date(Message.created_at)
    answers = session.execute(
        sa.select(day, Message.model_version_id, sa.func.count())
        .where(Message.role == Role.assistant, Message.guard_flags.is_(None), new_messages)
        .group_by(day, Message.model_version_id)
    ).all()
    replied_to = aliased(Message)
    sentiment = session.execute(
        sa.select(day, replied_to.model_version_id, sa.func.count(), sa.func.sum(Message.sentiment))
        .join(replied_to, replied_to.id == Message.parent_id)
        .where(Message.role == Role.user, Message.sentiment.is_not(None), new_messages)
        .group_by(day, replied_to.model_version_id)
    ).all()
    thumbs = FeedbackEvent.kind == FeedbackKind.thumbs
    stars = FeedbackEvent.kind == FeedbackKind.stars
    ratings = session.execute(
        sa.select(
            day,
            Message.model_version_id,
            sa.func.sum(sa.case((sa.and_(thumbs, FeedbackEvent.value == 1), 1), else_=0)),
            sa.func.sum(sa.case((thumbs, 1), else_=0)),
            sa.func.sum(sa.case((stars, FeedbackEvent.value), else_=0)),
            sa.func.sum(sa.case((stars, 1), else_=0)),
            sa.func.sum(sa.case((FeedbackEvent.kind == FeedbackKind.regenerate, 1), else_=0)),
        )
        .join(Message, Message.id == FeedbackEvent.message_id)
        .where(Message.role == Role.assistant, new_feedback)
        .group_by(day, Message.model_version_id)
    ).all()
    counts: dict[tuple[date, int], DailyQuality] = {}

    def row(raw_day, version) -> DailyQuality:
        key = (_as_date(raw_day), version or 0)
        return counts.setdefault(key, DailyQuality(day=key[0], model_version_id=key[1]))

    for raw_day, version, answered in answers:
        row(raw_day, version).answers = answered
    for raw_day, version, *figures in ratings:
        target = row(raw_day, version)
        target.ups, target.thumbs, target.stars_sum, target.stars_n, target.regenerates = figures
    for raw_day, version, messages, total in sentiment:
        target = row(raw_day, version)
        target.user_messages, target.sentiment_sum = messages, float(total)
    return counts


def _move_watermark(session: Session, *, old: datetime | None, new: datetime) -> bool:
    """Move the watermark from `old` to `new`; False when someone else moved it first."""
    if old is None:
        session.merge(RollupWatermark(name=DAILY_QUALITY, upto=new))
        return True
    moved = session.execute(
        sa.update(RollupWatermark)
        .where(RollupWatermark.name == DAILY_QUALITY, RollupWatermark.upto == old)
        .values(upto=new)
    )
    return moved.rowcount == 1


def save_rater_trust(session: Session, trust: dict[str, RaterTrust]) -> None:
    """Replace the stored trust with this run's, so that operators see what training used."""
    now = utcnow()
    session.exec(delete(RaterTrustRecord))
    session.add_all(
        RaterTrustRecord(
            user_pseudonym=rater.user_pseudonym,
            votes=rater.votes,
            disagreement=rater.disagreement,
            toxic_reward_share=rater.toxic_reward_share,
            weight=rater.weight,
            reasons="; ".join(rater.reasons)[:512],
            computed_at=now,
        )
        for rater in trust.values()
    )
    session.commit()


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
