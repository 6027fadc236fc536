"""Canary checks on a real store: decisions are rows with their numbers, acted on at once, and
posted to a webhook (a local HTTP server here)."""

import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.server import free_port
from feedback import (
    activate,
    active_model_version,
    canary_model_version,
    log_turn,
    record_feedback,
    register_model_version,
    start_conversation,
)
from feedback.columns import utcnow
from feedback.models import CanaryDecision, CanaryOutcome, CanaryPhase, Message, ModelStatus
from trainer.canary import CanaryPlan, check, launch
from trainer.canary_rule import Policy

QUICK = Policy(confidence=0.95, margin=0.3, min_rated=40)


@pytest.fixture
def webhook():
    """A local HTTP server that keeps the JSON bodies posted to it."""
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/canary", received
    server.shutdown()
    server.server_close()


def rated_answers(session, version, *, ups: int, downs: int, at=None) -> None:
    """`ups + downs` answers by `version`, each rated by its user (written at `at`, if given)."""
    for index in range(ups + downs):
        conversation = start_conversation(session, user_id=f"user-{version.name}-{index}")
        _, answer = log_turn(
            session,
            conversation_id=conversation.id,
            prompt="Where is my order?",
            answer="On its way.",
            model_version_id=version.id,
        )
        record_feedback(
            session,
            message_id=answer.id,
            kind="thumbs",
            value=1 if index < ups else -1,
            user_id=f"user-{index}",
        )
        if at is not None:
            session.execute(
                sa.update(Message)
                .where(Message.conversation_id == conversation.id)
                .values(created_at=at)
            )
            session.commit()


def two_versions(session):
    active = register_model_version(session, name="active", path="/m/a")
    activate(session, active.id)
    return active, register_model_version(session, name="candidate", path="/m/b")


def test_a_worse_canary_is_rolled_back_and_the_webhook_hears_it(session, webhook):
    url, received = webhook
    plan = CanaryPlan(policy=QUICK, share=0.5, webhook_url=url)
    active, candidate = two_versions(session)
    started = launch(session, candidate, plan=plan, trigger="nightly")
    assert started.reason == "serves 50% of new conversations as the canary"
    rated_answers(session, candidate, ups=2, downs=28)
    rated_answers(session, active, ups=24, downs=6)

    decision = check(session, plan, trigger="ratings")
    assert decision.outcome == CanaryOutcome.rollback and decision.phase == CanaryPhase.canary
    assert decision.reason.startswith("worse thumbs-up rate: 6.7% against 80.0%")
    assert decision.numbers["thumbs_up"]["canary"] == {"hits": 2, "n": 30, "rate": 2 / 30}
    assert decision.numbers["thumbs_up"]["high"] < 0
    assert session.get(type(candidate), candidate.id).status == ModelStatus.rejected
    assert active_model_version(session).id == active.id and canary_model_version(session) is None
    assert [post["outcome"] for post in received] == ["start", "rollback"]
    posted = received[-1]
    assert posted["version"]["name"] == "candidate"
    assert posted["baseline"] == {"id": active.id, "name": "active"}
    assert posted["numbers"]["thumbs_up"]["baseline"]["hits"] == 24
    assert check(session, plan, trigger="schedule") is None  # nothing left to watch


def test_a_canary_as_good_as_the_active_is_promoted_then_watched_and_kept(session):
    plan = CanaryPlan(policy=QUICK, share=0.5, watch=timedelta(hours=1))
    active, candidate = two_versions(session)
    launch(session, candidate, plan=plan, trigger="nightly")
    rated_answers(session, candidate, ups=20, downs=10)
    rated_answers(session, active, ups=20, downs=10)
    waiting = check(session, plan, trigger="schedule")
    assert waiting.outcome == CanaryOutcome.wait and "30 of 40" in waiting.reason
    rated_answers(session, candidate, ups=30, downs=10)
    rated_answers(session, active, ups=30, downs=10)

    promoted = check(session, plan, trigger="ratings")
    assert promoted.outcome == CanaryOutcome.promote
    assert active_model_version(session).id == candidate.id
    watching = check(session, plan, trigger="schedule")
    assert (watching.phase, watching.outcome) == (CanaryPhase.watch, CanaryOutcome.wait)
    assert watching.baseline_version_id == active.id
    kept = check(session, plan, trigger="schedule", now=utcnow() + timedelta(hours=2))
    assert kept.outcome == CanaryOutcome.keep and kept.reason.startswith("kept: no significant")
    assert check(session, plan, trigger="schedule") is None  # the watch is over
    outcomes = session.exec(select(CanaryDecision.outcome).order_by(CanaryDecision.id)).all()
    assert outcomes == ["start", "wait", "promote", "wait", "keep"]


def test_a_drop_after_a_promotion_rolls_back_to_the_previous_version(session, webhook):
    url, received = webhook
    plan = CanaryPlan(policy=QUICK, share=0.0, watch=timedelta(hours=24), webhook_url=url)
    previous, candidate = two_versions(session)
    rated_answers(session, previous, ups=25, downs=5, at=utcnow() - timedelta(hours=2))
    promoted = launch(session, candidate, plan=plan, trigger="nightly")  # no canary traffic
    assert promoted.outcome == CanaryOutcome.promote
    assert active_model_version(session).id == candidate.id
    rated_answers(session, candidate, ups=3, downs=27)

    decision = check(session, plan, trigger="schedule")
    assert (decision.phase, decision.outcome) == (CanaryPhase.watch, CanaryOutcome.rollback)
    assert active_model_version(session).id == previous.id
    assert session.get(type(candidate), candidate.id).status == ModelStatus.rejected
    assert [post["outcome"] for post in received] == ["promote", "rollback"]


def test_an_undecided_canary_expires_and_is_rolled_back(session):
    plan = CanaryPlan(policy=QUICK, share=0.5, expire=timedelta(hours=72))
    active, candidate = two_versions(session)
    launch(session, candidate, plan=plan, trigger="nightly")
    rated_answers(session, candidate, ups=3, downs=3)
    decision = check(session, plan, trigger="schedule", now=utcnow() + timedelta(hours=73))
    assert decision.outcome == CanaryOutcome.rollback
    assert decision.reason.startswith("expired after 72 h without a decision (waiting")
    assert canary_model_version(session) is None and active_model_version(session).id == active.id


def test_a_webhook_that_fails_is_logged_and_the_decision_stands(session, caplog):
    plan = CanaryPlan(
        policy=QUICK, share=0.5, webhook_url=f"http://127.0.0.1:{free_port('127.0.0.1')}/x"
    )
    _, candidate = two_versions(session)
    launch(session, candidate, plan=plan, trigger="nightly")
    with caplog.at_level(logging.WARNING, logger="trainer.canary_webhook"):
        decision = check(session, plan, trigger="schedule", now=utcnow() + timedelta(days=9))
    assert decision.outcome == CanaryOutcome.rollback
    assert canary_model_version(session) is None
    assert "the canary webhook" in caplog.text


def test_a_new_candidate_supersedes_a_canary_still_under_comparison(session):
    plan = CanaryPlan(policy=QUICK, share=0.5)
    _, first = two_versions(session)
    launch(session, first, plan=plan, trigger="nightly")
    second = register_model_version(session, name="second", path="/m/c")
    launch(session, second, plan=plan, trigger="nightly")
    assert canary_model_version(session).id == second.id
    assert session.get(type(first), first.id).status == ModelStatus.rejected
    outcomes = session.exec(
        select(CanaryDecision.version_id, CanaryDecision.outcome, CanaryDecision.reason)
    ).all()
    assert (first.id, "rollback", "superseded by second") in outcomes
