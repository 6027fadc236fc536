"""Conversations and turns: branching, retries, pseudonyms, and clear errors that write nothing."""

import uuid
from datetime import UTC

import pytest
from sqlmodel import func, select

from feedback import log_turn, log_turns, pseudonymize, register_model_version, start_conversation
from feedback.errors import InvalidTurn, UnknownConversation
from feedback.models import Conversation, Message, Role, TurnCreate


def count(session, table) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_user_ids_are_stored_only_as_pseudonyms(session):
    conversation = start_conversation(session, user_id="alice@example.com")
    again = start_conversation(session, user_id="alice@example.com")
    other = start_conversation(session, user_id="bob@example.com")

    stored = session.exec(select(Conversation.user_pseudonym)).all()
    assert "alice@example.com" not in stored
    assert conversation.user_pseudonym == again.user_pseudonym != other.user_pseudonym
    assert conversation.user_pseudonym == pseudonymize(session, "alice@example.com")


def test_turns_chain_through_parents_and_keep_their_details(session):
    version = register_model_version(session, name="base", path="/models/base")
    conversation = start_conversation(session, user_id="u1")
    question, answer = log_turn(
        session,
        conversation_id=conversation.id,
        prompt="Where is my order?",
        answer="It ships tomorrow.",
        model_version_id=version.id,
        sampling={"temperature": 0.7, "top_p": 0.9},
        latency_ms=123.5,
        prompt_tokens=12,
        completion_tokens=5,
    )
    follow_up, second = log_turn(
        session,
        conversation_id=conversation.id,
        prompt="Thanks!",
        answer="You are welcome.",
        parent_id=answer.id,
    )
    session.expunge_all()

    stored = session.get(Message, answer.id)
    assert (question.role, question.parent_id) == (Role.user, None)
    assert stored.parent_id == question.id and stored.role == Role.assistant
    assert stored.sampling == {"temperature": 0.7, "top_p": 0.9}
    assert (stored.latency_ms, stored.prompt_tokens, stored.completion_tokens) == (123.5, 12, 5)
    assert stored.model_version_id == version.id
    assert stored.created_at.tzinfo == UTC
    assert session.get(Message, follow_up.id).parent_id == answer.id
    assert session.get(Message, second.id).parent_id == follow_up.id


def test_a_regenerated_answer_is_a_sibling_of_the_first(session):
    conversation = start_conversation(session, user_id="u1")
    question, first = log_turn(
        session, conversation_id=conversation.id, prompt="Hours?", answer="Whatever."
    )
    none, regenerated = log_turn(
        session, conversation_id=conversation.id, answer="9 to 5.", parent_id=question.id
    )
    assert none is None
    assert regenerated.parent_id == first.parent_id == question.id
    assert count(session, Message) == 3


def test_a_retried_turn_is_stored_once(session):
    conversation = start_conversation(session, user_id="u1")
    turn = TurnCreate(conversation_id=conversation.id, prompt="Hi", answer="Hello!")
    first = log_turns(session, [turn])
    retry = log_turns(session, [turn])
    assert count(session, Message) == 2
    assert retry[0][1].id == first[0][1].id == turn.answer_id


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prompt": "   ", "answer": "Hello"}, "prompt"),
        ({"prompt": "", "answer": "Hello"}, "prompt"),
        ({"answer": "Hello"}, "regenerated answer needs parent_id"),
        ({"prompt": "Hi", "answer": "Hello", "parent_id": uuid.uuid4()}, "does not exist"),
        ({"prompt": "Hi", "answer": "Hello", "latency_ms": -1}, "latency_ms"),
    ],
)
def test_invalid_turns_are_refused_with_a_reason(session, fields, message):
    conversation = start_conversation(session, user_id="u1")
    with pytest.raises(InvalidTurn, match=message):
        log_turn(session, conversation_id=conversation.id, **fields)
    session.rollback()
    assert count(session, Message) == 0


def test_a_parent_from_another_conversation_is_refused(session):
    first = start_conversation(session, user_id="u1")
    second = start_conversation(session, user_id="u1")
    _, answer = log_turn(session, conversation_id=first.id, prompt="Hi", answer="Hello")
    with pytest.raises(InvalidTurn, match="another conversation"):
        log_turn(session, conversation_id=second.id, prompt="Hi", answer="Hey", parent_id=answer.id)


def test_a_batch_with_one_bad_turn_writes_nothing(session):
    conversation = start_conversation(session, user_id="u1")
    turns = [
        TurnCreate(conversation_id=conversation.id, prompt="Hi", answer="Hello"),
        TurnCreate(conversation_id=uuid.uuid4(), prompt="Hi", answer="Hello"),
    ]
    with pytest.raises(UnknownConversation):
        log_turns(session, turns)
    session.rollback()
    assert count(session, Message) == 0
