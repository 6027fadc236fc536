"""`tuneloop users forget` and `tuneloop retention`: erasure on request, purging on schedule."""

import getpass
from typing import Annotated

import typer
from rich.table import Table

from feedback.errors import SchemaOutOfDate
from feedback.migrate import require_current_schema
from feedback.models import ActorRole
from tuneloop.cli import app, console, fail, load_settings
from tuneloop.store import open_store

users_app = typer.Typer(help="End users' data: erasure on request.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def cli_actor() -> str:
    """Who runs a command, for the audit trail: the operating-system account."""
    return f"cli:{getpass.getuser()}"


@users_app.command("forget")
def forget(
    user_id: Annotated[str, typer.Argument(help="The id the user's client sent as `user`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a user: conversations, messages, feedback, derived pairs and snapshot rows, log
    lines, and the freed space of the database file. Lists the models trained on their data."""
    from tuneloop.governance import forget_user

    settings = load_settings()
    store = open_store(settings)
    try:
        require_current_schema(store.engine)
    except SchemaOutOfDate as exc:
        fail(exc)
    if not yes:
        typer.confirm(f"Erase everything user {user_id!r} left? This cannot be undone", abort=True)
    report = forget_user(settings, store, user_id, actor=cli_actor(), role=ActorRole.admin)
    rows = report.rows
    table = Table("erased", "count", title=f"Erasure receipt {report.receipt}")
    for name in ("conversations", "messages", "feedback_events", "reviews", "pairs"):
        table.add_row(name.replace("_", " "), str(getattr(rows, name)))
    table.add_row("snapshot rows", str(rows.snapshot_rows_removed))
    table.add_row("log lines", str(report.log_lines_removed))
    console.print(table)
    console.print(f"snapshots rewritten  {', '.join(rows.snapshots_rewritten) or 'none'}")
    console.print(f"database             {report.storage}")
    if rows.trained_versions:
        console.print(
            "[yellow]Model versions trained on this user's data (retrain or retire them if "
            f"the request covers models):[/yellow] {', '.join(rows.trained_versions)}"
        )
    else:
        console.print("No model version was trained on this user's data.")


@app.command("retention")
def retention(
    now: Annotated[bool, typer.Option("--now", help="Purge once, now.")] = False,
) -> None:
    """Purge texts older than governance.retention_days (`tuneloop scheduler` runs it daily)."""
    if not now:
        fail("Use --now to purge once now; `tuneloop scheduler` runs it on its schedule.")
    from tuneloop.governance import purge_expired_texts

    settings = load_settings()
    store = open_store(settings)
    try:
        require_current_schema(store.engine)
    except SchemaOutOfDate as exc:
        fail(exc)
    purged = purge_expired_texts(settings, store)
    if purged is None:
        console.print("governance.retention_days is not set: nothing expires")
        return
    console.print(f"purged texts written before {purged.before:%Y-%m-%d %H:%M} UTC")
    console.print(
        f"messages {purged.messages}, corrections and flags {purged.feedback_events}, "
        f"reviews {purged.reviews}, pairs {purged.pairs}, snapshots {len(purged.snapshots)}"
    )
