"""The settings file changed one value at a time: comments kept, invalid results never written,
secrets masked, and where each value comes from."""

import pytest

from tuneloop.settings_file import (
    MASK,
    InvalidSetting,
    change_setting,
    list_settings,
    parse_value,
)

ORIGINAL = """# Northwind's tuneloop
data_dir = "var"  # beside the code

[trainer]
# Careful: see the tuning study.
learning_rate = 5e-5  # nightly DPO

[bot]
api_keys = ["sk-one", "sk-two"]
"""


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "tuneloop.toml"
    path.write_text(ORIGINAL)
    return path


def test_a_change_keeps_every_comment_and_the_layout(path):
    change = change_setting(path, "trainer.learning_rate", "1e-4")
    assert (change.key, change.old, change.new) == ("trainer.learning_rate", "5e-5", "1e-4")
    assert path.read_text() == ORIGINAL.replace("5e-5", "1e-4")

    change_setting(path, "trainer.beta", "0.2")
    change_setting(path, "scoring.thresholds", "{toxicity = 0.4}")
    change_setting(path, "data_dir", "/srv/tuneloop")
    text = path.read_text()
    assert (
        "# Careful: see the tuning study.\nlearning_rate = 1e-4  # nightly DPO\nbeta = 0.2" in text
    )
    assert "[scoring]\nthresholds = {toxicity = 0.4}" in text
    assert text.startswith('# Northwind\'s tuneloop\ndata_dir = "/srv/tuneloop"  # beside the code')


def test_a_missing_file_is_created(tmp_path):
    path = tmp_path / "new.toml"
    change = change_setting(path, "bot.temperature", "0")
    assert change.old is None and path.read_text() == "[bot]\ntemperature = 0\n"


@pytest.mark.parametrize(
    ("key", "text", "reason"),
    [
        ("trainer.learning_rate", "-1", "trainer.learning_rate: Input should be greater than 0"),
        ("trainer.min_pairs", "many", "trainer.min_pairs: Input should be a valid integer"),
        ("trainer.hyperparameters", "best", "trainer.hyperparameters: Input should be"),
        ("trainer.nonsense", "1", "there is no setting named 'trainer.nonsense'"),
        ("trainer.beta", "0.2\nbot.temperature = 9", "more than one value"),
        ("trainer.beta", "  ", "give a value"),
        ("trainer.profile", None, "trainer.profile is not in"),
    ],
)
def test_an_invalid_change_is_refused_and_nothing_written(path, key, text, reason):
    with pytest.raises(InvalidSetting, match=reason.replace("(", r"\(")):
        change_setting(path, key, text)
    assert path.read_text() == ORIGINAL


def test_the_environment_cannot_hide_an_error_in_the_file(path, monkeypatch):
    monkeypatch.setenv("TUNELOOP_TRAINER__LEARNING_RATE", "1e-5")
    with pytest.raises(InvalidSetting):
        change_setting(path, "trainer.learning_rate", "0")
    assert path.read_text() == ORIGINAL


def test_removing_a_key_brings_back_the_default(path):
    change = change_setting(path, "trainer.learning_rate", None)
    assert (change.old, change.new) == ("5e-5", None)
    assert "learning_rate" not in path.read_text()
    assert "# Careful: see the tuning study." in path.read_text()
    row = next(s for s in list_settings(path) if s.key == "trainer.learning_rate")
    assert (row.value, row.source) == ("0.0001", "default")


def test_values_are_typed_as_toml_and_bare_words_are_text():
    assert parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value('["accelerate", "launch"]') == ["accelerate", "launch"]
    assert parse_value("Be brief.") == "Be brief." and parse_value('"42"') == "42"
    assert parse_value("{toxicity = 0.4}") == {"toxicity": 0.4}


def test_listing_masks_secrets_and_says_where_each_value_comes_from(path, monkeypatch):
    monkeypatch.setenv("TUNELOOP_BOT__TEMPERATURE", "0.3")
    rows = {row.key: row for row in list_settings(path)}
    assert rows["bot.api_keys"].value == MASK and "sk-one" not in str(rows)
    assert rows["dashboards.admin_password_hash"].value == "(not set)"
    assert (rows["bot.temperature"].value, rows["bot.temperature"].source) == ("0.3", "environment")
    assert rows["trainer.learning_rate"].source == "file"
    assert (rows["trainer.beta"].value, rows["trainer.beta"].source) == ("1.0", "default")
    assert rows["tuning.beta"].value == "{low = 0.02, high = 2.0, log = true}"
    assert rows["trainer.learning_rate"].description == "DPO learning rate."

    change = change_setting(path, "bot.api_keys", '["sk-three"]')
    assert (change.old, change.new) == (MASK, MASK)
