"""Builds the parts from settings: the one place that turns configuration into objects."""

import contextlib
import os
import secrets
from pathlib import Path

from fastapi import FastAPI

from bot.api import create_app
from bot.engine import Engine, Sampling
from bot.hotswap import ModelSlot
from bot.turn_logger import TurnLogger
from feedback import Store, active_model_version
from feedback.models import ModelVersion
from tuneloop.settings import BotSettings, Settings

PSEUDONYM_KEY_FILE = "pseudonym.key"


class NoActiveModel(LookupError):
    """There is no model to serve yet."""


def open_store(settings: Settings) -> Store:
    return Store.from_url(
        settings.database_url,
        pseudonym_key=pseudonym_key(settings),
        echo=settings.store.echo_sql,
    )


def pseudonym_key(settings: Settings) -> bytes:
    """The configured key, else the one kept in the data directory (made on first use)."""
    if settings.store.pseudonym_key is not None:
        return settings.store.pseudonym_key.get_secret_value().encode()
    path = settings.data_dir / PSEUDONYM_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.draft")
        draft.touch(mode=0o600)
        draft.write_text(secrets.token_hex(32))
        # link() creates the name only if nobody else did first: every process reads one key.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"{path} is empty: delete it to make a new key, or restore the old one")
    return key.encode()


def sampling_from(bot: BotSettings) -> Sampling:
    """The default sampling settings of the bot section."""
    return Sampling(temperature=bot.temperature, top_p=bot.top_p, max_new_tokens=bot.max_new_tokens)


def load_engine(settings: Settings, version: ModelVersion | None) -> Engine:
    """The engine for `version`, or for the model the settings pin (`bot.model`)."""
    bot = settings.bot
    if bot.model:
        return Engine.load(
            bot.model,
            adapter=bot.adapter,
            system_prompt=bot.system_prompt,
            context_tokens=bot.context_tokens,
        )
    if version is None:
        raise NoActiveModel(
            "no active model version: run `tuneloop bootstrap`, or set TUNELOOP_BOT__MODEL "
            "to a model directory or hub id"
        )
    return Engine.load(
        version.path,
        adapter=version.adapter_path,
        name=version.name,
        version_id=version.id,
        system_prompt=bot.system_prompt,
        context_tokens=bot.context_tokens,
    )


def build_bot(settings: Settings, store: Store) -> tuple[FastAPI, ModelSlot, TurnLogger]:
    """The bot's app, serving the active model (hot-swapped on promotion) and logging turns."""
    with store.session() as session:
        version = active_model_version(session)
    engine = load_engine(settings, version)
    pinned = settings.bot.model is not None
    slot = ModelSlot(
        engine,
        store=None if pinned else store,
        load=lambda new_version: load_engine(settings, new_version),
    )
    logger = TurnLogger(store)
    app = create_app(
        slot=slot,
        store=store,
        logger=logger,
        defaults=sampling_from(settings.bot),
        api_keys=[key.get_secret_value() for key in settings.bot.api_keys],
    )
    return app, slot, logger
