"""The turn logger writes conversations with their consent, waits out database outages, and
its failures log ids only."""

import logging
import time
import uuid

import pytest
from sqlmodel import select

from bot.turn_logger import TurnLogger
from feedback import Store, make_engine
from feedback.migrate import upgrade
from feedback.models import Conversation, Message, TurnCreate
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


def turn_of_a_new_conversation(logger) -> TurnCreate:
    conversation_id = uuid.uuid4()
    logger.start_conversation(conversation_id, user_id="bob", client="api", training_consent=True)
    turn = TurnCreate(conversation_id=conversation_id, prompt="Where is my parcel?", answer="Here.")
    logger.log(turn)
    return turn


def test_an_outage_delays_the_log_and_loses_nothing(tmp_path, caplog):
    """The database is out of reach (its folder is gone: SQLite cannot open it); the writer
    keeps trying, and once the database is back the turn it held is stored."""
    folder = tmp_path / "later"
    store = Store(make_engine(f"sqlite:///{folder / 'tuneloop.db'}"), pseudonym_key=PSEUDONYM_KEY)
    folder.rmdir()
    logger = TurnLogger(store, retry_first_s=0.05, retry_max_s=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.turn_logger"):
            turn = turn_of_a_new_conversation(logger)
            deadline = time.monotonic() + 10
            while not any("unreachable" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "the writer never said it would try again"
                time.sleep(0.05)
            folder.mkdir()
            upgrade(store.engine)
            logger.flush()
        with store.session() as session:
            stored = session.exec(select(Message).where(Message.id == turn.answer_id)).one()
        assert stored.content == "Here." and stored.conversation_id == turn.conversation_id
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        logger.close()
        store.dispose()


def test_closing_during_an_outage_says_what_was_lost_instead_of_hanging(tmp_path, caplog):
    store = Store(
        make_engine(f"sqlite:///{tmp_path / 'gone' / 'tuneloop.db'}"), pseudonym_key=PSEUDONYM_KEY
    )
    logger = TurnLogger(store, retry_first_s=60, retry_max_s=60)
    with caplog.at_level(logging.WARNING, logger="bot.turn_logger"):
        turn = turn_of_a_new_conversation(logger)
        started = time.monotonic()
        logger.close()
    assert time.monotonic() - started < 30  # not the minute it would wait to try again
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(str(turn.answer_id) in message for message in lost)
    assert not any("parcel" in message for message in lost)  # ids, not text
    store.dispose()
