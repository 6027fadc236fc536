"""Measure what a model answers to the support questions: the shares of good, vague, wrong, rude."""

from collections import Counter

from tqdm.auto import tqdm

from bot.engine import Engine, Sampling
from trainer.corpus import VARIANTS, Topic, classify_answer

CATEGORIES = (*VARIANTS, "other")


def measure_answer_mix(
    engine: Engine, topics: list[Topic], *, sampling: Sampling, held_out: bool = False
) -> dict[str, float]:
    """Ask every phrasing of every topic once; the share of answers closest to each variant."""
    counts: Counter[str] = Counter()
    asks = [(t, q) for t in topics for q in (t.held_out if held_out else t.questions)]
    label = "held-out" if held_out else "training"
    for topic, question in tqdm(asks, desc=f"answer mix ({label} phrasings)", unit="answer"):
        prompt = engine.prompt([{"role": "user", "content": question}])
        answer = engine.generate(prompt, sampling).text
        counts[classify_answer(topic, answer)] += 1
    return {category: counts[category] / len(asks) for category in CATEGORIES}
