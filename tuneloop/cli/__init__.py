"""The `tuneloop` command: every user-facing entry point, and the only place that prints.

Commands import the heavy parts (torch, transformers) when they run, so `--help` stays fast.
"""

import logging
import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from tuneloop.settings import CONFIG_FILE_ENV, Settings

app = typer.Typer(
    help="tuneloop: a self-hosted chatbot that learns from its users' feedback.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
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


def load_settings() -> Settings:
    """The settings, or a readable message and exit code 2 when they are wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
        )
        fail(f"Invalid settings:\n{problems}")
    except FileNotFoundError as exc:
        fail(exc)


def fail(problem: Exception | str) -> NoReturn:
    """Say what is wrong, in red, and exit with status 2 (a usage or set-up problem)."""
    error_console.print(f"[red]{problem}[/red]")
    raise typer.Exit(2)


# The commands register themselves on `app` when their modules load.
from tuneloop.cli import (  # noqa: E402, F401
    bot,
    governance,
    loop,
    models,
    runs,
    scoring,
    store,
    training,
    tuning,
)
