"""`tuneloop score`: the toxicity scorer on texts from stdin, one JSON line out per text in."""

import json
import sys
from collections.abc import Iterable, Iterator
from itertools import islice

from tuneloop.cli import app, fail, load_settings

BATCH = 64


class BadLine(ValueError):
    """An input line that is JSON but carries no "text" string."""


def read_texts(lines: Iterable[str]) -> Iterator[str]:
    """A line that is a JSON object gives its "text" field; any other non-blank line is the
    text itself."""
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadLine(f"line {number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record.get("text"), str):
                raise BadLine(f'line {number}: a JSON line needs a "text" string')
            yield record["text"]
        else:
            yield line


@app.command("score")
def score() -> None:
    """Score texts for toxicity: one per line on stdin, or JSONL with a "text" field. Prints
    {"text", "scorer", "scores", "flags"} per text, flags being the labels over threshold."""
    from trainer.scorers import ScorerUnavailable, flagged_labels
    from tuneloop.scoring import toxicity_scorer

    settings = load_settings()
    try:
        scorer = toxicity_scorer(settings)
    except ScorerUnavailable as exc:
        fail(exc)
    lines = read_texts(sys.stdin)
    try:
        # Batches as lines arrive, so a pipe is answered as it is fed.
        while texts := list(islice(lines, BATCH)):
            scores = scorer.score(texts)
            for index, (text, flags) in enumerate(
                zip(texts, flagged_labels(scores, scorer.thresholds), strict=True)
            ):
                record = {
                    "text": text,
                    "scorer": scorer.name,
                    "scores": {label: round(values[index], 4) for label, values in scores.items()},
                    "flags": flags,
                }
                print(json.dumps(record, ensure_ascii=False), flush=True)
    except BadLine as exc:
        fail(exc)
