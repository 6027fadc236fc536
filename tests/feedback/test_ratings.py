"""Feedback events and reviews: validation, idempotency, all-or-nothing batches."""

import uuid

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from feedback import (
    log_turn,
    record_feedback,
    record_feedback_batch,
    record_review,
    start_conversation,
)
from feedback.errors import (
    IdempotencyConflict,
    InvalidFeedback,
    InvalidReview,
    UnknownFeedback,
    UnknownMessage,
)
from feedback.models import (
    FeedbackCreate,
    FeedbackEvent,
    FeedbackKind,
    OperatorReview,
    ReviewAction,
)


@pytest.fixture
def answer(session):
    conversation = start_conversation(session, user_id="u1")
    return log_turn(session, conversation_id=conversation.id, prompt="Hi", answer="Go away.")[1]


def count(session, table) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_each_vote_is_its_own_row_with_a_pseudonymous_rater(session, answer):
    record_feedback(session, message_id=answer.id, kind="thumbs", value=1, user_id="rater")
    changed = record_feedback(
        session, message_id=answer.id, kind="thumbs", value=-1, user_id="rater"
    )
    record_feedback(session, message_id=answer.id, kind="stars", value=2, user_id="rater")
    record_feedback(session, message_id=answer.id, kind="correction", text="Hello!", user_id="r")
    record_feedback(session, message_id=answer.id, kind="flag", text="rude", user_id="r")
    record_feedback(session, message_id=answer.id, kind="regenerate", user_id="r")

    assert count(session, FeedbackEvent) == 6
    assert changed.user_pseudonym != "rater" and len(changed.user_pseudonym) == 32
    assert "rater" not in session.exec(select(FeedbackEvent.user_pseudonym)).all()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "stars", "value": 0}, "stars feedback needs a value in"),
        ({"kind": "stars", "value": 6}, "stars feedback needs a value in"),
        ({"kind": "stars"}, "stars feedback needs a value in"),
        ({"kind": "thumbs", "value": 0}, "thumbs feedback needs a value in"),
        ({"kind": "correction", "text": "  "}, "correction feedback needs text"),
        ({"kind": "flag"}, "flag feedback needs text"),
        ({"kind": "regenerate", "value": 1}, "regenerate feedback takes no value"),
        ({"kind": "like", "value": 1}, "kind"),
        ({"kind": "thumbs", "value": 1, "user_id": ""}, "user_id"),
    ],
)
def test_invalid_feedback_is_refused_with_a_reason(session, answer, fields, message):
    fields = {"user_id": "rater"} | fields
    with pytest.raises(InvalidFeedback, match=message):
        record_feedback(session, message_id=answer.id, **fields)
    assert count(session, FeedbackEvent) == 0


def test_feedback_on_an_unknown_message_is_refused(session):
    missing = uuid.uuid4()
    with pytest.raises(UnknownMessage, match=str(missing)):
        record_feedback(session, message_id=missing, kind="thumbs", value=1, user_id="r")


def test_the_same_idempotency_key_stores_one_event(session, answer):
    first = record_feedback(
        session, message_id=answer.id, kind="stars", value=4, user_id="r", idempotency_key="k1"
    )
    retry = record_feedback(
        session, message_id=answer.id, kind="stars", value=4, user_id="r", idempotency_key="k1"
    )
    assert retry.id == first.id
    assert count(session, FeedbackEvent) == 1


def test_a_key_reused_for_another_request_is_a_conflict(session, answer):
    record_feedback(
        session, message_id=answer.id, kind="stars", value=4, user_id="r", idempotency_key="k1"
    )
    with pytest.raises(IdempotencyConflict, match="k1"):
        record_feedback(
            session, message_id=answer.id, kind="stars", value=1, user_id="r", idempotency_key="k1"
        )
    assert count(session, FeedbackEvent) == 1


def test_a_batch_is_all_or_nothing(session, answer):
    events = [
        FeedbackCreate(message_id=answer.id, kind="thumbs", value=1, user_id="a"),
        FeedbackCreate(message_id=uuid.uuid4(), kind="thumbs", value=1, user_id="b"),
    ]
    with pytest.raises(UnknownMessage):
        record_feedback_batch(session, events)
    session.rollback()
    assert count(session, FeedbackEvent) == 0


def test_a_batch_with_a_repeated_key_stores_it_once(session, answer):
    event = FeedbackCreate(
        message_id=answer.id, kind="thumbs", value=-1, user_id="a", idempotency_key="dup"
    )
    stored = record_feedback_batch(session, [event, event])
    assert stored[0] == stored[1]
    assert count(session, FeedbackEvent) == 1


def test_the_database_itself_refuses_out_of_range_values(session, answer):
    """The CHECK constraints hold even for a writer that skips the write API."""
    row = FeedbackEvent(message_id=answer.id, kind=FeedbackKind.stars, value=9, user_pseudonym="x")
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(sa.insert(FeedbackEvent), [row.model_dump()])
        session.commit()


def test_reviews_record_who_did_what(session, answer):
    event = record_feedback(session, message_id=answer.id, kind="thumbs", value=1, user_id="r")
    excluded = record_review(
        session,
        message_id=answer.id,
        feedback_id=event.id,
        action=ReviewAction.exclude,
        reviewer="ops@tuneloop",
        note="troll vote",
    )
    corrected = record_review(
        session, message_id=answer.id, action="correct", reviewer="ops", corrected_text="Hello!"
    )
    assert count(session, OperatorReview) == 2
    assert excluded.reviewer == "ops@tuneloop" and excluded.created_at is not None
    assert corrected.corrected_text == "Hello!"


def test_invalid_reviews_are_refused(session, answer):
    other = log_turn(
        session,
        conversation_id=answer.conversation_id,
        prompt="Hm",
        answer="Yes?",
        parent_id=answer.id,
    )[1]
    event = record_feedback(session, message_id=other.id, kind="thumbs", value=1, user_id="r")
    with pytest.raises(InvalidReview, match="corrected_text"):
        record_review(session, message_id=answer.id, action="correct", reviewer="ops")
    with pytest.raises(InvalidReview, match="is about message"):
        record_review(
            session, message_id=answer.id, feedback_id=event.id, action="exclude", reviewer="ops"
        )
    with pytest.raises(UnknownFeedback):
        record_review(
            session, message_id=answer.id, feedback_id=uuid.uuid4(), action="exclude", reviewer="o"
        )
    with pytest.raises(InvalidReview, match="reviewer"):
        record_review(session, message_id=answer.id, action="approve", reviewer="")
    assert count(session, OperatorReview) == 0
