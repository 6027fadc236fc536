"""The serving guard: a flagged answer is regenerated once, then replaced by a fallback.

Streamed answers are held back a sentence at a time and checked before they are sent.
"""

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot.engine import Generation, Sampling

Flagger = Callable[[Sequence[str]], list[list[str]]]
"""texts -> for each text the labels it is flagged for, e.g. [["toxicity", "insult"], []]."""

log = logging.getLogger(__name__)

ATTEMPTS = 2  # the answer, and one regeneration
# The flag of a text the flagger failed on: the guard fails closed, an unchecked answer is
# withheld like a flagged one.
UNCHECKED = "unchecked"
CONTENT_FILTER = "content_filter"  # OpenAI's finish_reason for an answer its filter stopped
# A sentence ends at . ! or ? before white space (so "3.5" and "example.com" do not end one),
# at a newline, or at the end of the answer.
SENTENCE_END = re.compile(r"[.!?]+(?=\s)|\n")


class Outcome(StrEnum):
    clean = "clean"
    regenerated_clean = "regenerated_clean"
    fallback = "fallback"


@dataclass
class Withheld:
    """An answer the guard did not let through: which attempt made it, and its flags."""

    attempt: int
    flags: list[str]
    # A stopped stream's generation ends after the reply does: it is logged when it is done.
    generation: asyncio.Future[Generation]


@dataclass
class GuardReport:
    """What the guard did to one answer."""

    outcome: Outcome = Outcome.clean
    attempt: int = 0  # the attempt whose answer was shown (the last one for a fallback)
    generation: asyncio.Future[Generation] | None = None  # the answer shown; None for a fallback
    withheld: list[Withheld] = field(default_factory=list)

    @property
    def flags(self) -> list[str]:
        return _union([answer.flags for answer in self.withheld])

    def as_dict(self) -> dict[str, object]:
        """The `guard` entry of the response's `tuneloop` field."""
        return {"outcome": self.outcome.value, "flags": self.flags}


@dataclass
class Run:
    """A generation under way: its text piece by piece as decoded, and the finished whole."""

    pieces: AsyncIterator[str]
    generation: asyncio.Future[Generation]
    stop: threading.Event  # set: the model stops writing this answer


def split_sentences(text: str) -> tuple[list[str], str]:
    """The complete sentences of `text` (each with the white space before it), and the rest."""
    sentences, start = [], 0
    for end in SENTENCE_END.finditer(text):
        sentences.append(text[start : end.end()])
        start = end.end()
    return sentences, text[start:]


def attempt_sampling(sampling: Sampling, attempt: int) -> Sampling:
    """The sampling of an attempt: a seeded request's regeneration takes the next seed, or it
    would draw the flagged answer again."""
    if attempt == 0 or sampling.seed is None:
        return sampling
    return replace(sampling, seed=(sampling.seed + attempt) % 2**32)


class Guard:
    """Checks answers with `flag` (any function of that shape: the composition root passes
    the toxicity scorer's) and answers `fallback` when an answer and its regeneration fail."""

    def __init__(self, flag: Flagger, fallback: str) -> None:
        self.flag = flag
        self.fallback = fallback

    async def flags_of(self, texts: Sequence[str]) -> list[list[str]]:
        """Each text's flags, in one call of the flagger off the event loop; blank texts pass.
        If the flagger fails, every text it was asked about is flagged `unchecked`."""
        asked = [text for text in texts if text.strip()]
        try:
            flagged = await asyncio.to_thread(self.flag, asked) if asked else []
        except Exception:
            log.exception("the guard's flagger failed; withholding %d texts", len(asked))
            flagged = [[UNCHECKED] for _ in asked]
        answers = iter(flagged)
        return [next(answers) if text.strip() else [] for text in texts]

    async def answer(
        self, generate: Callable[[int], Awaitable[Generation]]
    ) -> tuple[Generation, GuardReport]:
        """The answer to show, from `generate(attempt)`: the first one not flagged, or the
        fallback. An answer is flagged if it is as a whole or any of its sentences is."""
        report = GuardReport()
        for attempt in range(ATTEMPTS):
            report.attempt = attempt
            generation = asyncio.ensure_future(generate(attempt))
            text = (await generation).text
            sentences, rest = split_sentences(text)
            parts = [part for part in [*sentences, rest] if part.strip()]
            flags = await self.flags_of([text, *parts] if len(parts) > 1 else [text])
            if not any(flags):
                report.outcome = Outcome.regenerated_clean if attempt else Outcome.clean
                report.generation = generation
                return generation.result(), report
            report.withheld.append(Withheld(attempt, _union(flags), generation))
        report.outcome = Outcome.fallback
        return substitute(self.fallback, like=generation.result()), report

    async def stream(self, start: Callable[[int], Run], report: GuardReport) -> AsyncIterator[str]:
        """The text to send, a checked sentence at a time, from the runs `start(attempt)` begins.

        A flagged sentence is not sent: the fallback is, and the stream ends. Only when nothing
        was sent yet is the answer regenerated once instead. `report` tells how it ended.
        """
        for attempt in range(ATTEMPTS):
            report.attempt = attempt
            run = start(attempt)
            sent, flags = "", []
            async for sentence in self._screened(run.pieces, flags):
                sent += sentence
                yield sentence
            if not flags:
                report.outcome = Outcome.regenerated_clean if attempt else Outcome.clean
                report.generation = run.generation
                return
            run.stop.set()  # nothing more of this answer will be sent: free the model
            report.withheld.append(Withheld(attempt, flags, run.generation))
            if sent.strip():
                break
        report.outcome = Outcome.fallback
        yield (" " if sent and not sent[-1].isspace() else "") + self.fallback

    async def _screened(self, pieces: AsyncIterator[str], flags: list[str]) -> AsyncIterator[str]:
        """The sentences of `pieces` as each completes, up to the first flagged one, whose
        flags go into `flags`."""
        async for sentences in _sentences(pieces):
            for sentence, found in zip(sentences, await self.flags_of(sentences), strict=True):
                if found:
                    flags.extend(found)
                    return
                yield sentence


def substitute(text: str, *, like: Generation) -> Generation:
    """What the user got instead of the model's answer `like`: `text`, none of its tokens."""
    return replace(like, text=text.strip(), completion_tokens=0, finish_reason=CONTENT_FILTER)


async def _sentences(pieces: AsyncIterator[str]) -> AsyncIterator[list[str]]:
    """The sentences completed by each piece of text, then what is left at the end."""
    buffer = ""
    async for piece in pieces:
        sentences, buffer = split_sentences(buffer + piece)
        if sentences:
            yield sentences
    if buffer:
        yield [buffer]


def _union(flags: list[list[str]]) -> list[str]:
    return list(dict.fromkeys(label for labels in flags for label in labels))
