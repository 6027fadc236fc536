"""Several processes writing at once: every row arrives once, retries and races included."""

import multiprocessing
import uuid

import pytest
from sqlmodel import func, select

from feedback import Store, log_turn, make_engine, record_feedback, start_conversation
from feedback.models import FeedbackEvent, Message

WORKERS, TURNS, TURNS_PER_CONVERSATION = 4, 500, 25
KEY = b"concurrency-test-pseudonym-key"


def chat_and_rate(url: str, worker: int, shared_message_id: uuid.UUID) -> dict[str, str]:
    """One bot replica: log turns, rate each answer (with a client retry), and race the others
    on the shared keys. Returns the event id it got back for each shared key."""
    store = Store(make_engine(url), pseudonym_key=KEY)
    shared_ids = {}
    with store.session() as session:
        for turn in range(TURNS):
            if turn % TURNS_PER_CONVERSATION == 0:
                conversation, parent = start_conversation(session, user_id=f"user-{worker}"), None
            _, answer = log_turn(
                session,
                conversation_id=conversation.id,
                prompt=f"question {worker}-{turn}",
                answer=f"answer {worker}-{turn}",
                parent_id=parent,
            )
            parent = answer.id
            rating = dict(
                message_id=answer.id,
                kind="stars",
                value=1 + turn % 5,
                user_id=f"user-{worker}",
                idempotency_key=f"own-{worker}-{turn}",
            )
            first, retry = record_feedback(session, **rating), record_feedback(session, **rating)
            assert retry.id == first.id
            shared = record_feedback(
                session,
                message_id=shared_message_id,
                kind="thumbs",
                value=1,
                user_id="everyone",
                idempotency_key=f"shared-{turn}",
            )
            shared_ids[f"shared-{turn}"] = str(shared.id)
    store.dispose()
    return shared_ids


@pytest.mark.slow
def test_four_writers_lose_nothing_and_duplicate_nothing(store, database_url):
    with store.session() as session:
        conversation = start_conversation(session, user_id="setup")
        _, shared = log_turn(session, conversation_id=conversation.id, prompt="Hi", answer="Hello")

    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        results = pool.starmap(
            chat_and_rate, [(database_url, worker, shared.id) for worker in range(WORKERS)]
        )

    with store.session() as session:
        messages = session.exec(select(func.count()).select_from(Message)).one()
        keys = session.exec(select(FeedbackEvent.idempotency_key)).all()
    assert messages == 2 + WORKERS * TURNS * 2
    assert len(keys) == len(set(keys)) == WORKERS * TURNS + TURNS
    # Every writer that raced on a shared key got back the one event that was stored.
    assert all(result == results[0] for result in results)
