"""Live bots whose governance section (consent default, rate limits, admin keys) a test sets."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from sqlmodel import func, select

from bot.server import BackgroundServer
from tests.live_bot import LiveBot, bot_settings
from tuneloop.serving import build_bot
from tuneloop.settings import GovernanceSettings

NO_LIMITS = {"chat_requests_per_minute": None, "feedback_events_per_day": None}


@pytest.fixture
def governed_bot(bot_store) -> Callable[..., AbstractContextManager[LiveBot]]:
    """`with governed_bot(chat_requests_per_minute=2) as bot:` a live bot on the test's store
    with those governance settings (and `api_keys`); the limits are off unless the test sets
    them."""

    @contextmanager
    def serve(*, api_keys: tuple[str, ...] = (), **governance) -> Iterator[LiveBot]:
        settings = bot_settings(api_keys=list(api_keys))
        settings.governance = GovernanceSettings.model_validate(NO_LIMITS | governance)
        app, slot, logger = build_bot(settings, bot_store)
        try:
            with BackgroundServer(app) as server:
                yield LiveBot(server.url, bot_store, slot, logger, slot.engine.version_id)
        finally:
            logger.close()

    return serve


def count_rows(bot: LiveBot, model) -> int:
    bot.logger.flush()
    with bot.store.session() as session:
        return session.exec(select(func.count()).select_from(model)).one()
