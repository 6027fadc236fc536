"""Builds the bot from settings: the engine for the active model, hot-swap, the API app."""

from fastapi import FastAPI

from bot.api import create_app
from bot.engine import Engine, Sampling
from bot.hotswap import ModelSlot
from bot.turn_logger import TurnLogger
from feedback import Store, active_model_version
from feedback.models import ModelVersion
from tuneloop.settings import BotSettings, Settings


class NoActiveModel(LookupError):
    """There is no model to serve yet."""


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
    return Engine.load_version(
        version, system_prompt=bot.system_prompt, context_tokens=bot.context_tokens
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
