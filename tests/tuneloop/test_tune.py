"""`tuneloop tune` as a user runs it: a real process, the store's database, a kill and a resume."""

import subprocess
import sys
import time

import optuna
import pytest
import sqlalchemy as sa
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from feedback.profiles import find_profile
from tests.tuneloop.test_cli import cli_environment, store_serving, tuneloop
from tuneloop.settings import Settings

HEARTBEAT_SECONDS = 1
HEARTBEATS = sa.text(
    "SELECT t.number, t.state, COUNT(h.trial_heartbeat_id) FROM trials t"
    " LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id"
    " GROUP BY t.trial_id, t.number, t.state"
)
# Cheap trials: two topics of the demo corpus (30 pairs), two folds, one epoch.
TINY_STUDY = {
    "HF_HUB_OFFLINE": "1",
    "TUNELOOP_TUNING__FOLDS": "2",
    "TUNELOOP_TUNING__MAX_PAIRS": "30",
    "TUNELOOP_TUNING__NUM_TRAIN_EPOCHS": '{"low": 1, "high": 1.5}',
    "TUNELOOP_TUNING__HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
    "TUNELOOP_SCORING__SCORER": "profanity-check",
}


def test_an_invalid_search_space_is_refused_with_the_reason(tmp_path):
    (tmp_path / "tuneloop.toml").write_text("[tuning.learning_rate]\nlow = 0.01\nhigh = 0.001\n")
    result = tuneloop("tune", "--trials", "3", "--synthetic", cwd=tmp_path)
    assert result.returncode == 2
    assert "tuning.learning_rate" in result.stderr
    assert "low (0.01) must be below high (0.001)" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_snapshot_it_says_how_to_get_one(tmp_path, tiny_model_dir):
    data = tmp_path / "data"
    store, _ = store_serving(data, tiny_model_dir, "tiny")
    result = tuneloop("tune", "--trials", "3", cwd=tmp_path, env={"TUNELOOP_DATA_DIR": str(data)})
    assert result.returncode == 2
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert "No dataset snapshot to tune on yet" in message and "--synthetic" in message
    assert not sa.inspect(store.engine).has_table("studies")  # no empty study left behind


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_killed_study_resumes_and_retries_the_trial_it_lost(tmp_path, tiny_model_dir):
    data = tmp_path / "data"
    store, _ = store_serving(data, tiny_model_dir, "tiny")
    env = TINY_STUDY | {"TUNELOOP_DATA_DIR": str(data)}
    arguments = ("tune", "--trials", "2", "--synthetic", "--study", "nightly-dpo")

    first = subprocess.Popen(
        [sys.executable, "-m", "tuneloop", *arguments],
        cwd=tmp_path,
        env=cli_environment(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_second_trial(store.engine, first)
    first.kill()  # SIGKILL: no clean-up, the running trial stays "running" in the database
    first.wait()
    time.sleep(2 * HEARTBEAT_SECONDS)  # the killed trial's heartbeat goes stale

    resumed = tuneloop(*arguments, cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "Training profile nightly-dpo" in resumed.stdout

    url = Settings(data_dir=data).database_url
    trials = optuna.load_study(study_name="nightly-dpo", storage=url).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    (killed,) = [t for t in trials if t.state == TrialState.FAIL]
    assert len(complete) == 2 and len(trials) == 3
    (retry,) = [
        t for t in complete if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) is not None
    ]
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == killed.number
    # The retry runs with the values the killed trial had drawn before it died (it may have
    # died before drawing all of them); the rest are drawn anew.
    assert retry.params.items() >= killed.params.items()
    with store.session() as session:
        profile = find_profile(session, "nightly-dpo")
    assert profile.trials == 2 and profile.dataset == "synthetic"


def _wait_for_second_trial(engine: sa.Engine, process: subprocess.Popen) -> None:
    """Until trial 0 has completed and trial 1 runs and has sent its first heartbeat (Optuna
    never calls a trial without one stale)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        if sa.inspect(engine).has_table("trial_heartbeats"):
            with engine.connect() as connection:
                rows = connection.execute(HEARTBEATS).all()
            states = {number: (state, beats) for number, state, beats in rows}
            if states.get(0, ("",))[0] == "COMPLETE" and states.get(1) == ("RUNNING", 1):
                return
        time.sleep(0.1)
    raise TimeoutError("the first trial did not complete in time")


def test_each_finished_trial_gets_a_line_pruned_ones_say_where_they_stopped():
    from optuna.distributions import FloatDistribution

    from tuneloop.cli.tuning import _trial_line

    space = {"beta": FloatDistribution(0.01, 1.0)}
    pruned = optuna.create_trial(
        state=TrialState.PRUNED,
        params={"beta": 0.5},
        distributions=space,
        intermediate_values={3: 0.2},
    )
    complete = optuna.create_trial(
        value=0.9,
        params={"beta": 0.25},
        distributions=space,
        user_attrs={"accuracy": 0.9, "margin": 0.05},
    )
    assert "pruned at step 3" in _trial_line(pruned) and "beta 0.5" in _trial_line(pruned)
    assert "score 0.9000 (accuracy 0.900, margin +0.050)" in _trial_line(complete)
