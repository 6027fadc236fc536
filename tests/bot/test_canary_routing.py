"""Canary traffic: sticky routing by user and conversation, and an automatic rollback during live
traffic (through the real `openai` client) that fails no request and mixes no versions."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from sqlmodel import select

from bot.hotswap import ModelSlot, in_canary
from bot.server import BackgroundServer
from feedback import register_model_version, start_canary
from feedback.models import CanaryDecision, CanaryOutcome, Message, ModelStatus, ModelVersion
from tests.conftest import SYSTEM_PROMPT
from tuneloop.serving import build_bot
from tuneloop.settings import Settings

QUESTION = [{"role": "user", "content": "Where are your stores?"}]


def test_a_fixed_share_of_keys_goes_to_the_canary_and_each_canary_draws_afresh():
    keys = [f"user-{index}" for index in range(10_000)]
    first = {key for key in keys if in_canary(key, 7, 0.2)}
    assert 0.18 < len(first) / len(keys) < 0.22
    assert first == {key for key in keys if in_canary(key, 7, 0.2)}  # sticky
    second = {key for key in keys if in_canary(key, 8, 0.2)}
    assert 0.1 < len(first & second) / len(first) < 0.3  # a new canary, a new sample


def test_a_follow_up_stays_with_the_version_that_answered_while_it_serves(tiny_engine):
    slot = ModelSlot(tiny_engine, canary_share=0.5)
    assert slot.route(key="anyone") is tiny_engine
    # The version that wrote the followed answer is no longer served: the key decides.
    assert slot.route(key="anyone", version_id=999) is tiny_engine


@pytest.fixture
def canary_bot(bot_store, tiny_model_dir):
    """The live bot's store with a second copy of the tiny model as the canary on half of the
    conversations; the canary is checked after every 4 rated answers."""
    with bot_store.session() as session:
        canary = register_model_version(session, name="tiny-canary", path=str(tiny_model_dir))
        start_canary(session, canary.id)
    settings = Settings.model_validate(
        {
            "bot": {"system_prompt": SYSTEM_PROMPT, "context_tokens": 256, "max_new_tokens": 6},
            "canary": {"share": 0.5, "check_every": 4, "min_rated": 1000},
        }
    )
    app, slot, logger = build_bot(settings, bot_store)
    with BackgroundServer(app) as server:
        yield server.url, slot, canary.id
    logger.close()


def test_users_and_conversations_stick_to_their_version(canary_bot):
    url, slot, canary_id = canary_bot
    bot = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    assert slot.canary.version_id == canary_id
    served = {}
    for index in range(12):
        user = f"user-{index}"
        versions = set()
        for _ in range(2):  # two conversations of the same user
            first = bot.chat.completions.create(model="t", messages=QUESTION, user=user)
            ids = first.model_extra["tuneloop"]
            follow_up = bot.chat.completions.create(
                model="t",
                messages=[*QUESTION, {"role": "assistant", "content": "?"}, *QUESTION],
                extra_body={
                    "conversation_id": ids["conversation_id"],
                    "parent_id": ids["message_id"],
                },
            )  # no user: the answer followed decides
            versions |= {
                ids["model_version_id"],
                follow_up.model_extra["tuneloop"]["model_version_id"],
            }
        assert len(versions) == 1, user
        served[user] = versions.pop()
    assert set(served.values()) == {slot.engine.version_id, canary_id}  # both serve someone


def test_a_rollback_during_live_traffic_fails_no_request_and_mixes_no_versions(
    canary_bot, bot_store
):
    """Users rate the canary's answers down and the active model's up; the bot's own check
    rolls the canary back mid-traffic. Every request succeeds, and every logged answer carries
    the version whose engine wrote it (the response's model name says which)."""
    url, slot, canary_id = canary_bot
    active_id = slot.engine.version_id
    names = {active_id: slot.engine.name, canary_id: "tiny-canary"}
    answers, failures, stop = [], [], threading.Event()

    def user(index: int) -> None:
        bot = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        turn = 0
        while not stop.is_set():
            turn += 1
            try:
                completion = bot.chat.completions.create(
                    model="t", messages=QUESTION, user=f"user-{index}-{turn}", max_tokens=4
                )
                ids = completion.model_extra["tuneloop"]
                answers.append((ids, completion.model))
                thumb = -1 if ids["model_version_id"] == canary_id else 1
                httpx.post(
                    f"{url}/v1/feedback",
                    json={"message_id": ids["message_id"], "kind": "thumbs", "value": thumb},
                    timeout=60,
                ).raise_for_status()
            except Exception as exc:  # any failure fails the test below
                failures.append(exc)

    with ThreadPoolExecutor(4) as pool:
        for index in range(4):
            pool.submit(user, index)
        deadline = time.monotonic() + 120
        while slot.canary is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        rolled_back_at = len(answers)
        while len(answers) < rolled_back_at + 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()

    assert not failures
    assert slot.canary is None
    with bot_store.session() as session:
        assert session.get(ModelVersion, canary_id).status == ModelStatus.rejected
        [decision] = session.exec(
            select(CanaryDecision).where(CanaryDecision.outcome == CanaryOutcome.rollback)
        ).all()
        assert decision.trigger == "ratings" and "worse thumbs-up rate" in decision.reason
    assert {ids["model_version_id"] for ids, _ in answers[:rolled_back_at]} == {
        active_id,
        canary_id,
    }
    assert {ids["model_version_id"] for ids, _ in answers[rolled_back_at + 4 :]} == {active_id}
    wait_until_logged(bot_store, answers)
    with bot_store.session() as session:
        for ids, model in answers:
            logged = session.get(Message, uuid.UUID(ids["message_id"]))
            assert logged.model_version_id == ids["model_version_id"]
            assert names[logged.model_version_id] == model  # the engine that wrote it


def wait_until_logged(store, answers, timeout: float = 30) -> None:
    """Wait until every answer's row is written (the turn logger writes in the background)."""
    wanted = {uuid.UUID(ids["message_id"]) for ids, _ in answers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.session() as session:
            found = session.exec(select(Message.id).where(Message.id.in_(wanted))).all()
        if len(found) == len(wanted):
            return
        time.sleep(0.1)
    raise TimeoutError("the turn logger did not write every answer")
