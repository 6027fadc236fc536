"""The admins' pages: erasing a user through the real `forget_user`, and changing the TOML
settings file; operators are kept out of both."""

import os
from pathlib import Path

import pytest
from sqlmodel import select

from dashboards import actions
from dashboards.auth import Staff, hash_password
from dashboards.rights import NotAllowed
from feedback import (
    log_turn,
    pseudonymize,
    record_feedback,
    register_model_version,
    start_conversation,
)
from feedback.columns import utcnow
from feedback.curation import build_pairs
from feedback.models import ActorRole, Conversation, GateVerdict, TrainingRun
from feedback.pairs import PairPolicy
from feedback.snapshots import save_pairs, write_snapshot
from tests.dashboards.conftest import AS_ADMIN, AS_OPERATOR, audit_rows, open_page, page
from tuneloop.settings_file import SettingsFile

SETTINGS_FILE = """# Northwind's tuneloop
[trainer]
# Careful: see the tuning study.
learning_rate = 5e-5  # nightly DPO
"""
FORGET = """
from pathlib import Path
from tuneloop.governance import forget_user
from tuneloop.settings import Settings
settings = Settings(data_dir=Path({data_dir!r}))
def forget(user_id, actor):
    return forget_user(settings, store, user_id, actor=actor, role=ActorRole.admin).as_dict()
"""


def settings_page(store, settings_path, who=AS_ADMIN):
    setup = "from pathlib import Path\nfrom tuneloop.settings_file import SettingsFile"
    return page(store, "settings", f"{who}, SettingsFile(Path({str(settings_path)!r}))", setup)


@pytest.fixture
def settings_path(tmp_path):
    path = tmp_path / "tuneloop.toml"
    path.write_text(SETTINGS_FILE)
    return path


def test_an_admin_changes_a_setting_in_the_file_and_comments_stay(seeded_store, settings_path):
    app = settings_page(seeded_store, settings_path)
    assert not app.exception
    assert any("Environment variables" in c.value and "restart" in c.value for c in app.caption)
    listed = app.dataframe[0].value.set_index("key")
    assert listed.loc["trainer.learning_rate", "value"] == "5e-05"
    assert listed.loc["trainer.learning_rate", "from"] == "file"
    assert listed.loc["trainer.beta", "from"] == "default"

    app.selectbox(key="setting_key").select("trainer.beta").run()
    app.text_input(key="setting_value").input("0.3").run()
    app.button[0].click().run()
    assert not app.error and "trainer.beta" in app.success[0].value
    written = settings_path.read_text()
    assert written.startswith(SETTINGS_FILE.rstrip("\n")) and "beta = 0.3" in written
    assert app.dataframe[0].value.set_index("key").loc["trainer.beta", "value"] == "0.3"
    [change] = audit_rows(seeded_store, "change_setting")
    assert (change.actor, change.role, change.target) == ("Grace", ActorRole.admin, "trainer.beta")
    assert change.details == {"old": None, "new": "0.3", "file": str(settings_path)}


def test_an_invalid_value_is_refused_and_the_file_left_alone(seeded_store, settings_path):
    app = settings_page(seeded_store, settings_path)
    app.selectbox(key="setting_key").select("trainer.learning_rate").run()
    app.text_input(key="setting_value").input("-1").run()
    app.button[0].click().run()
    assert "trainer.learning_rate: Input should be greater than 0" in app.error[0].value
    assert settings_path.read_text() == SETTINGS_FILE
    assert not audit_rows(seeded_store, "change_setting")


def test_secrets_are_masked_and_environment_overrides_are_named(
    seeded_store, settings_path, monkeypatch
):
    settings_path.write_text(SETTINGS_FILE + '[dashboards]\nadmin_password_hash = "scrypt$1"\n')
    monkeypatch.setenv("TUNELOOP_TRAINER__BETA", "0.2")
    app = settings_page(seeded_store, settings_path)
    listed = app.dataframe[0].value.set_index("key")
    assert listed.loc["dashboards.admin_password_hash", "value"] == "********"
    assert "scrypt$1" not in app.dataframe[0].value.to_string()
    assert listed.loc["trainer.beta", "from"] == "environment"
    app.selectbox(key="setting_key").select("trainer.beta").run()
    assert "TUNELOOP_TRAINER__BETA is set" in app.warning[0].value


def test_operators_cannot_change_settings(seeded_store, settings_path):
    app = settings_page(seeded_store, settings_path, AS_OPERATOR)
    assert "Only admins" in app.warning[0].value and not app.dataframe and not app.button
    with pytest.raises(NotAllowed):
        actions.change_setting(
            seeded_store,
            Staff("Ada", ActorRole.operator),
            SettingsFile(settings_path),
            "trainer.beta",
            "0.9",
        )
    assert settings_path.read_text() == SETTINGS_FILE
    [refused] = audit_rows(seeded_store, "refused")
    assert refused.details == {"wanted": "change_setting"} and refused.target == "trainer.beta"


def trained_on_erins_data(store, directory) -> None:
    """Erin rates a vague answer down and its regeneration up; the pair goes into a snapshot
    that trained dpo-0002."""
    with store.session() as session:
        conversation = start_conversation(session, user_id="erin")
        prompt, vague = log_turn(
            session, conversation_id=conversation.id, prompt="Do you ship to Tromsø?", answer="Hm."
        )
        _, good = log_turn(
            session,
            conversation_id=conversation.id,
            parent_id=prompt.id,
            answer="Yes, in 3 days.",
        )
        record_feedback(session, message_id=vague.id, kind="thumbs", value=-1, user_id="erin")
        record_feedback(session, message_id=good.id, kind="thumbs", value=1, user_id="erin")
        pairs = save_pairs(session, build_pairs(session, since=None, policy=PairPolicy()))
        for pair in pairs:
            pair.verdict = GateVerdict.kept
        snapshot = write_snapshot(
            session, pairs=pairs, directory=directory, feedback_until=utcnow()
        )
        version = register_model_version(session, name="dpo-0002", path="/m/c")
        session.add(TrainingRun(snapshot_id=snapshot.id, candidate_version_id=version.id))
        session.commit()


def test_an_admin_erases_a_user_and_sees_the_versions_trained_on_them(seeded_store, tmp_path):
    trained_on_erins_data(seeded_store, tmp_path / "snapshots")
    setup = FORGET.format(data_dir=str(tmp_path / "var"))
    app = page(seeded_store, "erase", AS_ADMIN + ", forget", setup)
    assert not app.exception
    assert app.button(key="erase").disabled
    app.text_input(key="erase_user").input("erin").run()
    app.checkbox(key="erase_confirm").check().run()
    app.button(key="erase").click().run()
    assert not app.exception and "Erased" in app.success[0].value
    counts = dict(app.dataframe[0].value.itertuples(index=False))
    assert counts["conversations"] == 1 and counts["messages"] == 3
    assert "dpo-0002" in app.warning[0].value

    with seeded_store.session() as session:
        users = set(session.exec(select(Conversation.user_pseudonym)).all())
        assert pseudonymize(session, "erin") not in users
        assert pseudonymize(session, "user-1") in users  # the others stay
    [erased] = audit_rows(seeded_store, "erase")
    assert (erased.actor, erased.role) == ("Grace", ActorRole.admin)
    assert "erin" not in str(erased.model_dump())


def test_operators_cannot_erase(seeded_store):
    called = []
    app = page(seeded_store, "erase", AS_OPERATOR + ", forget", "forget = print")
    assert "Only admins" in app.warning[0].value and not app.button
    with pytest.raises(NotAllowed):
        actions.erase_user(
            seeded_store, Staff("Ada", ActorRole.operator), lambda *a: called.append(a), "erin"
        )
    assert not called
    [refused] = audit_rows(seeded_store, "refused")
    assert refused.target is None  # the user id stays out of the trail


def test_the_app_wires_the_admin_pages_to_the_settings_file_and_erasure(dashboard, seeded_store):
    app = dashboard(None, hash_password("admin pass"))
    app.text_input[0].input("Grace")
    app.text_input[1].input("admin pass")
    app.button[0].click().run()

    app = open_page(app, "settings")
    assert not app.exception
    app.selectbox(key="setting_key").select("bot.temperature").run()
    app.text_input(key="setting_value").input("0.5").run()
    app.button[0].click().run()
    settings_path = Path(os.environ["TUNELOOP_CONFIG"])
    assert settings_path.read_text() == "[bot]\ntemperature = 0.5\n"

    app = open_page(app, "erase")
    app.text_input(key="erase_user").input("user-1").run()
    app.checkbox(key="erase_confirm").check().run()
    app.button(key="erase").click().run()
    assert not app.exception and "Erased" in app.success[0].value
    assert [row.action for row in audit_rows(seeded_store)][:3] == [
        "erase",
        "change_setting",
        "login",
    ]
