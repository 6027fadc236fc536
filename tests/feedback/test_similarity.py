"""Grouping by meaning: leaders, no chaining, every part near, any array-like embedding."""

import numpy as np

from feedback.similarity import embed_texts, group_by_similarity


def unit(*angles_in_degrees: float) -> np.ndarray:
    radians = np.radians(angles_in_degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


def test_rows_join_their_nearest_leader_and_never_chain():
    # cos 30 deg = 0.87: 0 and 30 are near, 30 and 60 are near, 0 and 60 (0.5) are not
    assert group_by_similarity(unit(0, 30, 60, 5), threshold=0.8) == [0, 0, 2, 0]
    # the order decides who leads: 30 first leads both others
    assert group_by_similarity(unit(30, 0, 60), threshold=0.8) == [0, 0, 0]
    assert group_by_similarity(unit(0, 50, 40), threshold=0.8) == [0, 1, 1]  # 40 is nearer 50
    assert group_by_similarity(np.zeros((0, 2), np.float32), threshold=0.8) == []


def test_with_several_parts_every_part_must_be_near():
    rows = np.stack([unit(0, 0), unit(5, 80), unit(5, 5)])  # (3 rows, 2 parts, 2)
    assert group_by_similarity(rows, threshold=0.9) == [0, 1, 0]


def test_more_rows_than_a_block_group_as_one_at_a_time_would():
    angles = np.random.default_rng(0).uniform(0, 360, 700)
    vectors = unit(*angles)
    groups = group_by_similarity(vectors, threshold=0.99)
    leaders: list[int] = []
    for index, vector in enumerate(vectors):
        similarities = [float(vectors[leader] @ vector) for leader in leaders]
        best = int(np.argmax(similarities)) if leaders else -1
        if best >= 0 and similarities[best] >= 0.99:
            assert groups[index] == leaders[best]
        else:
            assert groups[index] == index
            leaders.append(index)


def test_each_distinct_text_is_embedded_once_and_vectors_are_normalised():
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return [[3.0, 4.0] if text == "a" else [0.0, 2.0] for text in texts]  # not unit length

    vectors = embed_texts(embed, ["a", "b", "a"])
    assert calls == [["a", "b"]]
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 1.0], [0.6, 0.8]], rtol=1e-6)
    assert embed_texts(embed, []).shape[0] == 0
