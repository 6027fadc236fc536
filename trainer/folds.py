"""Cross-validation over preference pairs: a prompt's pairs stay together, in one fold."""

import random
from collections import defaultdict

from feedback.normalize import normalize_prompt

Fold = tuple[list[dict], list[dict]]  # (rows to train on, rows held out)


class TooFewPrompts(ValueError):
    """There are fewer distinct prompts than folds: no fold would hold anything out."""


def pair_group(row: dict) -> str:
    """The row's `group` if it has one (the demo corpus's topic), else its normalized prompt."""
    return row.get("group") or normalize_prompt(" ".join(m["content"] for m in row["prompt"]))


def grouped_folds(rows: list[dict], *, folds: int, seed: int) -> list[Fold]:
    """`folds` (train, held-out) splits; every group is held out exactly once, and the folds
    are balanced by pair count (largest groups placed first, each in the smallest fold)."""
    groups = _groups(rows, seed)
    if len(groups) < folds:
        raise TooFewPrompts(
            f"{len(groups)} distinct prompts cannot make {folds} folds: "
            "collect more feedback, or lower tuning.folds"
        )
    held: list[list[dict]] = [[] for _ in range(folds)]
    for group in sorted(groups, key=len, reverse=True):  # a stable sort keeps the shuffle
        min(held, key=len).extend(group)
    return [
        ([row for other in range(folds) if other != index for row in held[other]], held[index])
        for index in range(folds)
    ]


def sample_pairs(rows: list[dict], *, max_pairs: int, seed: int) -> list[dict]:
    """At most `max_pairs` rows, taken a whole group at a time in a random order."""
    sample: list[dict] = []
    for group in _groups(rows, seed):
        if len(sample) + len(group) > max_pairs:
            continue
        sample += group
    return sample


def _groups(rows: list[dict], seed: int) -> list[list[dict]]:
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_key[pair_group(row)].append(row)
    keys = sorted(by_key)
    random.Random(seed).shuffle(keys)
    return [by_key[key] for key in keys]
