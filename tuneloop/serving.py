"""Builds the bot from settings: the engines for the active model and the canary, hot-swap, the
canary checks after rated answers, the API app."""

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from bot.admin_api import Forget
from bot.api import create_app
from bot.engine import Engine, Sampling
from bot.guard import Flagger, Guard
from bot.hotswap import ModelSlot
from bot.rate_limits import RateLimits
from bot.turn_logger import TurnLogger
from feedback import Store, active_model_version
from feedback.models import ActorRole, ModelVersion
from trainer.sentiment import score_sentiment
from tuneloop.canary import CanaryTrigger, canary_plan, check_canary
from tuneloop.governance import forget_user
from tuneloop.settings import BotSettings, GovernanceSettings, Settings


class NoActiveModel(LookupError):
    """There is no model to serve yet."""


def sampling_from(bot: BotSettings) -> Sampling:
    """The default sampling settings of the bot section."""
    return Sampling(temperature=bot.temperature, top_p=bot.top_p, max_new_tokens=bot.max_new_tokens)


def load_engine(
    settings: Settings, version: ModelVersion | None, *, beside: Sequence[Engine] = ()
) -> Engine:
    """The engine for `version`, or for the model the settings pin (`bot.model`). A LoRA
    version whose base model one of the engines `beside` holds with an adapter of its own is
    loaded into that model as a second adapter (one copy of the base in memory)."""
    bot = settings.bot
    if bot.model:
        return Engine.load(
            bot.model,
            adapter=bot.adapter,
            system_prompt=bot.system_prompt,
            context_tokens=bot.context_tokens,
            device=bot.device,
        )
    if version is None:
        raise NoActiveModel(
            "no active model version: run `tuneloop bootstrap`, or set TUNELOOP_BOT__MODEL "
            "to a model directory or hub id"
        )
    for engine in beside:
        if version.adapter_path and engine.adapter is not None and engine.base == version.path:
            return engine.beside(version.adapter_path, name=version.name, version_id=version.id)
    return Engine.load_version(
        version,
        system_prompt=bot.system_prompt,
        context_tokens=bot.context_tokens,
        device=bot.device,
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


def rate_limits(governance: GovernanceSettings, store: Store) -> RateLimits:
    """The per-user limits of the governance section."""
    return RateLimits(
        store,
        chat_requests_per_minute=governance.chat_requests_per_minute,
        feedback_events_per_day=governance.feedback_events_per_day,
    )


def admin_erasure(settings: Settings, store: Store, logger: TurnLogger) -> Forget:
    """`forget(user_id, actor)` for the admin API: an admin's erasure, with the user's turns
    still queued for the store written first, so that none lands after it."""

    def forget(user_id: str, actor: str) -> dict[str, Any]:
        logger.flush()
        report = forget_user(settings, store, user_id, actor=actor, role=ActorRole.admin)
        return report.as_dict()

    return forget


def build_bot(
    settings: Settings, store: Store, *, flag: Flagger | None = None
) -> tuple[FastAPI, ModelSlot, TurnLogger]:
    """The bot's app, serving the active model (hot-swapped on promotion) and the canary on its
    share of conversations, logging turns, and checking the canary after every
    `canary.check_every` rated answers (acting on a decision at once).

    `flag` replaces the configured flagger of the serving guard (when the guard is on). The
    governance section sets the default training consent, the per-user rate limits and the
    admin API's keys (DELETE /v1/users/{user_id}/data).
    """
    with store.session() as session:
        version = active_model_version(session)
    engine = load_engine(settings, version)
    pinned = settings.bot.model is not None
    slot = ModelSlot(
        engine,
        store=None if pinned else store,
        load=lambda new_version: load_engine(
            settings, new_version, beside=[e for e in (slot.engine, slot.canary) if e]
        ),
        canary_share=settings.canary.share,
    )
    slot.refresh()  # a canary already in service
    logger = TurnLogger(store, score_sentiment=score_sentiment)
    plan = canary_plan(settings)

    def check_and_swap() -> None:
        logger.flush()  # the withheld answers just counted may still be queued
        if check_canary(store, plan, trigger="ratings") is not None:
            slot.refresh()  # a rollback takes effect now, not at the next poll

    app = create_app(
        slot=slot,
        store=store,
        logger=logger,
        defaults=sampling_from(settings.bot),
        max_batch=settings.bot.max_batch,
        api_keys=[key.get_secret_value() for key in settings.bot.api_keys],
        guard=build_guard(settings, flag),
        on_signal=None
        if pinned
        else CanaryTrigger(check_and_swap, every=settings.canary.check_every),
        default_consent=settings.governance.default_consent,
        limits=rate_limits(settings.governance, store),
        admin_keys=[key.get_secret_value() for key in settings.governance.admin_api_keys],
        forget=admin_erasure(settings, store, logger),
    )
    return app, slot, logger
