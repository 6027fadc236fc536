"""The OpenAI-compatible HTTP API: chat completions (streaming or not), regenerate, feedback."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from bot.engine import Engine, Generation, Sampling
from bot.errors import install_error_handlers, require_api_key
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


def create_app(
    *,
    slot: ModelSlot,
    store: Store,
    logger: TurnLogger | None,
    defaults: Sampling,
    api_keys: list[str] | None = None,
) -> FastAPI:
    """The bot's API. Without a `logger`, turns are not logged (benchmarks compare the two)."""
    app = FastAPI(title="tuneloop bot", summary="An OpenAI-compatible chat API that learns.")
    metrics = BotMetrics()
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

        def finish(generation: Generation) -> None:
            metrics.prompt_tokens.inc(generation.prompt_tokens)
            metrics.completion_tokens.inc(generation.completion_tokens)
            if logger is not None:
                logger.log(_turn(ids, parent_id, prompt_text, generation, sampling))

        if stream:
            chunks = _stream(engine, prompt, sampling, ids, finish)
            return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)
        generation = await run_in_threadpool(engine.generate, prompt, sampling)
        finish(generation)
        return JSONResponse(_completion(engine.name, generation, ids), headers=headers)

    @app.post("/v1/chat/completions", dependencies=guarded)
    async def chat_completions(request: ChatCompletionRequest) -> Response:
        engine = slot.engine  # this request's model to the end, even if a swap happens meanwhile
        conversation_id = request.conversation_id
        if conversation_id is None:
            conversation_id = new_id()
            if logger is not None:
                logger.start_conversation(
                    conversation_id, user_id=request.user or ANONYMOUS, client="api"
                )
        else:
            await run_in_threadpool(_check_follow_up, store, logger, request)
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
        engine = slot.engine
        thread = await run_in_threadpool(_answer_thread, store, logger, request.message_id)
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
        engine = slot.engine
        return {"status": "ok", "model": engine.name, "model_version_id": engine.version_id}

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


def _completion(model: str, generation: Generation, ids: TuneloopIds) -> dict[str, Any]:
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
        "tuneloop": ids.model_dump(mode="json"),
    }


async def _stream(
    engine: Engine,
    prompt: Prompt,
    sampling: Sampling,
    ids: TuneloopIds,
    finish: Callable[[Generation], None],
) -> AsyncIterator[str]:
    """Server-sent events in OpenAI's chunk format; the model runs in a worker thread."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()
    work = loop.run_in_executor(
        None,
        engine.generate,
        prompt,
        sampling,
        lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text),
    )
    work.add_done_callback(lambda _: pieces.put_nowait(None))
    base = {
        "id": f"chatcmpl-{ids.message_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": engine.name,
    }

    def chunk(delta: dict[str, str], finish_reason: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return f"data: {json.dumps(base | {'choices': [choice]} | extra)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, tuneloop=ids.model_dump(mode="json"))
    while (piece := await pieces.get()) is not None:
        yield chunk({"content": piece})
    generation = await work
    finish(generation)
    yield chunk({}, generation.finish_reason, usage=_usage(generation))
    yield "data: [DONE]\n\n"


def _check_follow_up(store: Store, logger: TurnLogger | None, request: ChatCompletionRequest):
    if logger is not None:
        logger.flush()  # the turn this one follows may still be in the queue
    with store.session() as session:
        check_follow_up(
            session, conversation_id=request.conversation_id, parent_id=request.parent_id
        )


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
