"""OpenAI's chat completion response, whole or streamed as server-sent chunks."""

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from bot.engine import Engine, Generation, Sampling
from bot.guard import CONTENT_FILTER, Guard, GuardReport, Run, attempt_sampling
from bot.prompt import Prompt
from bot.schemas import TuneloopIds


def completion(
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


async def completion_chunks(
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
