"""Toxicity scorers: a tiny Detoxify-format checkpoint built here, and the real profanity-check."""

import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from trainer.jigsaw import JigsawScorer
from trainer.scorers import (
    LABELS,
    DetoxifyScorer,
    ProfanityCheckScorer,
    ScorerUnavailable,
    load_toxicity_scorer,
)

JIGSAW_CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
INSULT = "You are a stupid idiot, shut up."
POLITE = "Thank you, your order ships tomorrow."
TEXTS = [INSULT, POLITE, "I will find you and hurt you.", "great jacket", "unknownword", ""]
VOCAB_TEXTS = [*TEXTS[:4], "People from all of them hate this shop, return it."]
WORDS = sorted({word for text in VOCAB_TEXTS for word in re.findall(r"\w+", text.lower())})
MAX_POSITIONS = 64
LONG_TEXT = " ".join(WORDS * 5)  # longer than MAX_POSITIONS tokens: must be truncated


@dataclass
class Checkpoint:
    path: Path
    config_dir: Path
    model: BertForSequenceClassification
    tokenizer: BertTokenizerFast

    def probabilities(self, texts: list[str]) -> torch.Tensor:
        """What the model itself says: sigmoid of its logits, one column per class."""
        inputs = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=MAX_POSITIONS
        )
        with torch.no_grad():
            return torch.sigmoid(self.model(**inputs).logits)


def build_checkpoint(directory: Path, classes: list[str], *, seed: int = 0) -> Checkpoint:
    """A 1-layer BERT saved the way detoxify.load_checkpoint reads it (detoxify 0.5.4)."""
    config_dir = directory / "config"
    config_dir.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", *WORDS]
    # transformers 5 takes `vocab` (a dict or a path); it silently ignores `vocab_file`.
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)})
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_POSITIONS,
        num_labels=len(classes),
        # Wide weights spread the probabilities, so a swapped label or text shows.
        initializer_range=0.5,
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(config_dir)
    tokenizer.save_pretrained(config_dir)
    path = directory / "toxic.ckpt"
    arch = {
        # Detoxify reads the base config from model_type even when given a config dir.
        "model_type": str(config_dir),
        "model_name": "BertForSequenceClassification",
        "tokenizer_name": "BertTokenizerFast",
        "num_classes": len(classes),
    }
    config_dict = {"arch": {"args": arch}, "dataset": {"args": {"classes": classes}}}
    torch.save({"config": config_dict, "state_dict": model.state_dict()}, path)
    return Checkpoint(path, config_dir, model, tokenizer)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Checkpoint:
    return build_checkpoint(tmp_path_factory.mktemp("detoxify"), JIGSAW_CLASSES)


@pytest.fixture(scope="module")
def detoxify_scorer(checkpoint) -> DetoxifyScorer:
    return load_toxicity_scorer(
        "detoxify", detoxify_checkpoint=checkpoint.path, detoxify_config_dir=checkpoint.config_dir
    )


@pytest.fixture(scope="module")
def profanity_scorer() -> ProfanityCheckScorer:
    return load_toxicity_scorer("profanity-check")


def test_a_detoxify_checkpoint_gives_all_six_labels_as_its_model_computes(
    detoxify_scorer, checkpoint
):
    texts = [*TEXTS, LONG_TEXT] * 10  # 70 texts: more than one batch of 64
    scores = detoxify_scorer.score(texts)

    assert isinstance(detoxify_scorer, DetoxifyScorer)
    assert detoxify_scorer.labels == LABELS
    assert set(scores) == set(LABELS)
    assert "detoxify" in detoxify_scorer.name and str(checkpoint.path) in detoxify_scorer.name
    expected = checkpoint.probabilities(texts)
    for column, label in enumerate(LABELS):  # LABELS is the Jigsaw order, renamed
        assert len(scores[label]) == len(texts)
        assert all(0.0 <= p <= 1.0 for p in scores[label])
        assert torch.allclose(torch.tensor(scores[label]), expected[:, column], atol=1e-5)
    # The comparison means something only if the texts, and the labels, differ from each other.
    distinct = expected[:7]
    assert torch.pdist(distinct).min() > 0.05 and torch.pdist(distinct.T).min() > 0.05


def test_one_text_gives_a_list_of_one(detoxify_scorer):
    scores = detoxify_scorer.score([INSULT])

    assert all(isinstance(scores[label], list) and len(scores[label]) == 1 for label in LABELS)


def test_auto_with_a_checkpoint_loads_detoxify(checkpoint, detoxify_scorer):
    scorer = load_toxicity_scorer(
        "auto", detoxify_checkpoint=checkpoint.path, detoxify_config_dir=checkpoint.config_dir
    )

    assert isinstance(scorer, DetoxifyScorer)
    assert scorer.score(TEXTS) == detoxify_scorer.score(TEXTS)


def test_detoxify_class_names_map_by_name_and_extra_classes_are_left_out(tmp_path):
    classes = ["insult", "sexual_explicit", "toxicity", "threat"]
    built = build_checkpoint(tmp_path, classes, seed=1)
    scorer = load_toxicity_scorer(
        "detoxify", detoxify_checkpoint=built.path, detoxify_config_dir=built.config_dir
    )
    scores = scorer.score(TEXTS)

    assert scorer.labels == ("toxicity", "threat", "insult")
    assert set(scores) == set(scorer.labels)
    expected = built.probabilities(TEXTS)
    for label in scorer.labels:
        assert torch.allclose(torch.tensor(scores[label]), expected[:, classes.index(label)])


def test_a_checkpoint_whose_weights_do_not_fit_its_model_is_refused(tmp_path, checkpoint):
    saved = torch.load(checkpoint.path, weights_only=False)
    saved["state_dict"] = {f"model.{k}": v for k, v in saved["state_dict"].items()}
    path = tmp_path / "prefixed.ckpt"
    torch.save(saved, path)

    with pytest.raises(ScorerUnavailable, match="lacks") as error:
        load_toxicity_scorer(
            "detoxify", detoxify_checkpoint=path, detoxify_config_dir=checkpoint.config_dir
        )
    assert str(path) in str(error.value)


@pytest.mark.parametrize("mode", ["detoxify", "auto"])
@pytest.mark.parametrize("broken", ["missing", "corrupt"])
def test_a_broken_checkpoint_is_an_error_never_a_fallback(tmp_path, checkpoint, mode, broken):
    path = tmp_path / "toxic.ckpt"
    if broken == "corrupt":
        path.write_bytes(b"\x00not a torch checkpoint\xff" * 10)

    with pytest.raises(ScorerUnavailable) as error:
        load_toxicity_scorer(
            mode, detoxify_checkpoint=path, detoxify_config_dir=checkpoint.config_dir
        )
    assert str(path) in str(error.value)


def test_detoxify_by_model_type_offline_fails_at_once_without_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch hub cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()

    with pytest.raises(ScorerUnavailable) as error:
        load_toxicity_scorer("detoxify")
    assert time.monotonic() - started < 5
    # Only the offline check names the cache; a download attempt would fail differently.
    cached = tmp_path / "hub" / "checkpoints" / "toxic_original-c1212f89.ckpt"
    assert str(cached) in str(error.value)
    assert "HF_HUB_OFFLINE" in str(error.value)


def test_detoxify_by_model_type_offline_loads_from_the_torch_hub_cache(
    tmp_path, monkeypatch, checkpoint, detoxify_scorer
):
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    shutil.copy(checkpoint.path, cache / "toxic_original-c1212f89.ckpt")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    scorer = load_toxicity_scorer("detoxify", detoxify_model_type="original")

    assert "(original)" in scorer.name
    scores, expected = scorer.score(TEXTS), detoxify_scorer.score(TEXTS)
    assert all(scores[label] == pytest.approx(expected[label], abs=1e-6) for label in LABELS)


def test_unknown_modes_and_model_types_are_value_errors():
    with pytest.raises(ValueError, match="auto, detoxify, jigsaw, profanity-check"):
        load_toxicity_scorer("perspective")
    with pytest.raises(ValueError, match="unbiased"):
        load_toxicity_scorer("detoxify", detoxify_model_type="huge")


def test_auto_without_a_checkpoint_takes_the_jigsaw_port(tmp_path):
    scorer = load_toxicity_scorer("auto", jigsaw_dir=tmp_path / "jigsaw")

    assert isinstance(scorer, JigsawScorer)
    assert (tmp_path / "jigsaw" / "model.safetensors").is_file()


def test_auto_falls_back_to_profanity_check_when_the_jigsaw_package_is_missing(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setitem(sys.modules, "toxic_classifier", None)  # not importable

    scorer = load_toxicity_scorer("auto", jigsaw_dir=tmp_path / "jigsaw")

    assert isinstance(scorer, ProfanityCheckScorer)
    assert "toxic-comment-classifier" in caplog.text


def test_the_jigsaw_scorer_named_explicitly_never_falls_back(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "toxic_classifier", None)

    with pytest.raises(ScorerUnavailable, match="pip install --no-deps toxic-comment-classifier"):
        load_toxicity_scorer("jigsaw", jigsaw_dir=tmp_path / "jigsaw")


def test_profanity_check_ranks_an_insult_higher(
    profanity_scorer,
):
    scores = profanity_scorer.score([INSULT, POLITE] * 40)  # 80 texts: more than one batch

    assert isinstance(profanity_scorer, ProfanityCheckScorer)
    assert profanity_scorer.labels == ("toxicity",)
    assert set(scores) == {"toxicity"}
    assert profanity_scorer.name.startswith("alt-profanity-check ")
    assert len(scores["toxicity"]) == 80
    assert all(0.0 <= p <= 1.0 for p in scores["toxicity"])
    insult, polite = scores["toxicity"][:2]
    assert insult > polite
    assert scores["toxicity"][78:] == [insult, polite]


@pytest.mark.parametrize("scorer_fixture", ["detoxify_scorer", "profanity_scorer"])
def test_empty_input_gives_empty_lists(request, scorer_fixture):
    scorer = request.getfixturevalue(scorer_fixture)

    assert scorer.score([]) == {label: [] for label in scorer.labels}
    assert scorer.labels
