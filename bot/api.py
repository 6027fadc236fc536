"""The OpenAI-compatible HTTP API: chat completions (streaming or not), regenerate, feedback."""

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from bot.admin_api import Forget, admin_router
from bot.batching import Batcher
from bot.completions import completion, completion_chunks
from bot.engine import Engine, Generation, Sampling
from bot.errors import install_error_handlers, require_api_key
from bot.guard import Guard, GuardReport, Outcome, Withheld, attempt_sampling
from bot.hotswap import ModelSlot
from bot.metrics import BotMetrics
from bot.rate_limits import RateLimits
from bot.schemas import (
    ChatCompletionRequest,
    FeedbackRequest,
    FeedbackResponse,
    RegenerateRequest,
    SamplingFields,
    TuneloopIds,
)
from bot.turn_logger import TurnLogger
from feedback import Store, check_follow_up, message_thread, record_feedback
from feedback.columns import new_id
from feedback.consent import withdraw_consent
from feedback.errors import InvalidTurn
from feedback.models import FeedbackKind, Message, Role, TurnCreate

ANONYMOUS = "anonymous"
log = logging.getLogger(__name__)


def create_app(
    *,
    slot: ModelSlot,
    store: Store,
    logger: TurnLogger | None,
    defaults: Sampling,
    max_batch: int = 1,
    api_keys: list[str] | None = None,
    guard: Guard | None = None,
    on_signal: Callable[[], None] | None = None,
    default_consent: bool = True,
    limits: RateLimits | None = None,
    admin_keys: list[str] | None = None,
    forget: Forget | None = None,
) -> FastAPI:
    """The bot's API. Without a `logger`, turns are not logged (benchmarks compare the two).

    With a `guard`, answers are checked before they reach the user (see `bot.guard`).
    `on_signal` is called on every thumbs rating and every answer the guard withheld (the
    composition root checks the canary after every few). A new conversation may train the
    bot if its request says so in `metadata.allow_data_use`, or else by `default_consent`.
    `limits` caps each user's requests (429 over them). `forget(user_id, actor)` erases a
    user for the admin API, which the `admin_keys` open. Up to `max_batch` whole answers
    requested while the model is busy are generated in one pass (`bot.batching`).
    """
    app = FastAPI(title="tuneloop bot", summary="An OpenAI-compatible chat API that learns.")
    metrics = BotMetrics()
    batcher = Batcher(max_batch, on_pass=metrics.batch_size.observe)
    if guard is not None:
        for outcome in (Outcome.regenerated_clean, Outcome.fallback):
            metrics.guard_outcomes.labels(outcome=outcome.value)  # shown at 0 until one happens
    install_error_handlers(app)
    app.include_router(admin_router(admin_keys=admin_keys or [], forget=forget))
    guarded = [Depends(require_api_key(api_keys or []))]

    def admit_chat(user: str | None, connection: Request) -> None:
        if limits is None:
            return
        # Requests without a user are stored as one "anonymous" user; their rate is kept per
        # client address, so that one anonymous client cannot use up everyone's minute.
        address = connection.client.host if connection.client else "unknown"
        limits.admit_chat(user or f"{ANONYMOUS}@{address}")

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        endpoint = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(endpoint=endpoint, status=response.status_code).inc()
        metrics.latency.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        return response

    async def respond(
        engine: Engine,
        history: list[dict[str, str]],
        sampling: Sampling,
        *,
        conversation_id: uuid.UUID,
        parent_id: uuid.UUID | None,
        prompt_text: str | None,
        stream: bool = False,
    ) -> Response:
        """Answer `history` and log the turn; `prompt_text=None` logs a regenerated answer."""
        prompt = engine.prompt(history)  # a too-long prompt fails here, before any byte is sent
        ids = TuneloopIds(
            conversation_id=conversation_id,
            message_id=new_id(),
            prompt_message_id=new_id() if prompt_text is not None else parent_id,
            model_version_id=engine.version_id,
        )
        headers = {
            "X-Tuneloop-Conversation-Id": str(ids.conversation_id),
            "X-Tuneloop-Message-Id": str(ids.message_id),
        }

        def count(generation: Generation) -> None:
            metrics.prompt_tokens.inc(generation.prompt_tokens)
            metrics.completion_tokens.inc(generation.completion_tokens)

        def finish(shown: Generation, report: GuardReport | None) -> None:
            """Count and log the answer shown; each withheld one once its generation is done
            (after the shown one: the shown turn writes the question they answer)."""
            if report is None or report.outcome != Outcome.fallback:
                count(shown)
            used = attempt_sampling(sampling, report.attempt) if report else sampling
            if logger is not None:
                logger.log(_turn(ids, parent_id, prompt_text, shown, used))
            if report is None:
                return
            if report.outcome != Outcome.clean:
                metrics.guard_outcomes.labels(outcome=report.outcome.value).inc()
            if report.withheld and on_signal is not None:
                on_signal()
            for withheld in report.withheld:
                withheld.generation.add_done_callback(partial(finish_withheld, withheld))

        def finish_withheld(withheld: Withheld, done: asyncio.Future[Generation]) -> None:
            if done.cancelled() or done.exception() is not None:
                log.warning("a withheld answer's generation failed: %r", done)
                return
            count(done.result())
            if logger is not None:
                turn = _turn(
                    ids,
                    ids.prompt_message_id,
                    None,
                    done.result(),
                    attempt_sampling(sampling, withheld.attempt),
                ).model_copy(update={"answer_id": new_id(), "guard_flags": withheld.flags})
                logger.log(turn)

        if stream:
            chunks = completion_chunks(engine, prompt, sampling, ids, guard, finish)
            return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)
        if guard is None:
            generation = await run_in_threadpool(batcher.generate, engine, prompt, sampling)
            report = None
        else:
            generation, report = await guard.answer(
                lambda attempt: run_in_threadpool(
                    batcher.generate, engine, prompt, attempt_sampling(sampling, attempt)
                )
            )
        finish(generation, report)
        return JSONResponse(completion(engine.name, generation, ids, report), headers=headers)

    @app.post("/v1/chat/completions", dependencies=guarded)
    async def chat_completions(request: ChatCompletionRequest, connection: Request) -> Response:
        admit_chat(request.user, connection)
        conversation_id, follows, consent = request.conversation_id, None, request.training_consent
        if conversation_id is None:
            conversation_id = new_id()
            if logger is not None:
                logger.start_conversation(
                    conversation_id,
                    user_id=request.user or ANONYMOUS,
                    client="api",
                    training_consent=default_consent if consent is None else consent,
                )
        else:
            follows = await run_in_threadpool(_check_follow_up, store, logger, request)
            if consent is False:
                await run_in_threadpool(_withdraw_consent, store, conversation_id)
        # This request's model to the end, even if a swap or a rollback happens meanwhile.
        engine = slot.route(key=request.user or str(conversation_id), version_id=follows)
        history = [message.model_dump() for message in request.messages]
        return await respond(
            engine,
            history,
            _sampling(request, defaults),
            conversation_id=conversation_id,
            parent_id=request.parent_id,
            prompt_text=history[-1]["content"],
            stream=request.stream,
        )

    @app.post("/v1/chat/regenerate", dependencies=guarded)
    async def regenerate(request: RegenerateRequest, connection: Request) -> Response:
        """A new answer to the same context as `message_id`, logged as its sibling."""
        admit_chat(request.user, connection)
        thread = await run_in_threadpool(_answer_thread, store, logger, request.message_id)
        engine = slot.route(
            key=request.user or str(thread[-1].conversation_id),
            version_id=thread[-1].model_version_id,
        )
        await run_in_threadpool(
            _record,
            store,
            limits,
            message_id=request.message_id,
            kind=FeedbackKind.regenerate,
            user_id=request.user or ANONYMOUS,
        )
        metrics.feedback.labels(kind=FeedbackKind.regenerate.value).inc()
        if request.training_consent is False:
            await run_in_threadpool(_withdraw_consent, store, thread[-1].conversation_id)
        return await respond(
            engine,
            [{"role": m.role.value, "content": m.content} for m in thread[:-1]],
            _sampling(request, defaults),
            conversation_id=thread[-1].conversation_id,
            parent_id=thread[-2].id,
            prompt_text=None,
        )

    @app.post("/v1/feedback", status_code=201, dependencies=guarded)
    async def feedback(request: FeedbackRequest) -> FeedbackResponse:
        """Thumbs, stars, regenerate, correction or flag on an answer; idempotent with a key."""
        if logger is not None:
            await run_in_threadpool(logger.flush)  # the rated answer may still be in the queue
        event = await run_in_threadpool(
            _record,
            store,
            limits,
            message_id=request.message_id,
            kind=request.kind,
            value=request.value,
            text=request.text,
            user_id=request.user or ANONYMOUS,
            idempotency_key=request.idempotency_key,
        )
        metrics.feedback.labels(kind=request.kind.value).inc()
        if request.kind == FeedbackKind.thumbs and on_signal is not None:
            on_signal()
        return FeedbackResponse(
            id=event.id,
            message_id=event.message_id,
            kind=event.kind,
            created_at=event.created_at.isoformat(),
        )

    @app.get("/v1/models", dependencies=guarded)
    async def models() -> dict[str, Any]:
        model = {"id": slot.engine.name, "object": "model", "created": 0, "owned_by": "tuneloop"}
        return {"object": "list", "data": [model]}

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        engine, canary = slot.engine, slot.canary
        return {
            "status": "ok",
            "model": engine.name,
            "model_version_id": engine.version_id,
            "canary": canary.name if canary else None,
            "canary_version_id": canary.version_id if canary else None,
        }

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        metrics.serving(slot.engine.name, slot.engine.version_id)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _sampling(request: SamplingFields, defaults: Sampling) -> Sampling:
    return Sampling(
        temperature=defaults.temperature if request.temperature is None else request.temperature,
        top_p=request.top_p or defaults.top_p,
        max_new_tokens=request.max_tokens or defaults.max_new_tokens,
        seed=request.seed,
    )


def _turn(
    ids: TuneloopIds,
    parent_id: uuid.UUID | None,
    prompt_text: str | None,
    generation: Generation,
    sampling: Sampling,
) -> TurnCreate:
    """The turn to log; `prompt_text=None` makes the answer a sibling under `parent_id`."""
    return TurnCreate(
        conversation_id=ids.conversation_id,
        parent_id=parent_id,
        prompt=prompt_text,
        answer=generation.text,
        prompt_id=ids.prompt_message_id,
        answer_id=ids.message_id,
        model_version_id=ids.model_version_id,
        sampling=sampling.as_dict(),
        latency_ms=generation.latency_ms,
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
    )


def _check_follow_up(
    store: Store, logger: TurnLogger | None, request: ChatCompletionRequest
) -> int | None:
    """Fail as logging would; return the model version that wrote the answer followed."""
    if logger is not None:
        logger.flush()  # the turn this one follows may still be in the queue
    with store.session() as session:
        parent = check_follow_up(
            session, conversation_id=request.conversation_id, parent_id=request.parent_id
        )
    return parent.model_version_id if parent is not None else None


def _answer_thread(store: Store, logger: TurnLogger | None, message_id: uuid.UUID) -> list[Message]:
    if logger is not None:
        logger.flush()
    with store.session() as session:
        thread = message_thread(session, message_id)
    if thread[-1].role != Role.assistant or len(thread) < 2:
        raise InvalidTurn(f"message {message_id} is not an answer: only answers can be regenerated")
    return thread


def _record(store: Store, limits: RateLimits | None, **fields: Any):
    """Store a feedback event, if the user's daily cap has room for it (else nothing)."""
    with store.session() as session:
        if limits is not None:
            limits.admit_feedback(
                session, user_id=fields["user_id"], idempotency_key=fields.get("idempotency_key")
            )
        return record_feedback(session, **fields)


def _withdraw_consent(store: Store, conversation_id: uuid.UUID) -> None:
    with store.session() as session:
        withdraw_consent(session, conversation_id=conversation_id)
