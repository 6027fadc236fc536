"""`tuneloop bootstrap`, `serve`, `chat` and `dashboard`: the model, the bot and its pages."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from feedback.errors import SchemaOutOfDate
from feedback.migrate import require_current_schema, upgrade
from tuneloop.cli import app, console, fail, load_settings
from tuneloop.logs import log_to_file
from tuneloop.store import open_store


@app.command("bootstrap")
def bootstrap_command(
    steps: Annotated[int | None, typer.Option(help="Training steps (default: 500).")] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed builds the same model.")] = 0,
    base: Annotated[
        str | None,
        typer.Option(
            help="Adapt this pretrained base instead (smollm2-135m-instruct): import it, "
            "domain SFT, measure before and after (settings section `domain`)."
        ),
    ] = None,
) -> None:
    """Train the demo base model offline and make it the active model version; with --base,
    adapt a pretrained chat model to the shop instead."""
    if base is not None:
        _adapt(base, seed)
        return
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

    from bot.engine import NoSuchDevice
    from bot.server import KEEP_ALIVE_SECONDS
    from tuneloop.serving import NoActiveModel, build_bot

    settings = load_settings()
    log_to_file(settings.logs_dir)
    store = open_store(settings)
    try:
        require_current_schema(store.engine)
        app_, slot, logger = build_bot(settings, store)
    except (SchemaOutOfDate, NoActiveModel, NoSuchDevice) as exc:
        fail(exc)
    slot.watch()
    console.print(f"serving {slot.engine.name} on http://{host}:{port}/v1")
    try:
        uvicorn.run(
            app_, host=host, port=port, log_level="info", timeout_keep_alive=KEEP_ALIVE_SECONDS
        )
    finally:
        slot.stop()
        logger.close()


@app.command("dashboard")
def dashboard(
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8502,
    hash_password: Annotated[
        bool, typer.Option("--hash-password", help="Make a password hash, and exit.")
    ] = False,
    admin: Annotated[
        bool, typer.Option("--admin", help="With --hash-password: the admins' password.")
    ] = False,
) -> None:
    """Open the operators' dashboard (Streamlit): trends, review queue, runs, rater trust;
    for admins also erasure and settings."""
    if hash_password:
        from dashboards.auth import hash_password as make_hash

        role = "admin" if admin else "operator"
        password = typer.prompt(
            f"{role.title()} password", hide_input=True, confirmation_prompt=True
        )
        console.print(f"Set this as TUNELOOP_DASHBOARDS__{role.upper()}_PASSWORD_HASH:")
        print(make_hash(password))
        return
    raise typer.Exit(_streamlit("dashboard_app.py", port))


@app.command("chat")
def chat(
    port: Annotated[int, typer.Option(help="Port of the chat page.")] = 8501,
) -> None:
    """Open the end users' chat page (Streamlit), talking to the bot at bot.api_url."""
    raise typer.Exit(_streamlit("chat_app.py", port))


def _streamlit(script: str, port: int) -> int:
    import subprocess
    import sys

    page = Path(__file__).with_name(script)
    command = [sys.executable, "-m", "streamlit", "run", str(page), "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--client.toolbarMode", "minimal"]
    console.print(f"open http://127.0.0.1:{port}")
    return subprocess.call(command)


def _adapt(base: str, seed: int) -> None:
    from bot.import_errors import BaseNotInstalled, CorruptGGUF, ImportCheckFailed, UnknownBase
    from bot.model_import import import_base
    from trainer.domain_sft import SftPlan
    from tuneloop.domain import adapt_base

    settings = load_settings()
    store = open_store(settings)
    upgrade(store.engine)
    domain = settings.domain
    plan = SftPlan(
        general_share=domain.general_share,
        learning_rate=domain.learning_rate,
        num_train_epochs=domain.num_train_epochs,
        batch_size=domain.batch_size,
        lora_rank=domain.lora_rank,
        seed=seed,
    )
    try:
        imported = import_base(
            base,
            cache_dir=settings.model_cache_dir,
            on_step=lambda step: console.print(f"[dim]{step}...[/dim]"),
        )
    except (UnknownBase, BaseNotInstalled, CorruptGGUF, ImportCheckFailed) as exc:
        fail(exc)
    result = adapt_base(settings, store, imported, plan=plan)
    version = result.version
    console.print(f"active model  {version.name} (adapter on {result.base.name})")
    table = Table("held-out questions", "answered with the shop's facts")
    table.add_row("before domain SFT", f"{result.judged_good_before:.0%}")
    table.add_row("after domain SFT", f"{result.judged_good_after:.0%}")
    console.print(table)
    console.print(
        f"SFT  {version.metrics['train_rows']} rows, {version.metrics['train_runtime']:.0f} s"
    )
