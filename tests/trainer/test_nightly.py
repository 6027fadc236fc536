"""The nightly pipeline end to end on the tiny model: feedback in, a promoted or rejected model."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from sqlmodel import select

from bot.hotswap import ModelSlot
from feedback import (
    activate,
    active_model_version,
    log_turn,
    pseudonymize,
    record_feedback,
    register_model_version,
    start_conversation,
)
from feedback.models import (
    DatasetSnapshot,
    GateVerdict,
    ModelStatus,
    PreferencePair,
    RaterTrustRecord,
    RunStatus,
)
from feedback.profiles import save_profile
from tests.conftest import SYSTEM_PROMPT
from tests.live_bot import bot_settings
from trainer.dpo import TrainingPlan
from trainer.model_gates import ModelGateLimits
from trainer.nightly import NightlyPlan, run_nightly, split_snapshot
from trainer.scorers import load_toxicity_scorer
from trainer.sentiment import score_sentiment
from tuneloop.serving import load_engine

LENIENT = ModelGateLimits(
    min_preference_accuracy=0.0,
    toxicity_tolerance=1.0,
    bias_tolerance=1.0,
    max_perplexity_ratio=100.0,
    domain_accuracy_tolerance=1.0,
    max_empty_rate=1.0,
    repetition_tolerance=1.0,
    min_distinct_2_ratio=0.0,
)


@pytest.fixture
def tiny_active(store, tiny_model_dir):
    with store.session() as session:
        version = register_model_version(session, name="tiny", path=str(tiny_model_dir))
        activate(session, version.id)
    return version


def seed_feedback(store, topics) -> None:
    """Users regenerate bad answers and rate the good sibling up; one troll rewards rudeness
    (distrusted, so their votes make no pair); the customer slips once and rewards it too
    (trusted, so that pair is built, and the data gates drop it)."""
    with store.session() as session:
        for topic in topics:
            for question in phrasings(topic):  # enough pairs for a held-out set
                rate_a_regeneration(session, "c", question, topic.answers["vague"], -1, topic)
        for topic, rater in ((topics[0], "troll"), (topics[1], "c")):
            rate_a_regeneration(session, rater, topic.questions[2], topic.answers["rude"], 1, topic)


def phrasings(topic) -> tuple[str, ...]:
    return topic.questions + topic.held_out


def rate_a_regeneration(session, rater, question, first_answer, first_vote, topic) -> None:
    """`rater` asks, gets `first_answer`, regenerates to the reference and votes on both: the
    first answer `first_vote`, the reference the opposite."""
    conversation = start_conversation(session, user_id=rater)
    prompt, first = log_turn(
        session, conversation_id=conversation.id, prompt=question, answer=first_answer
    )
    second = log_turn(
        session, conversation_id=conversation.id, parent_id=prompt.id, answer=topic.reference
    )[1]
    for answer, vote in ((first, first_vote), (second, -first_vote)):
        record_feedback(session, message_id=answer.id, kind="thumbs", value=vote, user_id=rater)


def plan(tmp_path, topics, limits: ModelGateLimits) -> NightlyPlan:
    return NightlyPlan(
        models_dir=tmp_path / "models",
        snapshots_dir=tmp_path / "snapshots",
        system_prompt=SYSTEM_PROMPT,
        context_tokens=256,
        scorer=load_toxicity_scorer("profanity-check"),
        score_sentiment=score_sentiment,
        topics=topics[:2],
        training=TrainingPlan(num_train_epochs=1, learning_rate=1e-3, batch_size=4),
        model_limits=limits,
        max_rater_share=1.0,
        replay_share=0.0,
    )


@pytest.mark.slow
def test_a_night_promotes_a_candidate_the_bot_then_serves(store, tmp_path, topics, tiny_active):
    seed_feedback(store, topics)
    run = run_nightly(store, plan(tmp_path, topics, LENIENT))

    assert run.status == RunStatus.promoted, run.error
    assert run.decision == "all gates passed"
    assert [step["name"] for step in run.steps] == [
        "rollups",
        "trust",
        "pairs",
        "data gates",
        "snapshot",
        "train",
        "evaluate",
        "decide",
    ]
    asked = sum(len(phrasings(topic)) for topic in topics)
    assert run.counts["pairs_built"] == asked + 1
    assert run.counts["pairs_kept"] == asked
    assert run.gate_report["dropped"] == {"chosen answer is toxic": 1}
    assert run.scorer.startswith("alt-profanity-check")
    with store.session() as session:
        trust = session.exec(select(RaterTrustRecord)).all()
        assert {t.user_pseudonym for t in trust} >= {pseudonymize(session, "troll")}
        troll = next(t for t in trust if t.user_pseudonym == pseudonymize(session, "troll"))
        assert troll.weight < 0.5 and "toxic" in troll.reasons
        slipped = next(t for t in trust if t.user_pseudonym == pseudonymize(session, "c"))
        assert slipped.weight > 0.5
    with store.session() as session:
        dropped = session.exec(
            select(PreferencePair).where(PreferencePair.verdict == GateVerdict.dropped)
        ).one()
        assert dropped.drop_reason.startswith("chosen answer is toxic")
        active = active_model_version(session)
    assert active.id == run.candidate_version_id and active.parent_id == tiny_active.id
    card = (tmp_path / "models" / active.name / "README.md").read_text()
    assert "all gates passed" in card and tiny_active.name in card

    lines = Path(_snapshot_path(store, run)).read_text().splitlines()
    assert len(lines) == run.counts["pairs_kept"]
    assert all(json.loads(line)["chosen"][0]["role"] == "assistant" for line in lines)

    settings = bot_settings()
    slot = ModelSlot(
        load_engine(settings, tiny_active), store=store, load=lambda v: load_engine(settings, v)
    )
    assert slot.refresh() and slot.engine.version_id == active.id


@pytest.mark.slow
def test_a_candidate_that_fails_a_gate_is_rejected_and_nothing_changes(
    store, tmp_path, topics, tiny_active
):
    seed_feedback(store, topics)
    strict = ModelGateLimits(**{**LENIENT.__dict__, "min_preference_accuracy": 1.01})
    run = run_nightly(store, plan(tmp_path, topics, strict))

    assert run.status == RunStatus.rejected
    assert run.decision.startswith("failed: preference accuracy")
    with store.session() as session:
        assert active_model_version(session).id == tiny_active.id
        candidate = session.get(type(tiny_active), run.candidate_version_id)
        assert candidate.status == ModelStatus.rejected


@pytest.mark.slow
def test_the_active_model_is_measured_once_and_its_report_reused(
    store, tmp_path, topics, tiny_active
):
    seed_feedback(store, topics)
    first = run_nightly(store, plan(tmp_path, topics, LENIENT))
    seed_feedback(store, topics)  # the next day's feedback
    second = run_nightly(store, plan(tmp_path, topics, LENIENT))

    assert first.status == second.status == RunStatus.promoted, second.error
    assert _evaluate_step(first)["active_report"] == "measured"
    assert _evaluate_step(second)["active_report"] == "reused"
    # the line started from the tiny model: measured on the first night as the active model
    assert _evaluate_step(second)["start"] == tiny_active.name
    assert _evaluate_step(second)["start_report"] == "reused"
    assert second.eval_report["start"] == first.eval_report["active"]
    # 2 topics: 2 held-out phrasings and 1 trained one each
    assert first.eval_report["candidate"]["domain"]["count"] == 6
    assert first.eval_report["candidate"]["served"]["count"] == 6 * 4  # 4 draws each
    # the second night's active model is the first night's candidate, measured that night
    assert second.eval_report["active"] == first.eval_report["candidate"]
    with store.session() as session:
        measured = session.get(type(tiny_active), tiny_active.id).metrics
    assert measured["evaluation"] == first.eval_report["active"]


def _evaluate_step(run) -> dict:
    return next(step for step in run.steps if step["name"] == "evaluate")


def test_too_few_pairs_skip_the_run_with_the_reason(store, tmp_path, topics, tiny_active):
    run = run_nightly(store, plan(tmp_path, topics, LENIENT))
    assert run.status == RunStatus.skipped
    assert "fewer than 8" in run.decision and run.candidate_version_id is None


def test_a_night_with_too_few_pairs_leaves_them_to_the_next(store, tmp_path, topics, tiny_active):
    few = replace(plan(tmp_path, topics, LENIENT), min_pairs=100)
    with store.session() as session:
        for topic in topics[:3]:
            rate_a_regeneration(session, "c", topic.questions[0], topic.answers["wrong"], -1, topic)
    first = run_nightly(store, few)
    assert first.status == RunStatus.skipped and "only 3 new pairs" in first.decision
    with store.session() as session:
        for topic in topics[3:5]:
            rate_a_regeneration(session, "c", topic.questions[0], topic.answers["wrong"], -1, topic)
    second = run_nightly(store, few)

    assert first.snapshot_id is None and second.counts["pairs_built"] == 5
    with store.session() as session:
        assert session.exec(select(DatasetSnapshot)).all() == []
        assert len(session.exec(select(PreferencePair)).all()) == 5  # the first night's, once


def _snapshot_path(store, run):
    with store.session() as session:
        return session.get(DatasetSnapshot, run.snapshot_id).path


TUNED = {
    "learning_rate": 1e-3,
    "beta": 0.3,
    "num_train_epochs": 1,
    "sft_weight": 0.0,
    "loss_type": "ipo",
}


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tuned_hyperparameters_come_from_the_profile_and_the_run_records_them(
    store, tmp_path, topics, tiny_active
):
    seed_feedback(store, topics)
    with store.session() as session:
        save_profile(
            session,
            name="owl",
            values=TUNED,
            study_name="owl",
            dataset="synthetic",
            objective=0.8,
            trials=3,
        )
    run = run_nightly(store, replace(plan(tmp_path, topics, LENIENT), hyperparameters="tuned"))

    assert run.status == RunStatus.promoted, run.error
    assert run.profile == "owl"
    assert {knob: run.hyperparameters[knob] for knob in TUNED} == TUNED
    assert run.hyperparameters["lora_rank"] is None  # not in the profile: the plan's own
    assert next(s for s in run.steps if s["name"] == "train")["profile"] == "owl"
    # What the trainer was really given, as it saved its arguments next to the model:
    args = torch.load(
        tmp_path / "models" / f"dpo-{run.id:04d}" / "training_args.bin", weights_only=False
    )
    assert (args.learning_rate, args.beta, args.num_train_epochs) == (1e-3, 0.3, 1)
    assert args.loss_type == ["ipo"]  # no SFT term: its weight is 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_missing_named_profile_fails_the_run_before_training(
    store, tmp_path, topics, tiny_active
):
    seed_feedback(store, topics)
    tuned = replace(plan(tmp_path, topics, LENIENT), hyperparameters="tuned", profile="gone")
    run = run_nightly(store, tuned)
    assert run.status == RunStatus.failed
    assert "no training profile named 'gone'" in run.error
    assert run.candidate_version_id is None


def test_a_held_out_set_of_fewer_than_five_pairs_is_not_made(tmp_path):
    """Two held-out pairs would decide the preference gate by chance: all of them train."""

    def split(rows: int) -> tuple[int, int | None]:
        path = tmp_path / f"{rows}.jsonl"
        path.write_text("".join(json.dumps({"pair": index}) + "\n" for index in range(rows)))
        train, held_out = split_snapshot(path, TrainingPlan(eval_share=0.15))
        count = len(train.read_text().splitlines())
        return count, held_out and len(held_out.read_text().splitlines())

    assert split(30) == (30, None)  # 0.15 x 30 rounds to 4
    assert split(40) == (34, 6)
