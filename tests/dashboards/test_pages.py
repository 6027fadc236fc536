"""Every dashboard page headless with AppTest, on a seeded store and on an empty one."""

import json

import streamlit as st
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from dashboards.auth import hash_password
from feedback import Store, active_model_version, log_turn, make_engine, start_conversation
from feedback.migrate import upgrade
from feedback.models import ActorRole, Message, OperatorReview, ReviewAction
from feedback.rollups import save_rater_trust
from feedback.trust import rater_trust
from tests.conftest import PSEUDONYM_KEY
from tests.dashboards.conftest import AS_ADMIN, AS_OPERATOR, audit_rows, page


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_trends_show_both_days_with_filters(seeded_store):
    app = page(seeded_store, "trends")
    assert not app.exception
    assert metric(app, "Answers") == "10" and metric(app, "Thumbs-up rate") == "50%"
    charts = app.get("vega_lite_chart")
    assert len(charts) == 5  # rate, stars, regenerations, sentiment, volume
    assert "Sentiment of users' replies" in charts[3].proto.spec
    app.multiselect(key="trend_versions").set_value(["dpo-0001"]).run()
    assert metric(app, "Answers") == "5" and metric(app, "Thumbs-up rate") == "75%"
    reports = app.dataframe[0].value
    assert list(reports["version"]) == ["bootstrap", "dpo-0001"]


def test_an_empty_store_shows_what_to_do_not_an_error(sqlite_url):
    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    st.cache_data.clear()
    for module, extra, hint in (
        ("trends", "", "No answers"),
        ("review", AS_OPERATOR, "Nothing to review"),
        ("conversations", "", "No conversations"),
        ("runs", AS_OPERATOR, "No training run yet"),
        ("audit", "", "No audit rows yet"),
        ("trust", "", "No trust computed yet"),
        ("tuning", "", "No tuning study yet"),
    ):
        app = page(store, module, extra)
        assert not app.exception, module
        messages = [m.value for m in [*app.info, *app.success]]
        assert any(hint in message for message in messages), (module, messages)


def reviews(store):
    with store.session() as session:
        return session.exec(select(OperatorReview)).all()


def test_the_review_queue_puts_flags_first_and_records_every_action(seeded_store):
    app = page(seeded_store, "review", AS_OPERATOR)
    assert not app.exception
    assert app.markdown[0].value.startswith("🚩")
    first_answer = app.markdown[1].value
    app.button(key=next(b.key for b in app.button if b.key.startswith("approve-"))).click().run()
    [approved] = reviews(seeded_store)
    assert (approved.action, approved.reviewer) == (ReviewAction.approve, "Ada")
    assert app.markdown[1].value != first_answer  # a reviewed answer leaves the queue

    app.button(key=next(b.key for b in app.button if b.key.startswith("exclude-"))).click().run()
    excluded = [r for r in reviews(seeded_store) if r.action == ReviewAction.exclude]
    assert len(excluded) == 1 and excluded[0].feedback_id is not None

    text_area = app.text_area[0]
    text_area.input("It ships tomorrow morning.").run()
    answer_id = text_area.key.removeprefix("correct-text-")
    app.button(key=f"correct-{answer_id}").click().run()
    [correction] = [r for r in reviews(seeded_store) if r.action == ReviewAction.correct]
    assert correction.corrected_text == "It ships tomorrow morning."

    # Each decision is an audit row too: who, as what, on which ids, never the texts.
    rows = audit_rows(seeded_store)
    assert [row.action for row in rows] == ["correct", "exclude", "approve"]
    assert {(row.actor, row.role) for row in rows} == {("Ada", ActorRole.operator)}
    assert rows[0].target == answer_id and rows[1].details["feedback_id"] == str(
        excluded[0].feedback_id
    )
    with seeded_store.session() as session:
        texts = {m.content for m in session.exec(select(Message)) if m.content}
    recorded = json.dumps([row.model_dump(mode="json") for row in rows])
    assert not any(text in recorded for text in {*texts, correction.corrected_text})


def test_the_review_queue_shows_what_the_guard_withheld_with_its_flags(seeded_store):
    with seeded_store.session() as session:
        conversation = start_conversation(session, user_id="guarded")
        question, _ = log_turn(
            session, conversation_id=conversation.id, prompt="Can I pay later?", answer="Yes."
        )
        _, withheld = log_turn(
            session,
            conversation_id=conversation.id,
            parent_id=question.id,
            answer="Pay now, you cheapskate.",
            guard_flags=["toxicity", "insult"],
        )
    app = page(seeded_store, "review", AS_OPERATOR)
    assert not app.exception
    assert app.markdown[0].value.startswith("🚩")  # the users' flags still come first
    [card] = [i for i, m in enumerate(app.markdown) if m.value.startswith("🛡️")]
    assert "Can I pay later?" in app.markdown[card].value
    answer = app.markdown[card + 1].value
    assert "never shown" in answer and "Pay now, you cheapskate." in answer
    assert any(c.value == "guard flags: toxicity, insult" for c in app.caption)

    app.button(key=f"approve-{withheld.id}").click().run()
    [reviewed] = reviews(seeded_store)
    assert reviewed.message_id == withheld.id
    assert not any(m.value.startswith("🛡️") for m in app.markdown)


def test_a_review_item_shows_conversations_similar_in_meaning(seeded_store):
    app = page(
        seeded_store,
        "review",
        AS_OPERATOR + ", embed=load_embedder().embed",
        setup="from trainer.embeddings import load_embedder",
    )
    assert not app.exception
    assert not app.dataframe  # nothing is looked up until asked
    toggle = app.toggle[0]
    question = app.markdown[0].value.split("**Question:** ")[1]
    toggle.set_value(True).run()
    [similar] = [frame.value for frame in app.dataframe]
    assert 1 <= len(similar) <= 5
    # The same question was asked once more, in another conversation (the other day): it
    # comes first; the reviewed conversation itself is not listed.
    assert list(similar["question"]).count(question) == 1
    assert similar["question"][0] == question and similar["similarity"][0] == 1.0
    assert similar["conversation"].is_unique
    assert all(text.startswith("Where is order") for text in similar["question"])
    assert list(similar["similarity"]) == sorted(similar["similarity"], reverse=True)


def test_conversations_can_be_searched_and_read_with_ratings(seeded_store):
    app = page(seeded_store, "conversations")
    app.text_input(key="conversation_search").input("order 2").run()
    assert len(app.dataframe[0].value) == 2
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert "thumbs" in app.chat_message[1].caption[0].value
    app.text_input(key="conversation_search").input("That was rude").run()
    assert [m.name for m in app.chat_message] == ["user", "assistant"] * 2
    assert app.chat_message[2].caption[0].value == "sentiment -0.50"


def test_promote_needs_a_confirmation_and_rollback_restores(seeded_store):
    app = page(seeded_store, "runs", AS_ADMIN)
    assert app.button[0].label == "Promote" and app.button[0].disabled
    app.selectbox(key="promote_pick").select_index(0).run()
    app.checkbox(key="confirm").check().run()
    app.button[0].click().run()
    with seeded_store.session() as session:
        assert active_model_version(session).name == "bootstrap"
    app.button[1].click().run()
    with seeded_store.session() as session:
        assert active_model_version(session).name == "dpo-0001"


def test_rater_trust_lists_the_least_trusted_first(seeded_store):
    with seeded_store.session() as session:
        trust = rater_trust(
            session,
            score_toxicity=lambda texts: [1.0 if "idiot" in t else 0.0 for t in texts],
            toxicity_threshold=0.5,
        )
        save_rater_trust(session, trust)
    app = page(seeded_store, "trust")
    assert not app.exception
    weights = list(app.dataframe[0].value["weight"])
    assert weights == sorted(weights) and len(weights) >= 4


def test_the_dashboard_is_closed_without_a_password_hash(dashboard):
    app = dashboard(None)
    assert "closed" in app.error[0].value and not app.metric


def test_operators_log_in_before_they_see_anything(dashboard):
    app = dashboard(hash_password("correct horse"))
    assert not app.metric and app.text_input
    app.text_input[0].input("Ada")
    app.text_input[1].input("wrong")
    app.button[0].click().run()
    assert "Wrong password" in app.error[0].value and not app.metric
    app.text_input[1].input("correct horse")
    app.button[0].click().run()
    assert not app.exception
    assert metric(app, "Answers") == "10"


def test_tuning_shows_the_trials_optunas_figures_and_the_profile_in_use(sqlite_url):
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState

    from feedback.profiles import save_profile

    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    study = optuna.create_study(
        storage=sqlite_url, study_name="dpo-synthetic", direction="maximize"
    )
    space = {
        "learning_rate": FloatDistribution(1e-6, 1e-3, log=True),
        "loss_type": CategoricalDistribution(["sigmoid", "ipo"]),
    }
    for rate, loss, accuracy in ((1e-5, "sigmoid", 0.7), (1e-4, "ipo", 0.9), (1e-3, "ipo", 0.8)):
        study.add_trial(
            optuna.create_trial(
                params={"learning_rate": rate, "loss_type": loss},
                distributions=space,
                value=accuracy,
                user_attrs={"accuracy": accuracy, "margin": 0.1},
                intermediate_values={1: accuracy},
            )
        )
    study.add_trial(
        optuna.create_trial(
            state=TrialState.PRUNED,
            params={"learning_rate": 1e-6, "loss_type": "sigmoid"},
            distributions=space,
            intermediate_values={1: 0.2},
        )
    )
    with store.session() as session:
        save_profile(
            session,
            name="dpo-synthetic",
            values=study.best_params,
            study_name="dpo-synthetic",
            dataset="synthetic",
            objective=study.best_value,
            trials=4,
        )

    app = page(store, "tuning", ", 'tuned', 'dpo-synthetic'")
    assert not app.exception
    assert "dpo-synthetic" in app.success[0].value
    trials = next(frame.value for frame in app.dataframe if "trial" in frame.value.columns)
    assert list(trials["state"]) == ["complete", "complete", "complete", "pruned"]
    assert list(trials["accuracy"][:3]) == [0.7, 0.9, 0.8]
    assert len(app.get("plotly_chart")) == 2  # optimization history, parameter importances

    missing = page(store, "tuning", ", 'tuned', 'gone'")
    assert "no training profile named 'gone'" in missing.error[0].value
    store.dispose()
