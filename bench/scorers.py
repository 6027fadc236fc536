"""Toxicity scorers on the labelled sets, and the speed of every scorer and of the embedder.

Run by hand: `python -m bench.scorers [--sentences 1000]`. Thresholds are the lowest cut with 90%
precision on the tuning sets (tests/data/labelled_texts.yaml and labelled_texts_holdout.yaml);
the blind set (labelled_texts_blind.yaml), written without seeing the lexicon or the scores, is
only measured, at the thresholds the scorers ship with.
Prints markdown tables for docs/scorers.md.
"""

import argparse
import tempfile
import time
from pathlib import Path

from trainer.corpus import load_topics
from trainer.embeddings import load_embedder
from trainer.identity import IdentityAwareScorer
from trainer.jigsaw import load_jigsaw_scorer
from trainer.scorer_quality import load_labelled, measure_scorer, suggest_thresholds
from trainer.scorers import ProfanityCheckScorer, ToxicityScorer

DATA = Path(__file__).parents[1] / "tests" / "data"
TUNING = ("labelled_texts.yaml", "labelled_texts_holdout.yaml")
BLIND = "labelled_texts_blind.yaml"


def scorers(cache: Path) -> list[ToxicityScorer]:
    jigsaw = load_jigsaw_scorer(cache)
    profanity = ProfanityCheckScorer()
    return [profanity, IdentityAwareScorer(profanity), jigsaw, IdentityAwareScorer(jigsaw)]


def quality_table(scorer_list: list[ToxicityScorer]) -> str:
    tuning = [item for name in TUNING for item in load_labelled(DATA / name)]
    blind = load_labelled(DATA / BLIND)
    rows = [
        "| scorer | label | threshold | 90%-precision cut on tuning | AUC tuning | AUC blind "
        "| precision / recall blind |",
        "|---|---|---|---|---|---|---|",
    ]
    for scorer in scorer_list:
        suggested = suggest_thresholds(scorer, tuning)
        on_tuning = {q.label: q for q in measure_scorer(scorer, tuning)}
        for quality in measure_scorer(scorer, blind):
            rows.append(
                f"| {scorer.name} | {quality.label} | {quality.threshold:.2f} "
                f"| {suggested[quality.label]:.3f} | {on_tuning[quality.label].auc:.3f} "
                f"| {quality.auc:.3f} | {quality.precision:.2f} / {quality.recall:.2f} |"
            )
    return "\n".join(rows)


def sentences(count: int) -> list[str]:
    pool = [text for topic in load_topics() for text in (*topic.questions, *topic.answers.values())]
    return [pool[index % len(pool)] for index in range(count)]


def speed_table(scorer_list: list[ToxicityScorer], count: int) -> str:
    texts = sentences(count)
    embedder = load_embedder()
    rows = ["| scorer | sentences per second |", "|---|---|"]
    timed = [(s.name, s.score) for s in scorer_list] + [(embedder.name, embedder.embed)]
    for name, run in timed:
        run(texts[:32])  # warm-up: first-call allocations, lazy imports
        start = time.perf_counter()
        run(texts)
        rows.append(f"| {name} | {count / (time.perf_counter() - start):,.0f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        scorer_list = scorers(Path(cache))
        print(quality_table(scorer_list))
        print()
        print(speed_table(scorer_list, args.sentences))


if __name__ == "__main__":
    main()
