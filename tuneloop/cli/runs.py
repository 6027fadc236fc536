"""`tuneloop runs`: the nightly runs and what each decided, and one run's evaluation report
(every model gate: the candidate against the model it would have replaced)."""

from typing import Annotated

import typer
from rich.table import Table

from tuneloop.cli import app, console, fail, load_settings
from tuneloop.store import open_store

runs_app = typer.Typer(help="Nightly runs: what each decided, and why.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def runs_list(
    last: Annotated[int, typer.Option(min=1, help="How many of the newest runs.")] = 20,
) -> None:
    """The newest runs: when, what they trained on, and their decision."""
    from sqlmodel import col, select

    from feedback.models import TrainingRun

    with open_store(load_settings()).session() as session:
        runs = session.exec(
            select(TrainingRun).order_by(col(TrainingRun.id).desc()).limit(last)
        ).all()
    table = Table("run", "started", "trigger", "status", "pairs trained", "decision")
    for run in reversed(runs):
        table.add_row(
            str(run.id),
            f"{run.started_at:%Y-%m-%d %H:%M}",
            run.trigger,
            run.status.value,
            str(run.counts.get("pairs_trained", "")),
            run.decision or run.error or "",
        )
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: Annotated[int, typer.Argument(help="The run (`tuneloop runs list`).")]):
    """One run's counts, the pairs the data gates dropped, and its model gates."""
    from feedback.models import TrainingRun

    with open_store(load_settings()).session() as session:
        run = session.get(TrainingRun, run_id)
    if run is None:
        fail(f"no nightly run with id {run_id}: `tuneloop runs list` shows them")
    console.print(
        f"run       {run.id} ({run.trigger}, {run.started_at:%Y-%m-%d %H:%M}): {run.status.value}"
    )
    console.print(f"decision  {run.decision or run.error or ''}")
    console.print(f"counts    {run.counts}")
    if run.hyperparameters:
        console.print(f"trained   {run.hyperparameters} (from {run.profile or 'the settings'})")
    if dropped := run.gate_report.get("dropped"):
        console.print(f"dropped   {dropped}")
    for unchecked in run.gate_report.get("unchecked", []):
        console.print(f"[bold red]not checked[/]  {unchecked}")
    gates = run.gate_report.get("model_gates")
    if not gates:
        return
    table = Table(
        "gate",
        "candidate",
        "active",
        "start",
        "rule",
        "passed",
        title="Model gates: candidate vs active (and vs the line's start, where a gate looks back)",
    )
    for gate in gates:
        table.add_row(
            gate["gate"],
            _number(gate["candidate"]),
            _number(gate["active"]),
            _number(gate.get("start")),
            gate["rule"],
            "yes" if gate["passed"] else "[bold red]no[/]",
        )
    console.print(table)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
