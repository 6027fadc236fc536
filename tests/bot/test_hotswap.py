"""A promotion reaches the running bot between requests: none fails, none mixes versions."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlmodel import select

from bot.hotswap import ModelSlot
from feedback import activate, register_model_version
from feedback.models import Message
from tests.live_bot import bot_settings
from tuneloop.serving import load_engine

QUESTION = [{"role": "user", "content": "Where are your stores?"}]


def ask(bot) -> dict:
    response = httpx.post(
        f"{bot.url}/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 6}, timeout=60
    )
    response.raise_for_status()
    return response.json()["tuneloop"]


def promote_copy(bot, tiny_model_dir, name: str) -> int:
    with bot.store.session() as session:
        version = register_model_version(session, name=name, path=str(tiny_model_dir))
        activate(session, version.id)
        return version.id


def test_requests_during_a_swap_all_succeed_with_one_version_each(live_bot, tiny_model_dir):
    old = live_bot.version_id
    new = promote_copy(live_bot, tiny_model_dir, "tiny-2")
    with ThreadPoolExecutor(4) as pool:
        during = [pool.submit(ask, live_bot) for _ in range(8)]
        assert live_bot.slot.refresh()
        answers = [future.result() for future in during]
    after = ask(live_bot)

    assert after["model_version_id"] == new
    assert {a["model_version_id"] for a in answers} <= {old, new}
    live_bot.logger.flush()
    with live_bot.store.session() as session:
        for answer in [*answers, after]:
            logged = session.exec(
                select(Message).where(Message.id == uuid.UUID(answer["message_id"]))
            ).one()
            assert logged.model_version_id == answer["model_version_id"]
    assert httpx.get(f"{live_bot.url}/v1/models").json()["data"][0]["id"] == "tiny-2"
    assert not live_bot.slot.refresh()  # nothing new: no reload


def test_the_watcher_swaps_by_itself(bot_store, tiny_model_dir, tiny_engine):
    settings = bot_settings()
    slot = ModelSlot(
        tiny_engine,
        store=bot_store,
        load=lambda version: load_engine(settings, version),
        poll_seconds=0.05,
    )
    with bot_store.session() as session:
        version = register_model_version(session, name="tiny-3", path=str(tiny_model_dir))
        activate(session, version.id)
    slot.watch()
    try:
        deadline = time.monotonic() + 30
        while slot.engine.version_id != version.id and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        slot.stop()
    assert slot.engine.version_id == version.id and slot.engine.name == "tiny-3"
