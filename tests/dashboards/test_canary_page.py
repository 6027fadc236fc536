"""The canary page headless: both versions side by side with their bounds, every decision, and
the banner after an automatic rollback."""

import streamlit as st

from feedback import Store, activate, make_engine, register_model_version
from feedback.migrate import upgrade
from tests.conftest import PSEUDONYM_KEY
from tests.dashboards.conftest import page
from tests.trainer.test_canary import QUICK, rated_answers
from trainer.canary import CanaryPlan, check, launch


def store_with_a_rolled_back_canary(sqlite_url) -> Store:
    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    plan = CanaryPlan(policy=QUICK, share=0.5)
    with store.session() as session:
        active = register_model_version(session, name="dpo-0001", path="/m/a")
        activate(session, active.id)
        candidate = register_model_version(session, name="dpo-0002", path="/m/b")
        launch(session, candidate, plan=plan, trigger="nightly")
        for _ in range(2):  # two checks that wait, then the one that rolls back
            rated_answers(session, candidate, ups=1, downs=3)
            rated_answers(session, active, ups=3, downs=1)
            check(session, plan, trigger="schedule")
        rated_answers(session, candidate, ups=1, downs=20)
        rated_answers(session, active, ups=18, downs=3)
        check(session, plan, trigger="ratings")
    st.cache_data.clear()
    return store


def test_the_canary_page_shows_both_versions_the_bounds_and_every_decision(sqlite_url):
    store = store_with_a_rolled_back_canary(sqlite_url)
    app = page(store, "canary")
    assert not app.exception
    assert app.subheader[0].value == "dpo-0002 (canary) against dpo-0001"
    assert app.error[0].value.startswith("**rollback**")
    assert "worse thumbs-up rate" in app.error[0].value
    numbers, decisions = (frame.value for frame in app.dataframe)
    assert list(numbers["metric"]) == [
        "thumbs-up rate",
        "regenerate rate",
        "guard-flag rate",
        "negative replies",
    ]
    assert numbers["dpo-0002"][0] == "10.3% (3 of 29)" and numbers["high"][0] < 0
    assert list(decisions["decision"]) == ["rollback", "wait", "wait", "start"]
    assert app.get("arrow_line_chart") or app.get("vega_lite_chart")  # the bounds over time


def test_a_banner_follows_an_automatic_rollback(sqlite_url):
    store = store_with_a_rolled_back_canary(sqlite_url)
    app = page(store, "canary", setup="canary.rollback_banner(store)")
    assert not app.exception
    banner = app.error[0].value
    assert banner.startswith("Automatic rollback on ") and "dpo-0002 was taken out" in banner


def test_without_a_canary_the_page_says_what_makes_one(sqlite_url):
    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    app = page(store, "canary", setup="canary.rollback_banner(store)")
    assert not app.exception and not app.error
    assert "No canary yet" in app.info[0].value
