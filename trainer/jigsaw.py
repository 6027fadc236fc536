"""The Jigsaw toxicity BiLSTM of toxic-comment-classifier 0.3.0, ported to PyTorch: its Keras
weights and pickled tokenizer are converted once into plain files, then scored without Keras."""

import collections
import hashlib
import json
import logging
import pickle
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from trainer.scorers import BATCH_SIZE, LABEL_OF, LABELS, ScorerUnavailable

log = logging.getLogger(__name__)

PACKAGE = "toxic-comment-classifier"
PORTED_VERSION = "0.3.0"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PORTED_VERSION}"
# Fixed in the package's model.py (MAXLEN, LIST_CLASSES), not stored with its weights.
MAXLEN = 100
JIGSAW_CLASSES = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
MODEL_FILE, VOCABULARY_FILE, SOURCE_FILE = "model.safetensors", "vocabulary.json", "source.json"
KERAS_FILES = ("model.weights.h5", "tokenizer.pickle")


class KerasTokenizerState:
    """Plain stand-in for keras' legacy Tokenizer: unpickling only fills its __dict__."""


_ALLOWED_GLOBALS: dict[tuple[str, str], type] = {
    ("keras.src.legacy.preprocessing.text", "Tokenizer"): KerasTokenizerState,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): collections.defaultdict,
    ("builtins", "int"): int,
}


class TokenizerUnpickler(pickle.Unpickler):
    """Admits only the classes tokenizer.pickle names, so a tampered pickle cannot run code."""

    def find_class(self, module: str, name: str) -> type:
        try:
            return _ALLOWED_GLOBALS[module, name]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in _ALLOWED_GLOBALS)
            raise pickle.UnpicklingError(
                f"refusing {module}.{name} in a tokenizer pickle; only {allowed} are allowed"
            ) from None


@dataclass(frozen=True)
class Vocabulary:
    """What Keras' texts_to_sequences and pad_sequences read, as plain data. `word_index` holds
    only the indices Keras keeps (below num_words, plus the OOV token); `labels` name the
    model's output columns."""

    word_index: dict[str, int]
    lower: bool
    filters: str
    split: str
    char_level: bool
    num_words: int | None
    oov_token: str | None
    maxlen: int
    labels: tuple[str, ...]

    @cached_property
    def _filter_table(self) -> dict[int, str]:
        return str.maketrans(dict.fromkeys(self.filters, self.split))

    def words(self, text: str) -> list[str]:
        """Keras' text_to_word_sequence (characters when char_level), step for step."""
        if self.lower:
            text = text.lower()
        if self.char_level:
            return list(text)
        return [word for word in text.translate(self._filter_table).split(self.split) if word]

    def texts_to_sequences(self, texts: Sequence[str]) -> list[list[int]]:
        """Word indices per text; words Keras would drop are dropped, or mapped to the OOV token."""
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        sequences = []
        for text in texts:
            indices = (self.word_index.get(word, oov_index) for word in self.words(text))
            sequences.append([index for index in indices if index is not None])
        return sequences

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Keras' pad_sequences defaults: zeros in front, long texts keep their last maxlen ids."""
        ids = torch.zeros((len(texts), self.maxlen), dtype=torch.long)
        for row, sequence in enumerate(self.texts_to_sequences(texts)):
            kept = sequence[-self.maxlen :]
            if kept:
                ids[row, self.maxlen - len(kept) :] = torch.tensor(kept)
        return ids


def read_tokenizer(path: Path) -> Vocabulary:
    """Unpickle a Keras Tokenizer with TokenizerUnpickler and keep what scoring needs."""
    with path.open("rb") as file:
        state = TokenizerUnpickler(file).load()
    if not isinstance(state, KerasTokenizerState):
        raise pickle.UnpicklingError(f"{path} holds a {type(state).__name__}, not a Tokenizer")
    tokenizer = vars(state)
    if tokenizer.get("analyzer") is not None:
        raise pickle.UnpicklingError(f"{path}: a Tokenizer with a custom analyzer cannot be ported")
    num_words, oov_token = tokenizer["num_words"], tokenizer["oov_token"]
    word_index = {
        word: index
        for word, index in tokenizer["word_index"].items()
        if not num_words or index < num_words or word == oov_token
    }
    return Vocabulary(
        word_index=word_index,
        lower=tokenizer["lower"],
        filters=tokenizer["filters"],
        split=tokenizer["split"],
        char_level=tokenizer["char_level"],
        num_words=num_words,
        oov_token=oov_token,
        maxlen=MAXLEN,
        labels=JIGSAW_CLASSES,
    )


class JigsawBiLSTM(nn.Module):
    """Embedding -> BiLSTM over all steps (padding included, as Keras ran it) -> max over time
    -> Dense(relu) -> Dense(sigmoid). Sizes come from the weights."""

    def __init__(self, vocab_size: int, embedding_dim: int, units: int, hidden: int, classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, units, batch_first=True, bidirectional=True)
        self.dense = nn.Linear(2 * units, hidden)
        self.out = nn.Linear(hidden, classes)

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> "JigsawBiLSTM":
        vocab_size, embedding_dim = state["embedding.weight"].shape
        hidden, classes = state["dense.weight"].shape[0], state["out.weight"].shape[0]
        model = cls(vocab_size, embedding_dim, state["lstm.weight_hh_l0"].shape[1], hidden, classes)
        model.load_state_dict(state)
        return model.eval()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, steps) word ids -> (batch, classes) probabilities."""
        states, _ = self.lstm(self.embedding(ids))
        return torch.sigmoid(self.out(torch.relu(self.dense(states.amax(dim=1)))))


# PyTorch name -> (Keras 3 dataset under "layers/", transposed?). Keras kernels are (in, out);
# Keras' LSTM gates i,f,c,o are PyTorch's i,f,g,o, and its one bias goes to bias_ih.
_KERAS_WEIGHTS: dict[str, tuple[str, bool]] = {
    "embedding.weight": ("embedding/vars/0", False),
    **{
        f"lstm.{name}_l0{suffix}": (f"bidirectional/{direction}/cell/vars/{i}", transpose)
        for direction, suffix in (("forward_layer", ""), ("backward_layer", "_reverse"))
        for i, (name, transpose) in enumerate(
            (("weight_ih", True), ("weight_hh", True), ("bias_ih", False))
        )
    },
    "dense.weight": ("dense/vars/0", True),
    "dense.bias": ("dense/vars/1", False),
    "out.weight": ("dense_1/vars/0", True),
    "out.bias": ("dense_1/vars/1", False),
}


def _datasets(group: h5py.Group) -> set[str]:
    names: set[str] = set()
    group.visititems(lambda name, node: names.add(name) if isinstance(node, h5py.Dataset) else None)
    return names


def read_keras_weights(path: Path) -> dict[str, torch.Tensor]:
    """JigsawBiLSTM's state dict from the package's Keras 3 weights file (optimizer state aside)."""
    with h5py.File(path, "r") as h5:
        layers = h5["layers"]
        found, expected = _datasets(layers), {dataset for dataset, _ in _KERAS_WEIGHTS.values()}
        if found != expected:
            raise ValueError(
                f"{path} is not the BiLSTM this port knows: unexpected weights "
                f"{sorted(found - expected)}, missing {sorted(expected - found)}"
            )
        state = {}
        for name, (dataset, transpose) in _KERAS_WEIGHTS.items():
            array = np.asarray(layers[dataset], dtype=np.float32)
            state[name] = torch.from_numpy(np.ascontiguousarray(array.T if transpose else array))
    for suffix in ("", "_reverse"):
        state[f"lstm.bias_hh_l0{suffix}"] = torch.zeros_like(state[f"lstm.bias_ih_l0{suffix}"])
    return state


def find_package_dir() -> Path:
    """Where toxic_classifier is installed, found without importing it (it imports TensorFlow)."""
    spec = find_spec("toxic_classifier")
    if spec is None or not spec.submodule_search_locations:
        raise ScorerUnavailable(
            f"{PACKAGE} is not installed; the Jigsaw scorer reads its model files: {INSTALL_HINT} "
            "(--no-deps: it declares TensorFlow, which the port does not need)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def describe_source(package_dir: Path) -> dict[str, Any]:
    """What a conversion is made from: the package's version and the sha256 of its model files."""
    try:
        installed = version(PACKAGE)
    except PackageNotFoundError as exc:
        raise ScorerUnavailable(f"{package_dir} has no {PACKAGE} metadata: {INSTALL_HINT}") from exc
    hashes = {name: _sha256(package_dir / "model" / name) for name in KERAS_FILES}
    return {"package": PACKAGE, "version": installed, "sha256": hashes}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def convert_jigsaw(package_dir: Path, out_dir: Path) -> Path:
    """Convert the package's Keras files into out_dir (model.safetensors, vocabulary.json,
    source.json). The files are written beside it and renamed into place, so out_dir holds a
    whole conversion or none. Returns out_dir."""
    source = describe_source(package_dir)
    if source["version"] != PORTED_VERSION:
        log.warning(
            "%s is %s; this port was checked against %s", PACKAGE, source["version"], PORTED_VERSION
        )
    vocabulary = read_tokenizer(package_dir / "model" / "tokenizer.pickle")
    state = read_keras_weights(package_dir / "model" / "model.weights.h5")
    JigsawBiLSTM.from_state_dict(state)  # refuses weights whose shapes do not fit together
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        save_file(state, staging / MODEL_FILE)
        _write_json(staging / VOCABULARY_FILE, asdict(vocabulary))
        _write_json(staging / SOURCE_FILE, source)
        shutil.rmtree(out_dir, ignore_errors=True)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


# Lowest cut with 90% precision on the tuning sets (python -m bench.scorers; docs/scorers.md).
# threat (AUC 0.55-0.66) and severe_toxicity (no labelled examples) keep the usual 0.5; insult
# reaches 90% precision only near 0.9, because profanity scores high on it too.
THRESHOLDS = {
    "toxicity": 0.2,
    "severe_toxicity": 0.5,
    "obscene": 0.68,
    "threat": 0.5,
    "insult": 0.9,
    "identity_attack": 0.5,
}


class JigsawScorer:
    """Scores with the ported Jigsaw BiLSTM, batch by batch, on CPU."""

    def __init__(
        self,
        model: JigsawBiLSTM,
        vocabulary: Vocabulary,
        *,
        name: str,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        unknown = [label for label in vocabulary.labels if label not in LABEL_OF]
        if unknown or len(vocabulary.labels) != model.out.out_features:
            raise ValueError(
                f"labels {vocabulary.labels} do not name the model's "
                f"{model.out.out_features} outputs (unknown: {unknown})"
            )
        if max(vocabulary.word_index.values(), default=0) >= model.embedding.num_embeddings:
            raise ValueError(
                f"the vocabulary has word indices beyond the {model.embedding.num_embeddings} "
                "embedding rows"
            )
        self.model, self.vocabulary = model, vocabulary
        self.name, self.batch_size = name, batch_size
        self.columns = {LABEL_OF[label]: column for column, label in enumerate(vocabulary.labels)}
        self.labels = tuple(label for label in LABELS if label in self.columns)
        self.thresholds = dict(THRESHOLDS)

    def score(self, texts: Sequence[str]) -> dict[str, list[float]]:
        scores: dict[str, list[float]] = {label: [] for label in self.labels}
        for start in range(0, len(texts), self.batch_size):
            ids = self.vocabulary.encode(texts[start : start + self.batch_size])
            with torch.inference_mode():
                probabilities = self.model(ids)
            for label, column in self.columns.items():
                scores[label].extend(probabilities[:, column].tolist())
        return scores


def read_jigsaw_scorer(cache_dir: Path) -> JigsawScorer:
    """A scorer from the plain files convert_jigsaw wrote (no pickle, no h5)."""
    try:
        model = JigsawBiLSTM.from_state_dict(load_file(cache_dir / MODEL_FILE))
        vocabulary = json.loads((cache_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
        vocabulary["labels"] = tuple(vocabulary["labels"])
        source = json.loads((cache_dir / SOURCE_FILE).read_text(encoding="utf-8"))
        name = f"jigsaw-bilstm ({source['package']} {source['version']})"
        return JigsawScorer(model, Vocabulary(**vocabulary), name=name)
    except (OSError, SafetensorError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ScorerUnavailable(
            f"the converted Jigsaw model in {cache_dir} is unreadable ({exc!r}); "
            "delete that directory and it is converted again on the next load"
        ) from exc


def _read_source(cache_dir: Path) -> Any:
    try:
        return json.loads((cache_dir / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_jigsaw_scorer(cache_dir: Path) -> JigsawScorer:
    """The Jigsaw scorer, converted into cache_dir on first use and again whenever the installed
    package no longer matches the conversion's source.json."""
    package_dir = find_package_dir()
    if _read_source(cache_dir) != describe_source(package_dir):
        log.info("converting %s from %s into %s", PACKAGE, package_dir, cache_dir)
        try:
            convert_jigsaw(package_dir, cache_dir)
        except (OSError, KeyError, ValueError, pickle.UnpicklingError) as exc:
            raise ScorerUnavailable(
                f"cannot convert {PACKAGE} in {package_dir} into {cache_dir} ({exc!r}); "
                f"if its files are damaged, reinstall it: {INSTALL_HINT}"
            ) from exc
    return read_jigsaw_scorer(cache_dir)
