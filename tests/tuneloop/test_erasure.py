"""`tuneloop users forget` end to end: after a real nightly run trained on a user's feedback, the
user is gone from every byte under the data directory: the database file and its WAL, the
snapshot files and the logs; the report names the model trained on them."""

import logging
import uuid
from dataclasses import replace

import pytest
from sqlmodel import select

from bot.turn_logger import TurnLogger
from feedback import log_turn, pseudonymize, record_feedback, start_conversation
from feedback.models import AuditEvent, ModelVersion, TrainingRun, TurnCreate
from tests.trainer.test_nightly import LENIENT, plan, seed_feedback
from tests.tuneloop.test_cli import store_serving, tuneloop
from trainer.nightly import run_nightly
from tuneloop.logs import LOG_FILE, log_to_file
from tuneloop.settings import Settings

ALICE = "alice-7f3e@example.org"
ALICE_TEXTS = [
    "Do you still stock the marmalade-orange gaiters in size 43?",
    "Could the turquoise bivouac sack ship to Longyearbyen?",
]
ANSWER_VAGUE = "It depends."
ANSWER_GOOD = "Yes: everything in the online shop ships within two working days."


def seed_alice(store) -> list[uuid.UUID]:
    """Alice asks twice, regenerates the vague answers and rates the good ones up."""
    conversations = []
    with store.session() as session:
        for text in ALICE_TEXTS:
            conversation = start_conversation(session, user_id=ALICE)
            prompt, vague = log_turn(
                session, conversation_id=conversation.id, prompt=text, answer=ANSWER_VAGUE
            )
            good = log_turn(
                session, conversation_id=conversation.id, parent_id=prompt.id, answer=ANSWER_GOOD
            )[1]
            record_feedback(session, message_id=vague.id, kind="thumbs", value=-1, user_id=ALICE)
            record_feedback(session, message_id=good.id, kind="thumbs", value=1, user_id=ALICE)
            conversations.append(conversation.id)
    return conversations


def log_a_failed_turn(store, conversation_id: uuid.UUID) -> None:
    """The turn logger's real failure path: it logs the conversation's id."""
    logger = TurnLogger(store)
    orphan = TurnCreate(
        conversation_id=conversation_id, parent_id=uuid.uuid4(), prompt="?", answer="!"
    )
    logger.log(orphan)
    logger.close()


def files_holding(directory, needles: list[str]) -> list[str]:
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{path.name}: {n[:20]}" for n in needles if n.encode() in content]
    return found


@pytest.mark.slow
def test_forget_leaves_no_byte_of_the_user_on_disk(tmp_path, topics, tiny_model_dir):
    data = tmp_path / "var"
    settings = Settings(data_dir=data)
    store, _ = store_serving(data, tiny_model_dir, "tiny")
    seed_feedback(store, topics)
    alice_conversations = seed_alice(store)
    with store.session() as session:
        pseudonym = pseudonymize(session, ALICE)
    log_to_file(settings.logs_dir)
    log_a_failed_turn(store, alice_conversations[0])
    logging.getLogger("tuneloop.test").warning("rate limit: user %s is over it", pseudonym)
    logging.getLogger("tuneloop.test").warning("a line about nobody in particular")
    nightly = replace(
        plan(tmp_path, topics, LENIENT),
        models_dir=settings.models_dir,
        snapshots_dir=settings.snapshots_dir,
    )
    run = run_nightly(store, nightly)
    assert run.candidate_version_id is not None, run.decision
    with store.session() as session:
        candidate = session.get(ModelVersion, run.candidate_version_id)
    needles = [pseudonym, *ALICE_TEXTS, *(str(c) for c in alice_conversations)]
    assert files_holding(data / "snapshots", ALICE_TEXTS)  # trained on: in the snapshot files
    assert files_holding(data / "logs", needles)
    store.dispose()  # no connection of this process may hold the WAL

    result = tuneloop(
        "users", "forget", ALICE, "--yes", cwd=tmp_path, env={"TUNELOOP_DATA_DIR": str(data)}
    )

    assert result.returncode == 0, result.stderr
    assert files_holding(data, needles) == []
    wal = data / "tuneloop.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert "nobody in particular" in (data / "logs" / LOG_FILE).read_text()
    assert candidate.name in result.stdout.split("trained on this user's data")[1]
    with store.session() as session:
        [audit] = session.exec(select(AuditEvent).where(AuditEvent.action == "erase")).all()
        assert session.get(TrainingRun, run.id) is not None  # the run's record stays
    assert audit.role == "admin" and audit.details["conversations"] == 2
    assert pseudonym not in str(audit.model_dump())
