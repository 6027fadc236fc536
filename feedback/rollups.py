"""Keep the dashboards' rollups: quality per day and version, and the raters' trust.

Aggregating a million messages takes seconds; reading a rollup takes milliseconds. The
nightly run rebuilds them; a dashboard refreshes the last two days as it reads.
"""

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, delete, select

from feedback.columns import utcnow
from feedback.models import (
    DailyQuality,
    FeedbackEvent,
    FeedbackKind,
    Message,
    RaterTrustRecord,
    Role,
)
from feedback.trust import RaterTrust


def refresh_daily_quality(session: Session, *, since: date | None = None) -> int:
    """Recompute the rollup from `since` (every day without it); returns the rows written."""
    day = sa.func.date(Message.created_at).label("day")
    recent = Message.role == Role.assistant
    if since is not None:
        recent = sa.and_(
            recent,
            Message.created_at
            >= datetime(since.year, since.month, since.day, tzinfo=utcnow().tzinfo),
        )
    answers = session.execute(
        sa.select(day, Message.model_version_id, sa.func.count())
        .where(recent)
        .group_by(day, Message.model_version_id)
    ).all()
    thumbs, stars = (
        FeedbackEvent.kind == FeedbackKind.thumbs,
        FeedbackEvent.kind == FeedbackKind.stars,
    )
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
        .where(recent)
        .group_by(day, Message.model_version_id)
    ).all()
    rows: dict[tuple[date, int], DailyQuality] = {}
    for row_day, version, count in answers:
        key = (_as_date(row_day), version or 0)
        rows[key] = DailyQuality(day=key[0], model_version_id=key[1], answers=count)
    for row_day, version, ups, thumbs_n, stars_sum, stars_n, regenerates in ratings:
        row = rows.get((_as_date(row_day), version or 0))
        if row is not None:
            row.ups, row.thumbs, row.regenerates = ups, thumbs_n, regenerates
            row.stars_sum, row.stars_n = stars_sum, stars_n
    stale = delete(DailyQuality)
    if since is not None:
        stale = stale.where(DailyQuality.day >= since)
    try:
        session.exec(stale)
        session.add_all(rows.values())
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()  # another dashboard refreshed the same days at the same moment
    return len(rows)


def has_daily_quality(session: Session) -> bool:
    return session.exec(select(DailyQuality.day).limit(1)).first() is not None


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
