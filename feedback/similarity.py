"""Grouping by meaning: texts as unit vectors from an embedding function, grouped by cosine.

The embedding function is a plain argument (texts -> one unit vector each, as an (n, dim) array,
tensor or nested list); the store never loads a model itself.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Embed = Callable[[Sequence[str]], Any]
BLOCK = 256  # rows compared with the known leaders in one matrix product


def embed_texts(embed: Embed, texts: Sequence[str]) -> np.ndarray:
    """(len(texts), dim) float32 unit vectors; each distinct text is embedded once."""
    unique = list(dict.fromkeys(texts))
    if not unique:
        return np.zeros((0, 0), np.float32)
    vectors = np.asarray(embed(unique), dtype=np.float32).reshape(len(unique), -1)
    # Cosine is a dot product only between unit vectors; normalising again costs nothing and
    # keeps an embed function that forgot to do it correct.
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    index = {text: row for row, text in enumerate(unique)}
    return vectors[[index[text] for text in texts]]


def group_by_similarity(vectors: np.ndarray, threshold: float) -> list[int]:
    """For each row, the row that leads its group (itself when it leads one).

    Greedy leader clustering: rows are taken in the order given, and a row joins the most
    similar leader whose cosine is at least `threshold`, or starts a group of its own. Callers
    put the rows that should lead first, which also makes the result deterministic. Not
    connected components: those chain (A near B, B near C puts A with C however far apart,
    and support questions chain easily: "weekday hours" ~ "Saturday hours" ~ "Sunday hours"),
    whereas here every member is within the threshold of its leader.

    `vectors` is (n, dim), or (n, parts, dim) for rows of several texts: then two rows are as
    similar as their least similar part, so every part must be near.
    """
    if vectors.ndim == 2:
        vectors = vectors[:, None, :]
    rows = np.ascontiguousarray(vectors.transpose(1, 0, 2))  # (parts, n, dim)
    leaders: list[int] = []
    groups: list[int] = []
    for start in range(0, rows.shape[1], BLOCK):
        block = rows[:, start : start + BLOCK]
        known = len(leaders)
        to_known = _similarity(block, rows[:, leaders])
        for offset in range(block.shape[1]):
            # Leaders this block started are compared one by one; they are at most BLOCK.
            to_new = _similarity(block[:, offset : offset + 1], rows[:, leaders[known:]])[0]
            similarities = np.concatenate([to_known[offset], to_new])
            best = int(similarities.argmax()) if similarities.size else -1
            if best >= 0 and similarities[best] >= threshold:
                groups.append(leaders[best])
            else:
                leaders.append(start + offset)
                groups.append(start + offset)
    return groups


def _similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(parts, m, dim) and (parts, k, dim) -> (m, k): the smallest cosine over the parts."""
    similarities = a[0] @ b[0].T
    for part in range(1, a.shape[0]):
        np.minimum(similarities, a[part] @ b[part].T, out=similarities)
    return similarities
