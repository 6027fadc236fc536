"""The `tuneloop` command: every user-facing entry point, and the only place that prints.

Commands import the heavy parts (torch, transformers) when they run, so `--help` stays fast.
"""

import contextlib
import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from feedback import describe_store
from feedback.errors import SchemaOutOfDate
from feedback.migrate import current_revision, head_revision, require_current_schema, upgrade
from tuneloop.settings import CONFIG_FILE_ENV, Settings, describe_settings
from tuneloop.store import open_store

app = typer.Typer(
    help="tuneloop: a self-hosted chatbot that learns from its users' feedback.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Create, migrate and inspect the feedback store.", no_args_is_help=True)
app.add_typer(db_app, name="db")
models_app = typer.Typer(help="The model registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")
console = Console()
error_console = Console(stderr=True)


@app.callback()
def main(
    config: Annotated[
        Path | None,
        typer.Option(help=f"TOML settings file (default: ./tuneloop.toml; or ${CONFIG_FILE_ENV})."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    if config is not None:
        os.environ[CONFIG_FILE_ENV] = str(config)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or migrate it to this version of tuneloop."""
    settings = load_settings()
    store = open_store(settings)
    before = current_revision(store.engine)
    upgrade(store.engine)
    after = current_revision(store.engine)
    change = "already up to date" if before == after else f"{before or 'empty'} -> {after}"
    console.print(f"{_safe_url(store)}: schema {change}")


@db_app.command("info")
def db_info() -> None:
    """Show the database, its schema revision, row counts and the active model."""
    _print_store_state(load_settings())


@app.command("config")
def config_show(
    markdown: Annotated[bool, typer.Option(help="Print the reference as Markdown.")] = False,
) -> None:
    """List every setting with its environment variable, current value and help."""
    if markdown:
        print("| setting | environment variable | default | description |")
        print("|---|---|---|---|")
        for doc in describe_settings(Settings.model_construct()):
            print(f"| `{doc.key}` | `{doc.env_var}` | `{doc.value}` | {doc.description} |")
        return
    table = Table("setting", "env var", "value", "description")
    for doc in describe_settings(load_settings()):
        table.add_row(doc.key, doc.env_var, str(doc.value), doc.description)
    console.print(table)


@app.command("bootstrap")
def bootstrap_command(
    steps: Annotated[int | None, typer.Option(help="Training steps (default: 500).")] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed builds the same model.")] = 0,
) -> None:
    """Train the demo base model offline and make it the active model version."""
    from trainer.answer_mix import CATEGORIES
    from trainer.bootstrap import BootstrapConfig
    from trainer.corpus import load_topics
    from trainer.demo_model import bootstrap
    from tuneloop.serving import sampling_from

    settings = load_settings()
    store = open_store(settings)
    upgrade(store.engine)
    config = BootstrapConfig(seed=seed, **({"steps": steps} if steps else {}))
    version = bootstrap(
        store,
        models_dir=settings.models_dir,
        topics=load_topics(),
        system_prompt=settings.bot.system_prompt,
        context_tokens=settings.bot.context_tokens,
        sampling=sampling_from(settings.bot),
        config=config,
    )
    console.print(f"active model  {version.name} ({version.path})")
    table = Table("phrasings", *CATEGORIES, title="What the base model answers")
    for label, key in (("training", "answer_mix"), ("held out", "answer_mix_held_out")):
        table.add_row(label, *(f"{version.metrics[key][c]:.0%}" for c in CATEGORIES))
    console.print(table)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the bot: OpenAI-compatible API, every turn and rating logged to the store."""
    import uvicorn

    from tuneloop.serving import NoActiveModel, build_bot

    settings = load_settings()
    store = open_store(settings)
    try:
        require_current_schema(store.engine)
        app_, slot, logger = build_bot(settings, store)
    except (SchemaOutOfDate, NoActiveModel) as exc:
        error_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    slot.watch()
    console.print(f"serving {slot.engine.name} on http://{host}:{port}/v1")
    try:
        uvicorn.run(app_, host=host, port=port, log_level="info")
    finally:
        slot.stop()
        logger.close()


@app.command("chat")
def chat(
    port: Annotated[int, typer.Option(help="Port of the chat page.")] = 8501,
) -> None:
    """Open the end users' chat page (Streamlit), talking to the bot at bot.api_url."""
    import subprocess
    import sys

    page = Path(__file__).with_name("chat_app.py")
    command = [sys.executable, "-m", "streamlit", "run", str(page), "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--client.toolbarMode", "minimal"]
    raise typer.Exit(subprocess.call(command))


@app.command("nightly")
def nightly(
    now: Annotated[bool, typer.Option("--now", help="Run the pipeline once, now.")] = False,
) -> None:
    """Retrain from feedback: pairs, data gates, DPO, model gates, promote or reject."""
    if not now:
        error_console.print("Use --now to run once now; `tuneloop scheduler` runs it nightly.")
        raise typer.Exit(2)
    from trainer.nightly import run_nightly
    from trainer.scorers import ScorerUnavailable
    from tuneloop.training import nightly_plan

    settings = load_settings()
    store = open_store(settings)
    try:
        require_current_schema(store.engine)
        plan = nightly_plan(settings)
    except (SchemaOutOfDate, ScorerUnavailable) as exc:
        error_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
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
    store = open_store(settings)
    try:
        require_current_schema(store.engine)
    except SchemaOutOfDate as exc:
        error_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
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
            error_console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
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
            error_console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    console.print(f"active model  {version.name}")


@app.command("demo")
def demo(
    questions: Annotated[int, typer.Option(help="Questions the demo user asks.")] = 8,
) -> None:
    """Run the main job on embedded defaults: store, demo model, bot, a user who rates answers."""
    from bot.client import BotClient
    from bot.server import BackgroundServer
    from feedback import active_model_version
    from trainer.corpus import classify_answer, load_topics
    from tuneloop.serving import build_bot

    settings = load_settings()
    store = open_store(settings)
    upgrade(store.engine)
    with store.session() as session:
        has_model = active_model_version(session) is not None
    if not has_model:
        console.print("No model yet: building the demo model (a few minutes, once).")
        bootstrap_command(steps=None, seed=0)
    app_, slot, logger = build_bot(settings, store)
    table = Table("question", "answer", "judged", "rating", title=f"Talking to {slot.engine.name}")
    with BackgroundServer(app_) as server:
        client = BotClient(server.url, user="demo-user")
        for topic in load_topics()[:questions]:
            answer = client.ask([{"role": "user", "content": topic.questions[0]}])
            judged = classify_answer(topic, answer.text)
            thumbs = 1 if judged == "good" else -1
            client.rate(answer.message_id, "thumbs", value=thumbs)
            table.add_row(topic.questions[0], answer.text, judged, "👍" if thumbs > 0 else "👎")
    logger.close()
    console.print(table)
    _print_store_state(settings)
    console.print("Next: `tuneloop serve` and `tuneloop chat` to talk to the bot yourself.")


def load_settings() -> Settings:
    """The settings, or a readable message and exit code 2 when they are wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
        )
        error_console.print(f"[red]Invalid settings:[/red]\n{problems}")
    except FileNotFoundError as exc:
        error_console.print(f"[red]{exc}[/red]")
    raise typer.Exit(2)


def _print_store_state(settings: Settings) -> None:
    store = open_store(settings)
    current, head = current_revision(store.engine), head_revision()
    console.print(f"database  {_safe_url(store)}")
    state = "up to date" if current == head else "run `tuneloop db upgrade`"
    console.print(f"schema    {current or 'empty'} (code needs {head}: {state})")
    if current is None:
        return
    with store.session() as session:
        overview = describe_store(session)
    table = Table("table", "rows")
    for name, count in overview.row_counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    active = overview.active_model
    console.print(f"active model  {f'{active.name} ({active.path})' if active else 'none yet'}")
    console.print(f"last message  {overview.last_message_at or 'none yet'}")


def _safe_url(store) -> str:
    return store.engine.url.render_as_string(hide_password=True)
