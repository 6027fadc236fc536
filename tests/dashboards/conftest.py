"""A seeded store for the dashboard pages, and a way to run one page headless."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from feedback import (
    Store,
    activate,
    log_turn,
    make_engine,
    recent_audit_events,
    record_feedback,
    register_model_version,
    start_conversation,
)
from feedback.migrate import upgrade
from feedback.models import FeedbackEvent, Message
from tests.conftest import PSEUDONYM_KEY

DASHBOARD_APP = Path(__file__).parents[2] / "tuneloop" / "dashboard_app.py"
PAGE = """
from feedback import Store, make_engine
from feedback.models import ActorRole
from dashboards.auth import Staff
from dashboards.pages import {module}
store = Store(make_engine({url!r}), pseudonym_key={key!r})
{setup}
{module}.render(store{extra})
"""
# Render arguments of the pages that act on behalf of someone.
AS_OPERATOR = ", Staff('Ada', ActorRole.operator)"
AS_ADMIN = ", Staff('Grace', ActorRole.admin)"


@pytest.fixture
def seeded_store(sqlite_url):
    """Two days of answers by two versions, with thumbs, stars, a flag, a regenerate and an
    upset reply to each day's rude answer."""
    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    today = datetime.now(UTC) - timedelta(minutes=1)  # settled: the rollup counts it
    yesterday = today - timedelta(days=1)
    with store.session() as session:
        old = register_model_version(session, name="bootstrap", path="/m/a")
        activate(session, old.id)
        new = register_model_version(session, name="dpo-0001", path="/m/b", parent_id=old.id)
        for day, version, ups in ((yesterday, old, 1), (today, new, 3)):
            for index in range(4):
                conversation = start_conversation(session, user_id=f"user-{index}")
                _, answer = log_turn(
                    session,
                    conversation_id=conversation.id,
                    prompt=f"Where is order {index}?",
                    answer=f"It ships on day {index}." if index else "Go away, idiot.",
                    model_version_id=version.id,
                )
                if index == 0:
                    log_turn(
                        session,
                        conversation_id=conversation.id,
                        parent_id=answer.id,
                        prompt="That was rude.",
                        prompt_sentiment=-0.5,
                        answer="Sorry.",
                        model_version_id=version.id,
                    )
                value = 1 if index < ups else -1
                record_feedback(
                    session,
                    message_id=answer.id,
                    kind="thumbs",
                    value=value,
                    user_id=f"user-{index}",
                )
                record_feedback(
                    session,
                    message_id=answer.id,
                    kind="stars",
                    value=2 + index,
                    user_id=f"user-{index}",
                )
                session.execute(
                    sa.update(Message)
                    .where(Message.conversation_id == conversation.id)
                    .values(created_at=day)
                )
                session.execute(
                    sa.update(FeedbackEvent)
                    .where(FeedbackEvent.message_id == answer.id)
                    .values(created_at=day)
                )
                session.commit()
        record_feedback(session, message_id=answer.id, kind="flag", text="rude", user_id="u")
        activate(session, new.id)
    st.cache_data.clear()
    yield store
    store.dispose()


def page(store: Store, module: str, extra: str = "", setup: str = "") -> AppTest:
    """Run page `module` headless; `extra` is appended to its render arguments, after lines of
    `setup` code."""
    script = PAGE.format(
        module=module,
        url=store.engine.url.render_as_string(hide_password=False),
        key=PSEUDONYM_KEY,
        extra=extra,
        setup=setup,
    )
    return AppTest.from_string(script, default_timeout=60).run()


@pytest.fixture
def dashboard(seeded_store, monkeypatch, tmp_path):
    """The whole app as `tuneloop dashboard` starts it, on the seeded store, with these password
    hashes and a settings file of its own."""

    def open_with(operator_hash: str | None, admin_hash: str | None = None) -> AppTest:
        settings_file = tmp_path / "tuneloop.toml"
        settings_file.touch()
        monkeypatch.setenv("TUNELOOP_CONFIG", str(settings_file))
        monkeypatch.setenv("TUNELOOP_STORE__URL", seeded_store.engine.url.render_as_string(False))
        monkeypatch.setenv("TUNELOOP_STORE__PSEUDONYM_KEY", PSEUDONYM_KEY.decode())
        monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "var"))
        for role, secret in (("OPERATOR", operator_hash), ("ADMIN", admin_hash)):
            name = f"TUNELOOP_DASHBOARDS__{role}_PASSWORD_HASH"
            if secret:
                monkeypatch.setenv(name, secret)
            else:
                monkeypatch.delenv(name, raising=False)
        st.cache_resource.clear()
        return AppTest.from_file(str(DASHBOARD_APP), default_timeout=60).run()

    return open_with


def audit_rows(store: Store, action: str | None = None) -> list:
    """The audit trail, the newest first."""
    with store.session() as session:
        return recent_audit_events(session, action=action)


def registered_pages(app: AppTest) -> list[str]:
    """The url paths `st.navigation` registered on the last run."""
    return [info.get("url_pathname") for info in app._registered_pages.values()]


def open_page(app: AppTest, url_path: str) -> AppTest:
    """Run the page registered at `url_path`: AppTest.switch_page only finds file pages, and
    ours are callables."""
    [page_hash] = [h for h, i in app._registered_pages.items() if i.get("url_pathname") == url_path]
    app._page_hash = page_hash
    return app.run()
