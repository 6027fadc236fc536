"""The turn logger writes conversations with their consent, and its failures log ids only."""

import logging
import uuid

import pytest
from sqlmodel import select

from bot.turn_logger import TurnLogger
from feedback import Store, make_engine
from feedback.migrate import upgrade
from feedback.models import Conversation, TurnCreate
from tests.conftest import PSEUDONYM_KEY


@pytest.fixture
def sqlite_store(sqlite_url):
    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def logger(sqlite_store):
    logger = TurnLogger(sqlite_store)
    yield logger
    logger.close()


def test_a_conversation_is_stored_with_the_consent_it_started_with(sqlite_store, logger):
    ids = {consent: uuid.uuid4() for consent in (True, False)}
    for consent, conversation_id in ids.items():
        logger.start_conversation(
            conversation_id, user_id="alice", client="api", training_consent=consent
        )
    logger.flush()
    with sqlite_store.session() as session:
        stored = {c.id: c.training_consent for c in session.exec(select(Conversation))}
    assert stored == {conversation_id: consent for consent, conversation_id in ids.items()}


def test_a_turn_that_cannot_be_stored_is_logged_by_its_ids_not_its_text(logger, caplog):
    orphan = TurnCreate(
        conversation_id=uuid.uuid4(),
        prompt="My card number is 4111 1111 1111 1111",
        answer="Thanks, Alice",
    )
    with caplog.at_level(logging.ERROR, logger="bot.turn_logger"):
        logger.log(orphan)
        logger.flush()
    [record] = [r for r in caplog.records if r.name == "bot.turn_logger"]
    assert str(orphan.conversation_id) in record.getMessage()
    assert "4111" not in record.getMessage() and "Alice" not in record.getMessage()
