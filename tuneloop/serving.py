"""Builds the bot from settings: the engine for the active model, hot-swap, the API app."""

from fastapi import FastAPI

from bot.api import create_app
from bot.engine import Engine, Sampling
from bot.guard import Flagger, Guard
from bot.hotswap import ModelSlot
from bot.turn_logger import TurnLogger
from feedback import Store, active_model_version
from feedback.models import ModelVersion
from trainer.sentiment import score_sentiment
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


def build_guard(settings: Settings, flag: Flagger | None = None) -> Guard | None:
    """The serving guard when `bot.guard` is on: `flag`, or else the configured toxicity
    scorer's flagger, with the persona's fallback answer."""
    if not settings.bot.guard:
        return None
    if flag is None:
        from tuneloop.scoring import text_flagger  # loads a scorer: only when the guard is on

        flag = text_flagger(settings)
    return Guard(flag, settings.bot.guard_fallback)


def build_bot(
    settings: Settings, store: Store, *, flag: Flagger | None = None
) -> tuple[FastAPI, ModelSlot, TurnLogger]:
    """The bot's app, serving the active model (hot-swapped on promotion) and logging turns.

    `flag` replaces the configured flagger of the serving guard (when the guard is on).
    """
    with store.session() as session:
        version = active_model_version(session)
    engine = load_engine(settings, version)
    pinned = settings.bot.model is not None
    slot = ModelSlot(
        engine,
        store=None if pinned else store,
        load=lambda new_version: load_engine(settings, new_version),
    )
    logger = TurnLogger(store, score_sentiment=score_sentiment)
    app = create_app(
        slot=slot,
        store=store,
        logger=logger,
        defaults=sampling_from(settings.bot),
        api_keys=[key.get_secret_value() for key in settings.bot.api_keys],
        guard=build_guard(settings, flag),
    )
    return app, slot, logger
