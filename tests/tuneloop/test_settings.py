"""Settings: defaults that work on a fresh laptop, tuneloop.toml, env vars on top, clear errors."""

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from tuneloop.settings import Settings
from tuneloop.store import pseudonym_key

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in [n for n in __import__("os").environ if n.startswith("TUNELOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_keep_everything_in_the_data_directory():
    settings = Settings()
    assert settings.data_dir == Path("var")
    assert settings.database_url == "sqlite:///var/tuneloop.db"
    assert settings.models_dir == Path("var/models")


def test_env_vars_override_the_toml_file_which_overrides_defaults(monkeypatch, tmp_path):
    (tmp_path / "tuneloop.toml").write_text(
        'data_dir = "/srv/tuneloop"\n[bot]\ntemperature = 0.3\nmax_new_tokens = 32\n'
    )
    monkeypatch.setenv("TUNELOOP_BOT__MAX_NEW_TOKENS", "16")
    settings = Settings()
    assert settings.data_dir == Path("/srv/tuneloop")
    assert settings.bot.temperature == 0.3  # from the file
    assert settings.bot.max_new_tokens == 16  # the env var wins
    assert settings.bot.top_p == 0.95  # untouched default
    assert settings.database_url == "sqlite:////srv/tuneloop/tuneloop.db"


def test_the_demo_s_base_defaults_fill_only_what_the_settings_leave_open(monkeypatch, tmp_path):
    from tuneloop.cli.loop import BASE_ANSWER_TOKENS, BASE_DPO_LR, fill_base_defaults

    silent = Settings()
    fill_base_defaults(silent)
    assert (silent.bot.max_new_tokens, silent.trainer.learning_rate) == (
        BASE_ANSWER_TOKENS,
        BASE_DPO_LR,
    )
    (tmp_path / "tuneloop.toml").write_text("[bot]\nmax_new_tokens = 96\n")
    monkeypatch.setenv("TUNELOOP_TRAINER__LEARNING_RATE", "5e-5")
    chosen = Settings()
    fill_base_defaults(chosen)
    assert (chosen.bot.max_new_tokens, chosen.trainer.learning_rate) == (96, 5e-5)


def test_the_demo_s_bot_batches_as_many_answers_as_users_talk_at_once(monkeypatch):
    from tuneloop.cli.loop import match_batch_to_users

    silent = Settings()
    match_batch_to_users(silent, 32)
    assert silent.bot.max_batch == 32
    monkeypatch.setenv("TUNELOOP_BOT__MAX_BATCH", "4")
    chosen = Settings()
    match_batch_to_users(chosen, 32)
    assert chosen.bot.max_batch == 4


def test_a_named_config_file_must_exist(monkeypatch):
    monkeypatch.setenv("TUNELOOP_CONFIG", "missing.toml")
    with pytest.raises(FileNotFoundError, match=r"missing\.toml"):
        Settings()


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ("[bot]\ntemprature = 0.3\n", "temprature"),
        ("[bot]\ntop_p = 2\n", "top_p"),
        ('[bot]\ndevice = "gpu"\n', "device"),
    ],
)
def test_misspelled_or_out_of_range_settings_are_refused(tmp_path, toml, problem):
    (tmp_path / "tuneloop.toml").write_text(toml)
    with pytest.raises(ValidationError, match=problem):
        Settings()


def test_the_pseudonym_key_is_made_once_and_kept_private(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    key = pseudonym_key(settings)
    assert len(key) == 64
    assert pseudonym_key(settings) == key
    mode = (tmp_path / "data" / "pseudonym.key").stat().st_mode
    assert stat.S_IMODE(mode) & 0o077 == 0


def test_a_configured_pseudonym_key_wins(tmp_path):
    settings = Settings(data_dir=tmp_path, store={"pseudonym_key": "k" * 32})
    assert pseudonym_key(settings) == b"k" * 32
    assert not (tmp_path / "pseudonym.key").exists()


def test_the_configuration_reference_is_generated_from_the_settings():
    generated = subprocess.run(
        [sys.executable, "-m", "tuneloop", "config", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert DOCS.read_text() == generated, "run: tuneloop config --markdown > docs/configuration.md"


def test_the_nightly_gates_judge_answers_sampled_as_the_bot_serves_them(tmp_path):
    from bot.engine import Sampling
    from trainer.evaluation import ServedDraws
    from tuneloop.training import nightly_plan

    (tmp_path / "tuneloop.toml").write_text(
        "[bot]\ntemperature = 0.5\ntop_p = 0.9\nmax_new_tokens = 40\n[trainer]\nserved_draws = 2\n"
    )
    served = nightly_plan(Settings()).served
    assert served == ServedDraws(Sampling(temperature=0.5, top_p=0.9, max_new_tokens=40), draws=2)
