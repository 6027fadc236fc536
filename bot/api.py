"""The OpenAI-compatible HTTP API: chat completions (streaming or not), regenerate, feedback."""

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from bot.engine import Engine, Generation, Sampling
from bot.errors import install_error_handlers, require_api_key
from bot.guard import (
    CONTENT_FILTER,
    Guard,
    GuardReport,
    Outcome,
    Run,
    Withheld,
    attempt_sampling,
)
from bot.hotswap import ModelSlot
from bot.metrics import BotMetrics
from bot.prompt import Prompt
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
    api_keys: list[str] | None = None,
    guard: Guard | None = None,
    on_signal: Callable[[], None] | None = None,
) -> FastAPI:
    """The bot's API. Without a `logger`, turns are not logged (benchmarks compare the two).

    With a `guard`, answers are checked before they reach the user (see `bot.guard`).
    `on_signal` is called on every thumbs rating and every answer the guard withheld (the
    composition root checks the canary after every few).
    """
    app = FastAPI(title="tuneloop bot", summary="An OpenAI-compatible chat API that learns.")
    metrics = BotMetrics()
    if guard is not None:
        for outcome in (Outcome.regenerated_clean, Outcome.fallback):
            metrics.guard_outcomes.labels(outcome=outcome.value)  # shown at 0 until one happens
    install_error_handlers(app)
    guarded = [Depends(require_api_key(api_keys or []))]

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
            chunks = _stream(engine, prompt, sampling, ids, guard, finish)
            return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)
        if guard is None:
            generation, report = await run_in_threadpool(engine.generate, prompt, sampling), None
        else:
            generation, report = await guard.answer(
                lambda attempt: run_in_threadpool(
                    engine.generate, prompt, attempt_sampling(sampling, attempt)
                )
            )
        finish(generation, report)
        return JSONResponse(_completion(engine.name, generation, ids, report), headers=headers)

    @app.post("/v1/chat/completions", dependencies=guarded)
    async def chat_completions(request: ChatCompletionRequest) -> Response:
        conversation_id, follows = request.conversation_id, None
        if conversation_id is None:
            conversation_id = new_id()
            if logger is not None:
                logger.start_conversation(
                    conversation_id, user_id=request.user or ANONYMOUS, client="api"
                )
        else:
            follows = await run_in_threadpool(_check_follow_up, store, logger, request)
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
    async def regenerate(request: RegenerateRequest) -> Response:
        """A new answer to the same context as `message_id`, logged as its sibling."""
        thread = await run_in_threadpool(_answer_thread, store, logger, request.message_id)
        engine = slot.route(
            key=request.user or str(thread[-1].conversation_id),
            version_id=thread[-1].model_version_id,
        )
        await run_in_threadpool(
            _record,
            store,
            message_id=request.message_id,
            kind=FeedbackKind.regenerate,
            user_id=request.user or ANONYMOUS,
        )
        metrics.feedback.labels(kind=FeedbackKind.regenerate.value).inc()
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


def _usage(generation: Generation) -> dict[str, int]:
    return {
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.completion_tokens,
        "total_tokens": generation.prompt_tokens + generation.completion_tokens,
    }


def _extension(ids: TuneloopIds, report: GuardReport | None) -> dict[str, Any]:
    """The response's `tuneloop` field: the ids, and what the guard did when there is one."""
    guard = {"guard": report.as_dict()} if report is not None else {}
    return ids.model_dump(mode="json") | guard


def _completion(
    model: str, generation: Generation, ids: TuneloopIds, report: GuardReport | None
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{ids.message_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": generation.text},
                "finish_reason": generation.finish_reason,
            }
        ],
        "usage": _usage(generation),
        "tuneloop": _extension(ids, report),
    }


async def _stream(
    engine: Engine,
    prompt: Prompt,
    sampling: Sampling,
    ids: TuneloopIds,
    guard: Guard | None,
    finish: Callable[[Generation, GuardReport | None], None],
) -> AsyncIterator[str]:
    """Server-sent events in OpenAI's chunk format; the model runs in a worker thread."""
    loop = asyncio.get_running_loop()
    base = {
        "id": f"chatcmpl-{ids.message_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": engine.name,
    }

    def chunk(delta: dict[str, str], finish_reason: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return f"data: {json.dumps(base | {'choices': [choice]} | extra)}\n\n"

    def start(attempt: int) -> Run:
        return _run(loop, engine, prompt, attempt_sampling(sampling, attempt))

    yield chunk({"role": "assistant", "content": ""}, tuneloop=ids.model_dump(mode="json"))
    started = time.perf_counter()
    report = GuardReport()
    if guard is None:
        run = start(0)
        texts, report.generation = run.pieces, run.generation
    else:
        texts = guard.stream(start, report)
    shown = ""
    async for text in texts:
        shown += text
        yield chunk({"content": text})
    if report.generation is None:  # stopped by the guard: the model may still be writing
        generation = Generation(
            text=shown.strip(),
            prompt_tokens=len(prompt.token_ids),
            completion_tokens=0,
            finish_reason=CONTENT_FILTER,
            latency_ms=(time.perf_counter() - started) * 1000,
            dropped_messages=prompt.dropped_messages,
        )
    else:
        generation = await report.generation
    finish(generation, report if guard else None)
    extra = {"tuneloop": _extension(ids, report)} if guard else {}
    yield chunk({}, generation.finish_reason, usage=_usage(generation), **extra)
    yield "data: [DONE]\n\n"


def _run(
    loop: asyncio.AbstractEventLoop, engine: Engine, prompt: Prompt, sampling: Sampling
) -> Run:
    """Start generating in a worker thread; the pieces arrive on the event loop."""
    pieces: asyncio.Queue[str | None] = asyncio.Queue()
    stop = threading.Event()
    work = loop.run_in_executor(
        None,
        engine.generate,
        prompt,
        sampling,
        lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text),
        stop,
    )
    work.add_done_callback(lambda _: pieces.put_nowait(None))

    async def decoded() -> AsyncIterator[str]:
        while (piece := await pieces.get()) is not None:
            yield piece

    return Run(decoded(), work, stop)


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


def _record(store: Store, **fields: Any):
    with store.session() as session:
        return record_feedback(session, **fields)
