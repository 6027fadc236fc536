"""The nightly job with canaries: a passing candidate becomes the canary, and the next night
checks it first and trains nothing while it is being compared."""

from dataclasses import replace

import pytest
from sqlmodel import select

from feedback import Store, activate, canary_model_version, make_engine, register_model_version
from feedback.migrate import upgrade
from feedback.models import CanaryDecision, CanaryOutcome, RunStatus
from tests.conftest import PSEUDONYM_KEY
from tests.trainer.test_nightly import LENIENT, plan, seed_feedback
from trainer.canary import CanaryPlan
from trainer.nightly import run_nightly


@pytest.mark.slow
def test_the_bad_candidate_is_let_through_as_a_canary_and_blocks_the_next_night(
    sqlite_url, tmp_path, topics, tiny_model_dir
):
    # SQLite only: the canary's store side runs on both databases in test_canary.py.
    store = Store(make_engine(sqlite_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    with store.session() as session:
        active = register_model_version(session, name="tiny", path=str(tiny_model_dir))
        activate(session, active.id)
    seed_feedback(store, topics)
    # The strict gate fails any candidate; sabotage lets this one through regardless.
    strict = replace(LENIENT, min_preference_accuracy=1.01)
    nightly = replace(plan(tmp_path, topics, strict), canary=CanaryPlan(share=0.5), sabotage=True)
    run = run_nightly(store, nightly)

    assert run.status == RunStatus.canary, run.error
    assert run.decision.startswith("let through on purpose (demo --inject-bad-candidate; failed")
    assert [step["name"] for step in run.steps][:2] == ["canary", "rollups"]
    train = next(step for step in run.steps if step["name"] == "train")
    assert 0 < train["sabotage"] <= run.counts["pairs_kept"]  # the training split, swapped
    with store.session() as session:
        canary = canary_model_version(session)
        assert canary.id == run.candidate_version_id
        [started] = session.exec(select(CanaryDecision)).all()
        assert started.outcome == CanaryOutcome.start and started.trigger == "nightly"

    second = run_nightly(store, replace(nightly, sabotage=False))
    assert second.status == RunStatus.skipped
    assert second.decision == (
        f"canary {canary.name} is still being compared: waiting for rated answers: 0 of 200"
    )
    assert [step["name"] for step in second.steps] == ["canary"]
