"""The daily quality rollup: a rebuild equals a direct count; catching up adds only what is new."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from feedback import log_turn, record_feedback, register_model_version, start_conversation
from feedback.models import DailyQuality, FeedbackEvent, Message
from feedback.rollups import catch_up_daily_quality, rebuild_daily_quality

NOW = timedelta(0)  # count rows up to this very moment


def answer(session, *, version_id, when, thumbs=None, stars=None):
    """An answer, and its ratings, written as if at `when`."""
    conversation = start_conversation(session, user_id="u")
    _, reply = log_turn(
        session,
        conversation_id=conversation.id,
        prompt="Hi?",
        answer="Hello.",
        model_version_id=version_id,
    )
    for kind, value in (("thumbs", thumbs), ("stars", stars)):
        if value is not None:
            record_feedback(session, message_id=reply.id, kind=kind, value=value, user_id="u")
    session.execute(sa.update(Message).where(Message.id == reply.id).values(created_at=when))
    session.execute(
        sa.update(FeedbackEvent).where(FeedbackEvent.message_id == reply.id).values(created_at=when)
    )
    session.commit()


def rollup(session) -> dict:
    return {(r.day, r.model_version_id): r for r in session.exec(select(DailyQuality)).all()}


def figures(row) -> tuple:
    return (row.answers, row.ups, row.thumbs, row.stars_sum, row.stars_n)


def test_a_rebuild_counts_answers_and_ratings_per_day_and_version(session):
    version = register_model_version(session, name="v1", path="/m")
    today = datetime.now(UTC) - timedelta(minutes=1)
    yesterday = today - timedelta(days=1)
    answer(session, version_id=version.id, when=yesterday, thumbs=1, stars=5)
    answer(session, version_id=version.id, when=yesterday, thumbs=-1)
    answer(session, version_id=None, when=today, stars=2)

    assert rebuild_daily_quality(session, settle=NOW) == 2
    rows = rollup(session)
    assert figures(rows[(yesterday.date(), version.id)]) == (2, 1, 2, 5, 1)
    assert figures(rows[(today.date(), 0)]) == (1, 0, 0, 2, 1)


def test_catching_up_adds_only_what_came_in_since(session):
    version = register_model_version(session, name="v1", path="/m")
    earlier = datetime.now(UTC) - timedelta(minutes=10)
    answer(session, version_id=version.id, when=earlier, thumbs=1)
    assert catch_up_daily_quality(session, settle=NOW) == 1  # the first look rebuilds
    assert catch_up_daily_quality(session, settle=NOW) == 0  # nothing new: nothing added

    answer(session, version_id=version.id, when=datetime.now(UTC), thumbs=-1, stars=4)
    catch_up_daily_quality(session, settle=NOW)
    [row] = rollup(session).values()
    assert figures(row) == (2, 1, 2, 4, 1)
    rebuild_daily_quality(session, settle=NOW)  # a recount agrees with the running total
    assert figures(next(iter(rollup(session).values()))) == (2, 1, 2, 4, 1)


def test_rows_still_settling_wait_for_the_next_catch_up(session):
    version = register_model_version(session, name="v1", path="/m")
    answer(session, version_id=version.id, when=datetime.now(UTC), thumbs=1)
    catch_up_daily_quality(session, settle=timedelta(minutes=5))
    assert rollup(session) == {}
    catch_up_daily_quality(session, settle=NOW)
    assert figures(next(iter(rollup(session).values()))) == (1, 1, 1, 0, 0)


def test_user_replies_count_their_sentiment_for_the_version_they_reply_to(session):
    first = register_model_version(session, name="v1", path="/m")
    second = register_model_version(session, name="v2", path="/m")
    conversation = start_conversation(session, user_id="u")
    _, hello = log_turn(
        session,
        conversation_id=conversation.id,
        prompt="Hi?",
        answer="Hello.",
        model_version_id=first.id,
        prompt_sentiment=0.0,
    )
    _, vague = log_turn(
        session,
        conversation_id=conversation.id,
        parent_id=hello.id,
        prompt="Thanks, great!",
        answer="It depends.",
        model_version_id=second.id,
        prompt_sentiment=0.8,
    )
    log_turn(
        session,
        conversation_id=conversation.id,
        parent_id=vague.id,
        prompt="That is useless.",
        answer="Sorry.",
        model_version_id=second.id,
        prompt_sentiment=-0.6,
    )

    rebuild_daily_quality(session, settle=NOW)
    rows = {version: row for (_, version), row in rollup(session).items()}
    # The opening message replies to nothing; each later one replies to the answer before it.
    assert (rows[first.id].user_messages, rows[first.id].sentiment_sum) == (1, 0.8)
    assert rows[second.id].user_messages == 1
    assert rows[second.id].sentiment_sum == pytest.approx(-0.6)


def test_answers_the_guard_withheld_are_not_counted_as_answers(session):
    version = register_model_version(session, name="v1", path="/m")
    conversation = start_conversation(session, user_id="u")
    question, _ = log_turn(
        session,
        conversation_id=conversation.id,
        prompt="Hi?",
        answer="Hello.",
        model_version_id=version.id,
    )
    log_turn(
        session,
        conversation_id=conversation.id,
        parent_id=question.id,
        answer="You idiot.",
        model_version_id=version.id,
        guard_flags=["toxicity", "insult"],
    )

    rebuild_daily_quality(session, settle=NOW)
    [row] = rollup(session).values()
    assert row.answers == 1
