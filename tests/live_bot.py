"""A live bot on loopback (a pytest plugin): the tiny model, a real SQLite store, uvicorn."""

from dataclasses import dataclass

import pytest

from bot.server import BackgroundServer
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
    with BackgroundServer(app) as server:
        yield LiveBot(
            url=server.url, store=store, slot=slot, logger=logger, version_id=slot.engine.version_id
        )
    logger.close()
