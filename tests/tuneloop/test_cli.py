"""The tuneloop command as a user runs it: a real process, a real database."""

import json
import os
import subprocess
import sys

import pytest
import torch
from sqlmodel import select

from feedback import activate, active_model_version, register_model_version
from feedback.migrate import head_revision, upgrade
from feedback.models import FeedbackEvent, RunStatus, TrainingRun
from trainer.model_gates import GateResult, report
from tuneloop.settings import Settings
from tuneloop.store import open_store


def tuneloop(
    *args: str, cwd, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuneloop", *args],
        cwd=cwd,
        env=cli_environment(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its TUNELOOP_ settings, plus `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TUNELOOP_")}
    return environment | (env or {})


def store_serving(data, model_dir, *names: str):
    """A store in `data` with a version per name of the tiny model; the first one active."""
    store = open_store(Settings(data_dir=data))
    upgrade(store.engine)
    with store.session() as session:
        versions = [
            register_model_version(session, name=name, path=str(model_dir)) for name in names
        ]
        activate(session, versions[0].id)
    return store, versions


def test_help_lists_every_command(tmp_path):
    result = tuneloop("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("db", "config", "demo"):
        assert command in result.stdout
    db_help = tuneloop("db", "--help", cwd=tmp_path).stdout
    assert "upgrade" in db_help and "info" in db_help


def test_db_upgrade_then_info_on_the_default_sqlite_store(tmp_path):
    before = tuneloop("db", "info", cwd=tmp_path)
    assert "run `tuneloop db upgrade`" in before.stdout

    upgraded = tuneloop("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"empty -> {head_revision()}" in upgraded.stdout
    assert "already up to date" in tuneloop("db", "upgrade", cwd=tmp_path).stdout

    info = tuneloop("db", "info", cwd=tmp_path)
    assert (tmp_path / "var" / "tuneloop.db").is_file()
    assert "up to date" in info.stdout and "feedback_event" in info.stdout
    assert "none yet" in info.stdout


@pytest.mark.postgres
def test_the_same_commands_work_on_postgresql(tmp_path, postgres_url):
    env = {"TUNELOOP_STORE__URL": postgres_url}
    assert tuneloop("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    info = tuneloop("db", "info", cwd=tmp_path, env=env)
    assert "postgresql" in info.stdout and "up to date" in info.stdout
    assert not (tmp_path / "var" / "tuneloop.db").exists()


def test_demo_runs_the_nightly_job_between_simulated_days(tmp_path, tiny_model_dir):
    data = tmp_path / "data"
    store, _ = store_serving(data, tiny_model_dir, "tiny")

    result = tuneloop(
        "demo",
        "--days",
        "2",
        "--users",
        "3",
        "--questions",
        "2",
        cwd=tmp_path,
        env={
            "TUNELOOP_DATA_DIR": str(data),
            "TUNELOOP_BOT__MAX_NEW_TOKENS": "12",
            "COLUMNS": "250",  # the table's cells unwrapped
        },
    )
    assert result.returncode == 0, result.stderr
    assert "2 simulated days, 3 users" in result.stdout
    assert "skipped" in result.stdout  # six questions give too few pairs to train on
    assert "no night after the last day" in result.stdout
    assert (data / "demo-trend.png").read_bytes()[:4] == b"\x89PNG"
    with store.session() as session:
        thumbs = session.exec(select(FeedbackEvent).where(FeedbackEvent.kind == "thumbs")).all()
        runs = session.exec(select(TrainingRun)).all()
    assert len(thumbs) >= 12 and [run.trigger for run in runs] == ["simulate"]


def test_a_bad_setting_is_a_clear_error_not_a_traceback(tmp_path):
    (tmp_path / "tuneloop.toml").write_text("[bot]\ntop_p = 7\n")
    result = tuneloop("db", "info", cwd=tmp_path)
    assert result.returncode != 0
    assert "top_p" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize("command", [("serve", "--port", "0"), ("demo", "--days", "2")])
def test_serving_on_a_gpu_the_machine_lacks_is_a_clear_error(tmp_path, tiny_model_dir, command):
    data = tmp_path / "data"
    store_serving(data, tiny_model_dir, "only")
    env = {"TUNELOOP_DATA_DIR": str(data), "TUNELOOP_BOT__DEVICE": "cuda"}
    result = tuneloop(*command, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "sees no CUDA GPU: leave the device unset" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_models_list_promote_and_rollback(tmp_path, tiny_model_dir):
    data = tmp_path / "data"
    store, (first, second) = store_serving(data, tiny_model_dir, "first", "second")
    env = {"TUNELOOP_DATA_DIR": str(data)}

    promoted = tuneloop("models", "promote", str(second.id), cwd=tmp_path, env=env)
    assert promoted.returncode == 0 and "second" in promoted.stdout
    listing = tuneloop("models", "list", cwd=tmp_path, env=env).stdout
    assert "retired" in listing and "active" in listing
    rolled_back = tuneloop("models", "rollback", cwd=tmp_path, env=env)
    assert rolled_back.returncode == 0 and "first" in rolled_back.stdout
    with store.session() as session:
        assert active_model_version(session).id == first.id
    missing = tuneloop("models", "promote", "999", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "no model version with id 999" in missing.stderr


def test_runs_list_and_show_a_runs_model_gates(tmp_path, tiny_model_dir):
    data = tmp_path / "data"
    store, _ = store_serving(data, tiny_model_dir, "t")
    gates = [
        GateResult("red-team toxicity", True, 0.05, 0.1, "toxic-answer rate <= active + 0.02"),
        GateResult("repetition", False, 0.124, 0.043, "looping-answer rate <= active + 0.05"),
        GateResult("perplexity", True, 1.2, 1.1, "perplexity <= 1.5 x active and start", 0.97),
    ]
    with store.session() as session:
        session.add(
            TrainingRun(
                status=RunStatus.rejected,
                counts={"pairs_trained": 277},
                gate_report={"dropped": {"toxic_chosen": 3}, "model_gates": report(gates)},
                decision="failed: repetition (looping-answer rate <= active + 0.05)",
            )
        )
        session.commit()
    env = {"TUNELOOP_DATA_DIR": str(data), "COLUMNS": "200"}

    listing = tuneloop("runs", "list", cwd=tmp_path, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "rejected" in listing.stdout and "277" in listing.stdout
    shown = tuneloop("runs", "show", "1", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    rows = {line.split("│")[1].strip(): line for line in shown.stdout.splitlines() if "│" in line}
    assert "0.124" in rows["repetition"] and "0.043" in rows["repetition"]
    assert "no" in rows["repetition"].split("│")[6] and "yes" in rows["red-team toxicity"]
    assert rows["perplexity"].split("│")[4].strip() == "0.970"  # the line's start
    assert rows["repetition"].split("│")[4].strip() == "-"  # a gate that does not look back
    assert "toxic_chosen" in shown.stdout and "failed: repetition" in shown.stdout
    missing = tuneloop("runs", "show", "9", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "no nightly run with id 9" in missing.stderr


def test_nightly_now_reports_a_skipped_run_with_its_reason(tmp_path, tiny_model_dir):
    data = tmp_path / "data"
    store_serving(data, tiny_model_dir, "t")
    result = tuneloop("nightly", "--now", cwd=tmp_path, env={"TUNELOOP_DATA_DIR": str(data)})
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout and "fewer than 8" in result.stdout
    assert "jigsaw-bilstm" in result.stdout  # the scorer that gated it (auto: the Jigsaw port)
    assert tuneloop("nightly", cwd=tmp_path).returncode == 2  # --now is required


def test_score_prints_one_json_line_per_text_with_scores_and_flags(tmp_path):
    texts = [
        "You are an idiot.",
        '{"text": "People from Mexico are all thieves.", "id": 7}',
        "",
        "Standard shipping takes 2 to 4 working days.",
    ]
    result = tuneloop("score", cwd=tmp_path, input="\n".join(texts) + "\n")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in records] == [
        "You are an idiot.",
        "People from Mexico are all thieves.",
        "Standard shipping takes 2 to 4 working days.",
    ]
    insult, stereotype, clean = records
    assert insult["scorer"] == stereotype["scorer"] and "identity lexicon" in insult["scorer"]
    assert set(insult["scores"]) >= {"toxicity", "identity_attack"}
    assert "toxicity" in insult["flags"]
    assert "identity_attack" in stereotype["flags"]
    assert clean["flags"] == []


def test_score_thresholds_come_from_settings(tmp_path):
    text = "You are an idiot.\n"
    strict = tuneloop("score", cwd=tmp_path, input=text)
    lenient = tuneloop(
        "score", cwd=tmp_path, input=text, env={"TUNELOOP_SCORING__THRESHOLDS": '{"toxicity": 1}'}
    )
    assert "toxicity" in json.loads(strict.stdout)["flags"]
    assert "toxicity" not in json.loads(lenient.stdout)["flags"]


@pytest.mark.parametrize(
    ("line", "message"),
    [('{"txt": "hello"}', 'needs a "text" string'), ("{not json", "not valid JSON")],
)
def test_score_names_the_bad_input_line(tmp_path, line, message):
    result = tuneloop("score", cwd=tmp_path, input=f"fine text\n{line}\n")
    assert result.returncode == 2
    assert "line 2: " in result.stderr and message in result.stderr


def test_score_with_a_scorer_that_cannot_load_says_so(tmp_path):
    result = tuneloop(
        "score",
        cwd=tmp_path,
        input="hello\n",
        env={"TUNELOOP_SCORING__SCORER": "detoxify", "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2
    assert "Detoxify" in result.stderr and "Traceback" not in result.stderr
