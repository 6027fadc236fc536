"""`tuneloop nightly`, `scheduler` and `models`: retraining, its schedule, the registry."""

import contextlib
from typing import Annotated

import typer
from rich.table import Table

from feedback.errors import SchemaOutOfDate
from feedback.migrate import require_current_schema
from tuneloop.cli import app, console, fail, load_settings
from tuneloop.logs import log_to_file
from tuneloop.store import open_store

models_app = typer.Typer(help="The model registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.command("nightly")
def nightly(
    now: Annotated[bool, typer.Option("--now", help="Run the pipeline once, now.")] = False,
) -> None:
    """Retrain from feedback: pairs, data gates, DPO, model gates, promote or reject."""
    if not now:
        fail("Use --now to run once now; `tuneloop scheduler` runs it nightly.")
    from trainer.nightly import run_nightly
    from trainer.scorers import ScorerUnavailable
    from tuneloop.training import nightly_plan

    settings = load_settings()
    log_to_file(settings.logs_dir)
    store = open_store(settings)
    try:
        require_current_schema(store.engine)
        plan = nightly_plan(settings)
    except (SchemaOutOfDate, ScorerUnavailable) as exc:
        fail(exc)
    run = run_nightly(store, plan, trigger="cli")
    table = Table("step", "seconds", "detail", title=f"Nightly run {run.id}: {run.status.value}")
    for step in run.steps:
        detail = {k: v for k, v in step.items() if k not in {"name", "seconds"}}
        table.add_row(step["name"], f"{step['seconds']:.1f}", str(detail)[:200])
    console.print(table)
    console.print(f"counts    {run.counts}")
    console.print(f"scorer    {run.scorer}")
    console.print(f"decision  {run.decision}")
    if run.status.value == "failed":
        raise typer.Exit(1)


@app.command("scheduler")
def scheduler() -> None:
    """Run the nightly job on its schedule (trainer.schedule, trainer.timezone) until stopped."""
    from tuneloop.scheduling import build_scheduler, next_run

    settings = load_settings()
    log_to_file(settings.logs_dir)
    store = open_store(settings)
    try:
        require_current_schema(store.engine)
    except SchemaOutOfDate as exc:
        fail(exc)
    schedule = build_scheduler(settings, store)
    console.print(f"nightly retraining '{settings.trainer.schedule}' ({settings.trainer.timezone})")
    console.print(f"next run  {next_run(settings):%Y-%m-%d %H:%M %Z}; Ctrl+C stops")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        schedule.start()


@models_app.command("list")
def models_list() -> None:
    """Every model version with its status and lineage."""
    from feedback import list_versions

    with open_store(load_settings()).session() as session:
        versions = list_versions(session)
    table = Table("id", "name", "status", "parent", "created", "path")
    for version in versions:
        table.add_row(
            str(version.id),
            version.name,
            version.status.value,
            str(version.parent_id or ""),
            f"{version.created_at:%Y-%m-%d %H:%M}",
            version.path,
        )
    console.print(table)


@models_app.command("promote")
def models_promote(version_id: Annotated[int, typer.Argument(help="Version to activate.")]) -> None:
    """Make a version the active one (the bot swaps to it without a restart)."""
    from feedback import activate
    from feedback.errors import UnknownModelVersion

    with open_store(load_settings()).session() as session:
        try:
            version = activate(session, version_id)
        except UnknownModelVersion as exc:
            fail(exc)
        _audit(session, "promote", version)
    console.print(f"active model  {version.name}")


@models_app.command("rollback")
def models_rollback() -> None:
    """Put the previously active version back in service."""
    from feedback import rollback
    from feedback.errors import UnknownModelVersion

    with open_store(load_settings()).session() as session:
        try:
            version = rollback(session)
        except UnknownModelVersion as exc:
            fail(exc)
        _audit(session, "rollback", version)
    console.print(f"active model  {version.name}")


def _audit(session, action: str, version) -> None:
    from feedback import record_audit
    from feedback.models import ActorRole
    from tuneloop.cli.governance import cli_actor

    record_audit(
        session,
        actor=cli_actor(),
        role=ActorRole.admin,
        action=action,
        target=f"model_version:{version.id}",
        details={"name": version.name},
    )
