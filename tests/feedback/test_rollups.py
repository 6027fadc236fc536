"""The daily quality rollup equals a direct count, and a partial refresh keeps older days."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import select

from feedback import log_turn, record_feedback, register_model_version, start_conversation
from feedback.models import DailyQuality, Message
from feedback.rollups import has_daily_quality, refresh_daily_quality


def answer(session, *, version_id, when, thumbs=None, stars=None):
    conversation = start_conversation(session, user_id="u")
    _, reply = log_turn(
        session,
        conversation_id=conversation.id,
        prompt="Hi?",
        answer="Hello.",
        model_version_id=version_id,
    )
    if thumbs is not None:
        record_feedback(session, message_id=reply.id, kind="thumbs", value=thumbs, user_id="u")
    if stars is not None:
        record_feedback(session, message_id=reply.id, kind="stars", value=stars, user_id="u")
    session.execute(sa.update(Message).where(Message.id == reply.id).values(created_at=when))
    session.commit()


def rollup(session) -> dict:
    rows = session.exec(select(DailyQuality)).all()
    return {(row.day, row.model_version_id): row for row in rows}


def test_the_rollup_counts_answers_and_ratings_per_day_and_version(session):
    version = register_model_version(session, name="v1", path="/m")
    today = datetime.now(UTC).replace(hour=12)
    yesterday = today - timedelta(days=1)
    answer(session, version_id=version.id, when=yesterday, thumbs=1, stars=5)
    answer(session, version_id=version.id, when=yesterday, thumbs=-1)
    answer(session, version_id=None, when=today, stars=2)
    assert not has_daily_quality(session)

    assert refresh_daily_quality(session) == 2
    rows = rollup(session)
    old = rows[(yesterday.date(), version.id)]
    assert (old.answers, old.ups, old.thumbs, old.stars_sum, old.stars_n) == (2, 1, 2, 5, 1)
    new = rows[(today.date(), 0)]
    assert (new.answers, new.thumbs, new.stars_sum, new.stars_n) == (1, 0, 2, 1)

    answer(session, version_id=version.id, when=today, thumbs=1)
    refresh_daily_quality(session, since=today.date())
    rows = rollup(session)
    assert rows[(yesterday.date(), version.id)].answers == 2  # untouched
    assert rows[(today.date(), version.id)].ups == 1
    assert refresh_daily_quality(session, since=today.date()) == 2  # idempotent
    assert len(rollup(session)) == 3
