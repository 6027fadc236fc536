"""Dynamic batching: whole (non-streamed) answers requested while the model is busy are
generated together in one left-padded pass when it is free again.

On a CPU one pass over 16 prompts costs little more than a pass over one (measured on
SmolLM2 in bench/generation.py), so a bot under load answers several times more requests a
second. A request that finds the model idle is answered alone, without waiting: batching
costs a lone user nothing. Only requests for the same engine and the same sampling are
batched together; a seeded request is always answered alone, so that its seed decides its
answer whatever else is in flight.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.engine import Engine, Generation, Sampling
from bot.prompt import Prompt


@dataclass(eq=False)
class _Request:
    engine: Engine
    prompt: Prompt
    sampling: Sampling
    done: threading.Event = field(default_factory=threading.Event)
    generation: Generation | None = None
    error: BaseException | None = None

    def joins(self, head: "_Request") -> bool:
        return (
            self.engine is head.engine
            and self.sampling == head.sampling
            and self.sampling.seed is None
        )


class Batcher:
    """Answers `generate` calls from many threads, up to `max_batch` of them per pass;
    `on_pass(size)` is told the size of each pass (the bot's metrics)."""

    def __init__(self, max_batch: int = 8, on_pass: Callable[[int], object] | None = None) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.max_batch = max_batch
        self.on_pass = on_pass
        self._waiting: list[_Request] = []
        self._waiting_lock = threading.Lock()
        self._pass_lock = threading.Lock()  # one pass at a time; whoever holds it runs it

    def generate(self, engine: Engine, prompt: Prompt, sampling: Sampling) -> Generation:
        """`engine.generate(prompt, sampling)`, batched with the requests waiting beside it."""
        request = _Request(engine, prompt, sampling)
        with self._waiting_lock:
            self._waiting.append(request)
        while not request.done.is_set():
            with self._pass_lock:
                if not request.done.is_set():
                    self._run(self._next_batch())
        if request.error is not None:
            raise request.error
        assert request.generation is not None
        return request.generation

    def _next_batch(self) -> list[_Request]:
        """The oldest waiting request and those that can share its pass, oldest first."""
        with self._waiting_lock:
            head = self._waiting[0]
            batch = [head]
            if head.sampling.seed is None:
                batch += [r for r in self._waiting[1:] if r.joins(head)][: self.max_batch - 1]
            self._waiting = [r for r in self._waiting if r not in batch]
        return batch

    def _run(self, batch: list[_Request]) -> None:
        head = batch[0]
        try:
            if len(batch) == 1:
                generations = [head.engine.generate(head.prompt, head.sampling)]
            else:
                generations = head.engine.generate_batch([r.prompt for r in batch], head.sampling)
        except Exception as error:  # every caller in the pass gets the error
            for request in batch:
                request.error = error
        else:
            for request, generation in zip(batch, generations, strict=True):
                request.generation = generation
        finally:
            if self.on_pass is not None:
                self.on_pass(len(batch))
            for request in batch:
                request.done.set()
