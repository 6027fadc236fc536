"""A nightly run killed mid-training: the active model and every logged row stay intact."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlmodel import func, select

from feedback import activate, active_model_version, register_model_version
from feedback.migrate import upgrade
from feedback.models import FeedbackEvent, Message, ModelVersion, RunStatus, TrainingRun
from tests.trainer.test_nightly import seed_feedback
from trainer.nightly import fail_abandoned_runs
from tuneloop.settings import Settings
from tuneloop.store import open_store


def counts(session) -> dict[str, int]:
    return {
        table.__name__: session.exec(select(func.count()).select_from(table)).one()
        for table in (Message, FeedbackEvent, ModelVersion)
    }


@pytest.mark.slow
def test_a_kill_during_training_loses_nothing(tmp_path, tiny_model_dir, topics):
    store = open_store(Settings(data_dir=tmp_path))
    upgrade(store.engine)
    with store.session() as session:
        base = register_model_version(session, name="tiny", path=str(tiny_model_dir))
        activate(session, base.id)
    seed_feedback(store, topics)
    with store.session() as session:
        before = counts(session)

    env = os.environ | {
        "TUNELOOP_DATA_DIR": str(tmp_path),
        "TUNELOOP_TRAINER__NUM_TRAIN_EPOCHS": "500",  # long enough to be killed mid-way
        "TUNELOOP_TRAINER__MAX_RATER_SHARE": "1.0",
        "TUNELOOP_BOT__CONTEXT_TOKENS": "256",
    }
    night = subprocess.Popen(
        [sys.executable, "-m", "tuneloop", "nightly", "--now"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not _training_started(store):
            assert night.poll() is None, "the run ended before training"
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        time.sleep(2)  # well inside the training step
        night.send_signal(signal.SIGKILL)
        night.wait(timeout=30)
    finally:
        if night.poll() is None:
            night.kill()

    with store.session() as session:
        assert counts(session) == before  # no candidate registered, no row lost
        assert active_model_version(session).id == base.id
        [run] = session.exec(select(TrainingRun)).all()
        assert run.status == RunStatus.running  # what a killed process leaves behind
        fail_abandoned_runs(session)  # what the next start does
        session.refresh(run)
        assert run.status == RunStatus.failed and run.error.startswith("interrupted")


def _training_started(store) -> bool:
    with store.session() as session:
        run = session.exec(select(TrainingRun)).first()
        return run is not None and any(step["name"] == "snapshot" for step in run.steps)
