"""Hyperparameter search: grouped folds, the search space, pruning, and a real study on the tiny
model kept in the store's database."""

from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState
from pydantic import ValidationError

from feedback.profiles import find_profile
from tests.conftest import SYSTEM_PROMPT
from trainer.corpus import corpus_pairs
from trainer.dpo import TrainingPlan
from trainer.folds import TooFewPrompts, grouped_folds, pair_group, sample_pairs
from trainer.search_space import Range, SearchSpace
from trainer.tuning import (
    ReportEpochs,
    StudyMismatch,
    TuningPlan,
    open_study,
    run_study,
    save_best_profile,
)

ONE_EPOCH = Range(low=1, high=1.5)  # whole epochs in the range: only 1


def test_folds_hold_each_prompt_out_once_with_all_its_pairs(topics):
    rows = corpus_pairs(topics[:5])
    folds = grouped_folds(rows, folds=3, seed=0)

    held_groups = [{pair_group(row) for row in held} for _, held in folds]
    assert sorted(g for groups in held_groups for g in groups) == sorted(t.id for t in topics[:5])
    for train, held in folds:
        assert len(train) + len(held) == len(rows)
        assert not {pair_group(r) for r in train} & {pair_group(r) for r in held}
    sizes = sorted(len(held) for _, held in folds)
    assert sizes[-1] - sizes[0] <= 15  # one topic's pairs at most: balanced


def test_pairs_without_a_group_go_by_their_normalized_prompt():
    row = {"prompt": [{"role": "user", "content": "Where's my ORDER?!"}]}
    same = {"prompt": [{"role": "user", "content": "where s my order"}]}
    assert pair_group(row) == pair_group(same)


def test_fewer_prompts_than_folds_is_a_clear_error(topics):
    with pytest.raises(TooFewPrompts, match="1 distinct prompts cannot make 2 folds"):
        grouped_folds(corpus_pairs(topics[:1]), folds=2, seed=0)


def test_a_sample_takes_whole_prompts_up_to_the_limit(topics):
    rows = corpus_pairs(topics)
    sample = sample_pairs(rows, max_pairs=40, seed=0)
    assert len(sample) == 30  # two topics of 15 pairs; a third would pass the limit
    groups = {pair_group(row) for row in sample}
    assert all(sum(pair_group(r) == g for r in rows) == 15 for g in groups)
    assert sample == sample_pairs(rows, max_pairs=40, seed=0)  # a resumed study: the same pairs


@pytest.mark.parametrize(
    ("space", "problem"),
    [
        ({"learning_rate": {"low": 1e-3, "high": 1e-5}}, "must be below high"),
        ({"learning_rate": {"low": 0, "high": 1e-3}}, "learning_rate must be positive"),
        ({"beta": {"low": 0, "high": 1, "log": True}}, "log-scale range must start above 0"),
        ({"sft_weight": {"low": -1, "high": 1}}, "sft_weight cannot be negative"),
        ({"num_train_epochs": {"low": 1.2, "high": 1.8}}, "whole number"),
        ({"loss_type": ["sigmoid", "dpo"]}, "loss_type"),
        ({"lora_rank": []}, "lora_rank"),
    ],
)
def test_an_invalid_search_space_says_what_is_wrong(space, problem):
    with pytest.raises(ValidationError, match=problem):
        SearchSpace.model_validate(space)


def test_the_grid_spaces_log_ranges_evenly_and_epochs_in_whole_numbers():
    grid = SearchSpace().grid(3, adapters=False)
    assert grid["learning_rate"] == pytest.approx([1e-6, 10**-4.5, 1e-3])
    assert grid["num_train_epochs"] == [1, 2, 3]
    assert "lora_rank" not in grid
    assert SearchSpace().grid(3, adapters=True)["lora_alpha"] == [16, 32, 64]


def test_only_current_values_inside_the_space_seed_a_new_study():
    space = SearchSpace(num_train_epochs=Range(low=1, high=3), loss_type=["ipo"])
    current = TrainingPlan(learning_rate=0.5, num_train_epochs=2.0).hyperparameters()
    assert space.within(current, adapters=False) == {
        "beta": 1.0,
        "sft_weight": 0.2,
        "num_train_epochs": 2,
    }


def test_epochs_report_the_running_cross_validated_score_and_bad_trials_are_pruned():
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1)
    )
    study.add_trial(
        optuna.create_trial(
            value=0.9, intermediate_values={1: 0.9, 2: 0.9}, state=TrialState.COMPLETE
        )
    )
    good = study.ask()
    second_fold = ReportEpochs(good, first_step=1, beta=0.1, earlier=[1.0])
    second_fold.on_evaluate(None, SimpleNamespace(epoch=1.0), None, metrics=_eval(0.9))
    # The final evaluation after training repeats the best epoch's: not reported again.
    second_fold.on_evaluate(None, SimpleNamespace(epoch=1.0), None, metrics=_eval(0.1))
    assert study.trials[-1].intermediate_values == pytest.approx({2: 0.95}, abs=1e-3)

    bad = study.ask()
    with pytest.raises(optuna.TrialPruned):
        ReportEpochs(bad, first_step=0, beta=0.1).on_evaluate(
            None, SimpleNamespace(epoch=1.0), None, metrics=_eval(0.5)
        )


def _eval(accuracy: float) -> dict[str, float]:
    return {"eval_rewards/accuracies": accuracy, "eval_rewards/margins": 0.0}


def tuning_plan(model_dir) -> TuningPlan:
    return TuningPlan(
        space=SearchSpace(num_train_epochs=ONE_EPOCH, loss_type=["sigmoid", "ipo"]),
        training=TrainingPlan(batch_size=8),
        base_path=str(model_dir),
        system_prompt=SYSTEM_PROMPT,
        context_tokens=256,
        folds=2,
    )


@pytest.mark.slow
def test_a_three_trial_study_is_stored_and_its_best_trial_becomes_a_profile(
    store, tiny_model_dir, topics
):
    url = store.engine.url.render_as_string(hide_password=False)
    plan = tuning_plan(tiny_model_dir)
    rows = sample_pairs(corpus_pairs(topics), max_pairs=30, seed=0)
    study = open_study(url, name="night", dataset="synthetic", plan=plan)
    seen = []
    run_study(study, rows, plan, trials=3, on_trial=seen.append)

    stored = optuna.load_study(study_name="night", storage=url)  # read back from the database
    trials = stored.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 3 and [t.number for t in seen] == [0, 1, 2]
    for trial in trials:
        assert set(trial.params) == {
            "learning_rate",
            "beta",
            "sft_weight",
            "num_train_epochs",
            "loss_type",
        }
        assert sorted(trial.intermediate_values) == [1, 2]  # fold 0 epoch 1, fold 1 epoch 1
        assert 0 <= trial.user_attrs["accuracy"] <= 1
        assert len(trial.user_attrs["fold_accuracies"]) == 2
    current = plan.training  # a new study tries the current values first
    assert {k: trials[0].params[k] for k in ("learning_rate", "beta", "loss_type")} == {
        "learning_rate": current.learning_rate,
        "beta": current.beta,
        "loss_type": current.loss_type,
    }
    run_study(study, rows, plan, trials=3)  # the study holds 3 already: nothing more runs
    assert len(stored.get_trials()) == 3

    with store.session() as session:
        profile = save_best_profile(session, study)
        assert find_profile(session) == profile
    assert profile.name == "night" and profile.dataset == "synthetic" and profile.trials == 3
    assert profile.values == stored.best_params
    assert profile.objective == pytest.approx(stored.best_value)
    with pytest.raises(StudyMismatch, match="tuned on synthetic"):
        open_study(url, name="night", dataset="0192-snapshot", plan=plan)
