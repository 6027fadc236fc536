"""A live bot on loopback: the tiny model, a real SQLite store, uvicorn in a thread."""

import socket
import threading
import time
from dataclasses import dataclass

import pytest
import uvicorn

from feedback import Store, activate, make_engine, register_model_version
from feedback.migrate import upgrade
from tests.conftest import PSEUDONYM_KEY, SYSTEM_PROMPT
from tuneloop.serving import build_bot
from tuneloop.settings import Settings

API_KEY = "sk-test-0123456789"


@dataclass
class LiveBot:
    url: str
    store: Store
    slot: object
    logger: object
    version_id: int


@pytest.fixture
def bot_store(sqlite_url, tiny_model_dir):
    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    with store.session() as session:
        version = register_model_version(session, name="tiny", path=str(tiny_model_dir))
        activate(session, version.id)
    yield store
    store.dispose()


def serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def bot_settings(**bot) -> Settings:
    return Settings.model_validate(
        {"bot": {"system_prompt": SYSTEM_PROMPT, "context_tokens": 256, "max_new_tokens": 12} | bot}
    )


@pytest.fixture
def live_bot(bot_store):
    yield from _live_bot(bot_store, bot_settings())


@pytest.fixture
def locked_bot(bot_store):
    """The same bot with API keys configured."""
    yield from _live_bot(bot_store, bot_settings(api_keys=[API_KEY]))


def _live_bot(store: Store, settings: Settings):
    app, slot, logger = build_bot(settings, store)
    server, thread, url = serve(app)
    yield LiveBot(url=url, store=store, slot=slot, logger=logger, version_id=slot.engine.version_id)
    server.should_exit = True
    thread.join(timeout=10)
    logger.close()
