"""Per-user limits: over one, the API answers 429 with Retry-After and writes nothing."""

import logging
import threading
from datetime import timedelta

import httpx
import pytest

from bot.rate_limits import RateLimited, RateLimits, SlidingWindow
from feedback import log_turn, pseudonymize, record_feedback, start_conversation
from feedback.columns import utcnow
from feedback.models import Conversation, FeedbackEvent, Message
from tests.bot.conftest import count_rows
from tests.bot.test_api import QUESTION

DAY = 24 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sliding_window_admits_the_limit_then_says_when_the_oldest_leaves():
    clock = Clock()
    window = SlidingWindow(2, 60, clock=clock)
    assert window.admit("a") == 0
    clock.now += 10
    assert window.admit("a") == 0
    assert window.admit("b") == 0  # each key has its own window
    clock.now += 20
    assert window.admit("a") == pytest.approx(30)  # the first leaves at 60 s
    assert window.admit("a") == pytest.approx(30)  # a refusal is not counted
    clock.now += 30
    assert window.admit("a") == 0
    assert window.admit("a") == pytest.approx(10)


def test_a_sliding_window_admits_exactly_the_limit_across_threads():
    window = SlidingWindow(50, 60)
    admitted = []

    def hammer() -> None:
        admitted.extend(window.admit("same user") == 0 for _ in range(100))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == 50


def test_a_sliding_window_forgets_users_who_left():
    clock = Clock()
    window = SlidingWindow(1, 60, clock=clock)
    for index in range(1500):
        window.admit(f"early-{index}")
    clock.now += 61
    for index in range(600):
        window.admit(f"late-{index}")
    assert len(window._times) == 600  # the early ones went when the map grew past its bound
    assert window.admit("early-0") == 0


def chat(bot, user: str | None = "alice", **body) -> httpx.Response:
    body = {"messages": QUESTION, "max_tokens": 4} | body | ({"user": user} if user else {})
    return httpx.post(f"{bot.url}/v1/chat/completions", json=body, timeout=60)


def regenerate(bot, message_id: str, user: str = "alice") -> httpx.Response:
    body = {"message_id": message_id, "user": user, "max_tokens": 4}
    return httpx.post(f"{bot.url}/v1/chat/regenerate", json=body, timeout=60)


def rate(bot, message_id: str, user: str = "alice", **body) -> httpx.Response:
    body = {"message_id": message_id, "kind": "thumbs", "value": 1, "user": user} | body
    return httpx.post(f"{bot.url}/v1/feedback", json=body, timeout=60)


def assert_refused(response: httpx.Response, *, at_most: int, fragment: str) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= at_most
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == 429
    assert fragment in error["message"]


def rows(bot) -> tuple[int, int, int]:
    return tuple(count_rows(bot, model) for model in (Conversation, Message, FeedbackEvent))


def test_chat_requests_over_the_minute_limit_are_429_and_write_nothing(governed_bot, caplog):
    with governed_bot(chat_requests_per_minute=2) as bot:
        first = chat(bot)
        assert first.status_code == 200, first.text
        ids = first.json()["tuneloop"]
        assert regenerate(bot, ids["message_id"]).status_code == 200  # counts as a chat request
        before = rows(bot)
        with caplog.at_level(logging.WARNING, logger="bot.rate_limits"):
            refused = [
                chat(bot),
                chat(bot, conversation_id=ids["conversation_id"], parent_id=ids["message_id"]),
                regenerate(bot, ids["message_id"]),
            ]
        for response in refused:
            assert_refused(response, at_most=60, fragment="2 chat requests per minute")
        assert rows(bot) == before
        assert chat(bot, user="bob").status_code == 200  # the limit is per user
        assert chat(bot, user=None).status_code == 200

    refusals = [r for r in caplog.records if r.name == "bot.rate_limits"]
    assert len(refusals) == 3 and all(r.levelno == logging.WARNING for r in refusals)
    with bot.store.session() as session:
        pseudonym = pseudonymize(session, "alice")
    assert all(pseudonym in r.getMessage() for r in refusals)
    assert not any("alice" in r.getMessage() or "return" in r.getMessage() for r in refusals)


def test_feedback_over_the_daily_cap_is_429_and_writes_nothing(governed_bot):
    with governed_bot(feedback_events_per_day=2) as bot:
        message_id = chat(bot).json()["tuneloop"]["message_id"]
        first = rate(bot, message_id, idempotency_key="vote-1")
        assert first.status_code == 201, first.text
        assert rate(bot, message_id, kind="stars", value=4).status_code == 201
        before = rows(bot)

        assert_refused(rate(bot, message_id, value=-1), at_most=DAY, fragment="2 feedback")
        assert_refused(regenerate(bot, message_id), at_most=DAY, fragment="2 feedback")
        assert rows(bot) == before  # no event, and no regenerated answer either
        assert int(rate(bot, message_id, value=-1).headers["Retry-After"]) > DAY - 600

        retry = rate(bot, message_id, idempotency_key="vote-1")  # a retry stores nothing new
        assert retry.status_code == 201 and retry.json()["id"] == first.json()["id"]
        assert rate(bot, message_id, user="bob").status_code == 201


def test_the_feedback_cap_holds_across_replicas(governed_bot):
    with (
        governed_bot(feedback_events_per_day=2) as one,
        governed_bot(feedback_events_per_day=2) as two,
    ):
        message_id = chat(one).json()["tuneloop"]["message_id"]
        assert rate(one, message_id).status_code == 201
        assert rate(two, message_id, value=-1).status_code == 201
        assert_refused(rate(one, message_id), at_most=DAY, fragment="feedback events")
        assert_refused(rate(two, message_id), at_most=DAY, fragment="feedback events")


def test_without_limits_nothing_is_refused(governed_bot):
    with governed_bot() as bot:
        message_id = chat(bot).json()["tuneloop"]["message_id"]
        assert all(chat(bot).status_code == 200 for _ in range(3))
        assert all(rate(bot, message_id).status_code == 201 for _ in range(3))


def test_the_daily_cap_counts_the_last_24_hours_and_frees_when_the_oldest_leaves(store):
    limits = RateLimits(store, feedback_events_per_day=2)
    with store.session() as session:
        conversation = start_conversation(session, user_id="alice")
        _, answer = log_turn(session, conversation_id=conversation.id, prompt="Hi", answer="Hello")
        old, older, recent = (
            record_feedback(session, message_id=answer.id, kind="thumbs", value=1, user_id="alice")
            for _ in range(3)
        )
        for event, hours in ((older, 25), (old, 23)):
            event.created_at = utcnow() - timedelta(hours=hours)
            session.add(event)
        session.commit()

        with pytest.raises(RateLimited) as refused:
            limits.admit_feedback(session, user_id="alice")
        assert 3500 < refused.value.retry_after <= 3600  # when the one of 23 hours ago leaves
        limits.admit_feedback(session, user_id="bob")
        recent.created_at = utcnow() - timedelta(hours=30)
        session.add(recent)
        session.commit()
        limits.admit_feedback(session, user_id="alice")
