"""Hyperparameter search with Optuna: k-fold cross-validated DPO trials, pruned epoch by epoch,
kept in the project's database (resumable after a kill); the best trial becomes a profile.
"""

import json
import logging
import math
import statistics
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import optuna
import sqlalchemy as sa
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState
from sqlmodel import Session
from transformers import TrainerCallback

from feedback.db import BUSY_TIMEOUT_S
from feedback.models import TrainingProfile
from feedback.profiles import save_profile
from trainer.dpo import TrainingPlan, train_dpo, trains_adapter
from trainer.folds import Fold, grouped_folds
from trainer.search_space import SearchSpace

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# The margin only breaks ties: below one pair's share of the accuracy for sets up to 5,000 pairs.
TIE_BREAK = 1e-4


@dataclass(frozen=True)
class TuningPlan:
    """What a study searches, what it trains, and how it runs."""

    space: SearchSpace
    training: TrainingPlan  # fixed knobs (batch size, seed, overrides) and the defaults
    base_path: str
    system_prompt: str
    context_tokens: int
    base_adapter: str | None = None
    folds: int = 3
    sampler: str = "tpe"  # tpe, random or grid
    grid_points: int = 3
    startup_trials: int = 4
    heartbeat_seconds: int = 10

    @property
    def adapters(self) -> bool:
        return trains_adapter(self.training, self.base_adapter)


class StudyMismatch(ValueError):
    """A study of that name exists but was tuned on other data."""


def open_study(url: str, *, name: str, dataset: str, plan: TuningPlan) -> optuna.Study:
    """Create the study `name` in the database at `url`, or load it to go on tuning; trials
    whose heartbeat stopped (a killed process) are failed and queued again once."""
    with warnings.catch_warnings():  # heartbeats and retries are "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = RDBStorage(
            url,
            engine_kwargs=_engine_options(url),
            heartbeat_interval=plan.heartbeat_seconds,
            grace_period=2 * plan.heartbeat_seconds,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="maximize",
        sampler=_sampler(plan),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=plan.startup_trials),
        load_if_exists=True,
    )
    tuned_on = study.user_attrs.get("dataset")
    if tuned_on is None:
        study.set_user_attr("dataset", dataset)
    elif tuned_on != dataset:
        raise StudyMismatch(
            f"study {name!r} tuned on {tuned_on}, not on {dataset}: name another with --study"
        )
    return study


def run_study(
    study: optuna.Study,
    rows: list[dict],
    plan: TuningPlan,
    *,
    trials: int,
    timeout: float | None = None,
    on_trial: Callable[[FrozenTrial], None] | None = None,
) -> None:
    """Run trials until the study holds `trials` finished ones (several workers may share it),
    or until `timeout` seconds have passed. A new study's first trial is `plan.training`'s."""
    remaining = trials - len(study.get_trials(deepcopy=False, states=FINISHED))
    if remaining <= 0:
        return
    folds = grouped_folds(rows, folds=plan.folds, seed=plan.training.seed)
    if not study.trials and plan.sampler != "grid":
        # A new study tries the current values first: the best trial is then never worse, by
        # the same cross-validation, than not tuning at all.
        current = plan.space.within(plan.training.hyperparameters(), adapters=plan.adapters)
        study.enqueue_trial(current, skip_if_exists=True)
    log.info(
        "study %s: %d trials to run, %d pairs in %d folds",
        study.study_name,
        remaining,
        len(rows),
        plan.folds,
    )
    callbacks = [optuna.study.MaxTrialsCallback(trials, states=FINISHED)]
    if on_trial is not None:
        callbacks.append(lambda _study, trial: on_trial(trial))
    study.optimize(
        partial(_objective, folds=folds, plan=plan),
        n_trials=remaining,
        timeout=timeout,
        callbacks=callbacks,
        gc_after_trial=True,
    )


def save_best_profile(session: Session, study: optuna.Study) -> TrainingProfile | None:
    """The best trial's values as the training profile named after the study (None before
    any trial completed)."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    best = study.best_trial
    return save_profile(
        session,
        name=study.study_name,
        values=best.params,
        study_name=study.study_name,
        dataset=study.user_attrs["dataset"],
        objective=best.value,
        trials=len(study.get_trials(deepcopy=False, states=FINISHED)),
    )


def fold_score(accuracy: float, margin: float, beta: float) -> float:
    """Held-out preference accuracy, the mean implicit reward margin breaking ties (divided by
    beta, so that trials with different betas compare on the log-ratio)."""
    return accuracy + TIE_BREAK * math.tanh(margin / beta)


class ReportEpochs(TrainerCallback):
    """Hands the trial its cross-validated score so far at each epoch's end (the folds done,
    and this fold at this epoch), and stops the trial when the pruner says it is worse than
    the median of earlier trials at the same fold and epoch."""

    def __init__(
        self, trial: optuna.Trial, *, first_step: int, beta: float, earlier: Sequence[float] = ()
    ) -> None:
        self.trial, self.first_step, self.beta = trial, first_step, beta
        self.earlier = list(earlier)  # the scores of the folds done
        self.reported: set[int] = set()

    def on_evaluate(self, args, state, control, metrics=None, **kwargs) -> None:
        step = self.first_step + math.ceil(state.epoch or 0)
        if step in self.reported or not metrics:  # the final evaluation repeats the best epoch
            return
        self.reported.add(step)
        score = statistics.fmean(
            [
                *self.earlier,
                fold_score(
                    metrics["eval_rewards/accuracies"], metrics["eval_rewards/margins"], self.beta
                ),
            ]
        )
        self.trial.report(score, step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"score {score:.4f} at step {step}")


def _objective(trial: optuna.Trial, *, folds: list[Fold], plan: TuningPlan) -> float:
    training = replace(plan.training, **plan.space.suggest(trial, adapters=plan.adapters))
    accuracies, margins, scores = [], [], []
    with tempfile.TemporaryDirectory(prefix=f"tuneloop-trial-{trial.number}-") as directory:
        for index, (train, held_out) in enumerate(folds):
            report = ReportEpochs(
                trial, first_step=index * plan.space.max_epochs, beta=training.beta, earlier=scores
            )
            metrics = _train_fold(index, train, held_out, training, plan, Path(directory), report)
            accuracies.append(metrics["eval_rewards/accuracies"])
            margins.append(metrics["eval_rewards/margins"])
            scores.append(fold_score(accuracies[-1], margins[-1], training.beta))
    accuracy, margin = statistics.fmean(accuracies), statistics.fmean(margins)
    trial.set_user_attr("accuracy", accuracy)
    trial.set_user_attr("margin", margin)
    trial.set_user_attr("fold_accuracies", accuracies)
    return fold_score(accuracy, margin, training.beta)


def _train_fold(
    index: int,
    train: list[dict],
    held_out: list[dict],
    training: TrainingPlan,
    plan: TuningPlan,
    directory: Path,
    report: ReportEpochs,
) -> dict[str, float]:
    train_path = directory / f"fold-{index}.train.jsonl"
    held_out_path = directory / f"fold-{index}.held-out.jsonl"
    for path, rows in ((train_path, train), (held_out_path, held_out)):
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return train_dpo(
        base_path=plan.base_path,
        base_adapter=plan.base_adapter,
        train_path=train_path,
        eval_path=held_out_path,
        output_dir=directory / f"fold-{index}",
        plan=training,
        system_prompt=plan.system_prompt,
        context_tokens=plan.context_tokens,
        callbacks=[report],
        quiet=True,
    )


def _sampler(plan: TuningPlan) -> optuna.samplers.BaseSampler:
    if plan.sampler == "grid":
        grid = plan.space.grid(plan.grid_points, adapters=plan.adapters)
        return optuna.samplers.GridSampler(grid)
    if plan.sampler == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler()


def _engine_options(url: str) -> dict:
    """SQLite: wait for the store's writers as the store's own engine does."""
    if sa.make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": BUSY_TIMEOUT_S}}
    return {}
