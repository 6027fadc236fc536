"""Measure what a model answers to the support questions: the shares of good, vague, wrong, rude."""

from collections import Counter

from bot.engine import Engine, Sampling
from trainer.answering import answer_questions
from trainer.corpus import VARIANTS, Topic, classify_answer

CATEGORIES = (*VARIANTS, "other")


def measure_answer_mix(
    engine: Engine, topics: list[Topic], *, sampling: Sampling, held_out: bool = False
) -> dict[str, float]:
    """Ask every phrasing of every topic once (in batches); the share of answers closest to
    each variant."""
    asks = [(t, q) for t in topics for q in (t.held_out if held_out else t.questions)]
    label = f"answer mix ({'held-out' if held_out else 'training'} phrasings)"
    answers = answer_questions(engine, [question for _, question in asks], sampling, label=label)
    verdicts = (classify_answer(t, answer) for (t, _), answer in zip(asks, answers, strict=True))
    counts = Counter(verdicts)
    return {category: counts[category] / len(asks) for category in CATEGORIES}
