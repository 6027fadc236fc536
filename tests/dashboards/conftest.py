"""A seeded store for the dashboard pages, and a way to run one page headless."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from feedback import (
    Store,
    activate,
    log_turn,
    make_engine,
    record_feedback,
    register_model_version,
    start_conversation,
)
from feedback.migrate import upgrade
from feedback.models import FeedbackEvent, Message
from tests.conftest import PSEUDONYM_KEY

PAGE = """
from feedback import Store, make_engine
from dashboards.pages import {module}
store = Store(make_engine({url!r}), pseudonym_key={key!r})
{setup}
{module}.render(store{extra})
"""


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
