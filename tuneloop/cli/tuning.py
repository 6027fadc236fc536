"""`tuneloop tune`: search DPO's hyperparameters with Optuna; the best becomes a profile."""

from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from feedback.errors import SchemaOutOfDate
from feedback.migrate import require_current_schema
from tuneloop.cli import app, console, fail, load_settings
from tuneloop.store import open_store


class Sampler(StrEnum):
    tpe = "tpe"
    random = "random"
    grid = "grid"


@app.command("tune")
def tune(
    trials: Annotated[
        int,
        typer.Option(
            min=1, help="Finished trials the study should hold; a resumed study runs the rest."
        ),
    ],
    sampler: Annotated[
        Sampler | None, typer.Option(help="Optuna sampler (default: tuning.sampler).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Start no new trial after this many seconds.")
    ] = None,
    study: Annotated[
        str | None,
        typer.Option(help="Study name; the same name resumes it. Default: dpo-<dataset>."),
    ] = None,
    synthetic: Annotated[
        bool,
        typer.Option(
            help="Tune on the demo corpus's own pairs (reference answer over weaker ones), "
            "before any feedback exists."
        ),
    ] = False,
) -> None:
    """Search learning rate, beta, epochs, SFT weight and loss (LoRA rank and alpha for
    adapters) by k-fold cross-validated held-out preference accuracy; the best trial becomes
    the training profile the nightly job uses with trainer.hyperparameters = "tuned"."""
    settings = load_settings()
    _quiet_libraries()
    from feedback import active_model_version
    from trainer.scorers import ScorerUnavailable
    from trainer.tuning import StudyMismatch, open_study, save_best_profile
    from tuneloop.tuning import NoSnapshot, tuning_pairs, tuning_plan

    store = open_store(settings)
    try:
        require_current_schema(store.engine)
        with store.session() as session:
            dataset, rows = tuning_pairs(session, settings, synthetic=synthetic)
            base = active_model_version(session)
        if base is None:
            fail("No active model to tune: run `tuneloop bootstrap` first.")
        plan = tuning_plan(settings, base, sampler=sampler)
        name = study or f"dpo-{dataset}"
        tuned = open_study(settings.database_url, name=name, dataset=dataset, plan=plan)
    except (SchemaOutOfDate, NoSnapshot, ScorerUnavailable, StudyMismatch, OSError) as exc:
        fail(exc)
    console.print(
        f"study {name}: {len(rows)} pairs ({dataset}), {plan.folds} folds, "
        f"sampler {plan.sampler}, model {base.name}"
    )
    _run(tuned, rows, plan, trials=trials, timeout=timeout)
    with store.session() as session:
        profile = save_best_profile(session, tuned)
    if profile is None:
        fail(f"No trial of study {name} completed: no training profile saved.")
    _print_profile(profile, plan.training.hyperparameters())


def _quiet_libraries() -> None:
    """A study trains many short runs: one line per trial here instead of the libraries' bars
    and notices for each."""
    import warnings

    import datasets
    import optuna
    from transformers.utils import logging as transformers_logging

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def _run(study, rows, plan, *, trials: int, timeout: float | None) -> None:
    """The study's trials with a progress bar, and a line for each finished trial."""
    from trainer.folds import TooFewPrompts
    from trainer.tuning import FINISHED, run_study

    done = len(study.get_trials(deepcopy=False, states=FINISHED))
    columns = (TextColumn("trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("trials", total=trials, completed=min(done, trials))

        def show(trial) -> None:
            progress.console.print(_trial_line(trial))
            progress.advance(task)

        try:
            run_study(study, rows, plan, trials=trials, timeout=timeout, on_trial=show)
        except TooFewPrompts as exc:
            fail(exc)


def _trial_line(trial) -> str:
    seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    params = ", ".join(f"{key} {_shown(value)}" for key, value in trial.params.items())
    if "accuracy" not in trial.user_attrs:  # pruned (or failed): where it stopped
        score = f"{trial.state.name.lower()} at step {trial.last_step}"
    else:
        accuracy, margin = trial.user_attrs["accuracy"], trial.user_attrs["margin"]
        score = f"score {trial.value:.4f} (accuracy {accuracy:.3f}, margin {margin:+.3f})"
    return f"trial {trial.number:>3}  {score}  {seconds:.0f} s  [dim]{params}[/dim]"


def _print_profile(profile, defaults: dict) -> None:
    table = Table(
        "knob",
        "default",
        "tuned",
        title=f"Training profile {profile.name}: objective {profile.objective:.4f} "
        f"after {profile.trials} trials",
    )
    for knob, value in defaults.items():
        if knob in profile.values:
            table.add_row(knob, _shown(value), _shown(profile.values[knob]))
    console.print(table)
    console.print(
        f'The nightly job trains with it when trainer.hyperparameters = "tuned" '
        f"(and trainer.profile = {profile.name!r}, or no profile named: the newest)."
    )


def _shown(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
