"""Toxicity scorers: Detoxify from a local checkpoint, the Jigsaw BiLSTM port, alt-profanity-check.

Every scorer names its labels as Detoxify does and carries its flagging thresholds, chosen on the
labelled set (tests/data/labelled_texts.yaml; docs/scorers.md has the measurements).
"""

import logging
import os
import zipfile
from collections.abc import Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

import torch

if TYPE_CHECKING:
    from detoxify import Detoxify

log = logging.getLogger(__name__)

LABELS = ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack")
MODES = ("auto", "detoxify", "jigsaw", "profanity-check")
BATCH_SIZE = 64
# Jigsaw class names as some checkpoints carry them; Detoxify's own names map to themselves.
LABEL_OF = {
    "toxic": "toxicity",
    "severe_toxic": "severe_toxicity",
    "identity_hate": "identity_attack",
    **{label: label for label in LABELS},
}
_OFFLINE_VARIABLES = ("TUNELOOP_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class ScorerUnavailable(RuntimeError):
    """A configured scorer cannot load; the message says what to install or configure."""


class ToxicityScorer(Protocol):
    """`labels` are those the scorer really provides: a label it lacks is absent, never zero.
    `thresholds`: label -> the probability above which a text is flagged for it."""

    name: str
    labels: tuple[str, ...]
    thresholds: dict[str, float]

    def score(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """Label -> one probability in [0, 1] per text, in the order of `texts`."""
        ...


def flagged_labels(scores: dict[str, list[float]], thresholds: dict[str, float]) -> list[list[str]]:
    """For each scored text, the labels whose score is above their threshold."""
    count = len(next(iter(scores.values()), []))
    return [
        [label for label, values in scores.items() if values[index] > thresholds[label]]
        for index in range(count)
    ]


def _batches(texts: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield list(texts[start : start + size])


class DetoxifyScorer:
    """Scores with a loaded `detoxify.Detoxify`, batch by batch."""

    def __init__(self, detoxify: "Detoxify", *, source: str, batch_size: int = BATCH_SIZE) -> None:
        self.model, self.tokenizer = detoxify.model.eval(), detoxify.tokenizer
        self.batch_size = batch_size
        # Column of each label in the model's output; classes outside LABELS are ignored.
        self.columns: dict[str, int] = {}
        for column, class_name in enumerate(detoxify.class_names):
            label = LABEL_OF.get(class_name)
            if label is not None:
                self.columns.setdefault(label, column)
        self.labels = tuple(label for label in LABELS if label in self.columns)
        # Detoxify's own weights cannot be had here to measure, so its usual cut-off.
        self.thresholds = dict.fromkeys(self.labels, 0.5)
        self.name = f"detoxify {version('detoxify')} ({source})"
        # Tokenizers saved without a max length report a huge one; the position table is the cap.
        self.max_length = min(
            self.tokenizer.model_max_length,
            getattr(self.model.config, "max_position_embeddings", self.tokenizer.model_max_length),
        )

    def score(self, texts: Sequence[str]) -> dict[str, list[float]]:
        scores: dict[str, list[float]] = {label: [] for label in self.labels}
        for batch in _batches(texts, self.batch_size):
            inputs = self.tokenizer(
                batch,
                return_tensors="pt",
                truncation=True,
                padding=True,
                max_length=self.max_length,
            ).to(self.model.device)
            # Detoxify.predict squeezes a one-text batch to a bare float, so the forward pass
            # is done here, the way predict does it.
            with torch.inference_mode():
                probabilities = torch.sigmoid(self.model(**inputs)[0]).cpu()
            for label, column in self.columns.items():
                scores[label].extend(probabilities[:, column].tolist())
        return scores


class ProfanityCheckScorer:
    """alt-profanity-check's linear model (shipped in its wheel): a "toxicity" score only."""

    labels = ("toxicity",)

    def __init__(self, *, batch_size: int = BATCH_SIZE) -> None:
        try:
            import profanity_check
        except ImportError as exc:
            raise ScorerUnavailable(
                f"alt-profanity-check is not installed ({exc}): pip install alt-profanity-check"
            ) from exc
        self._predict_prob = profanity_check.predict_prob
        # Lowest cut with 90% precision on the tuning sets (docs/scorers.md).
        self.thresholds = {"toxicity": 0.36}
        self.batch_size = batch_size
        self.name = f"alt-profanity-check {version('alt-profanity-check')}"

    def score(self, texts: Sequence[str]) -> dict[str, list[float]]:
        # predict_prob refuses an empty list, hence the batches even for small inputs.
        probabilities = [
            float(p)
            for batch in _batches(texts, self.batch_size)
            for p in self._predict_prob(batch)
        ]
        return {"toxicity": probabilities}


def _offline() -> bool:
    return any(
        os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
        for name in _OFFLINE_VARIABLES
    )


def _check_all_weights_loaded(detoxify: "Detoxify", checkpoint: Path) -> None:
    """Transformers initialises weights missing from a state dict at random and only logs it:
    a checkpoint whose keys do not fit the model would score noise, so refuse it."""
    saved = torch.load(
        checkpoint, map_location="cpu", mmap=zipfile.is_zipfile(checkpoint), weights_only=False
    )["state_dict"]
    missing = sorted(set(detoxify.model.state_dict()) - set(saved))
    if missing:
        raise ScorerUnavailable(
            f"Detoxify checkpoint {checkpoint} lacks {len(missing)} weights of its model "
            f"(e.g. {missing[:3]}); its state_dict keys must match the transformers model's"
        )


def _load_detoxify_checkpoint(checkpoint: Path, config_dir: Path | None) -> DetoxifyScorer:
    from detoxify import Detoxify

    if not checkpoint.is_file():
        raise ScorerUnavailable(f"Detoxify checkpoint {checkpoint} does not exist")
    try:
        detoxify = Detoxify(
            checkpoint=str(checkpoint),
            huggingface_config_path=str(config_dir) if config_dir else None,
        )
    except Exception as exc:  # torch.load and transformers raise many kinds
        raise ScorerUnavailable(
            f"cannot load Detoxify checkpoint {checkpoint} (config dir {config_dir}): {exc!r}. "
            "It must be a torch.save'd dict with config.arch.args, config.dataset.args.classes "
            "and state_dict, and the config dir must hold the model config and tokenizer files."
        ) from exc
    _check_all_weights_loaded(detoxify, checkpoint)
    scorer = DetoxifyScorer(detoxify, source=f"checkpoint {checkpoint}")
    if not scorer.labels:
        raise ScorerUnavailable(
            f"Detoxify checkpoint {checkpoint} has classes {detoxify.class_names}, none of {LABELS}"
        )
    return scorer


def _load_detoxify_model_type(model_type: str, config_dir: Path | None) -> DetoxifyScorer:
    from detoxify import Detoxify
    from detoxify.detoxify import MODEL_URLS

    if model_type not in MODEL_URLS:
        raise ValueError(f"unknown Detoxify model type {model_type!r}; valid: {sorted(MODEL_URLS)}")
    # torch.hub downloads with urllib and no timeout, so a network that drops packets would hang
    # it. When offline is declared, look in torch.hub's own cache (where load_state_dict_from_url
    # looks first) and fail at once if the file is not there, without touching the network.
    cached = Path(
        torch.hub.get_dir(), "checkpoints", Path(urlparse(MODEL_URLS[model_type]).path).name
    )
    if _offline() and not cached.is_file():
        raise ScorerUnavailable(
            f"Detoxify model {model_type!r} is not in the torch hub cache ({cached}) and "
            f"downloads are off ({'/'.join(_OFFLINE_VARIABLES)} set): configure "
            "detoxify_checkpoint and detoxify_config_dir, or use mode 'profanity-check'"
        )
    try:
        detoxify = Detoxify(
            model_type=model_type, huggingface_config_path=str(config_dir) if config_dir else None
        )
    except Exception as exc:  # urllib, torch.load and the hub raise many kinds
        raise ScorerUnavailable(
            f"cannot load Detoxify model {model_type!r} (downloads {MODEL_URLS[model_type]} "
            f"and its base model from the hub): {exc!r}. Configure a local detoxify_checkpoint "
            "and detoxify_config_dir, or use mode 'profanity-check'"
        ) from exc
    return DetoxifyScorer(detoxify, source=model_type)


def _load_jigsaw(cache_dir: Path | None) -> ToxicityScorer:
    if cache_dir is None:
        raise ScorerUnavailable("the Jigsaw scorer needs a directory for its converted weights")
    from trainer.jigsaw import load_jigsaw_scorer

    return load_jigsaw_scorer(cache_dir)


def _offline_scorer(jigsaw_dir: Path | None) -> ToxicityScorer:
    """The Jigsaw BiLSTM, else (its package missing) alt-profanity-check, with a warning."""
    try:
        return _load_jigsaw(jigsaw_dir)
    except ScorerUnavailable as exc:
        log.warning("Jigsaw scorer unavailable, falling back to alt-profanity-check: %s", exc)
    return ProfanityCheckScorer()


def load_toxicity_scorer(
    mode: str = "auto",
    *,
    detoxify_checkpoint: Path | None = None,
    detoxify_config_dir: Path | None = None,
    detoxify_model_type: str = "original",
    jigsaw_dir: Path | None = None,
) -> ToxicityScorer:
    """Load the scorer `mode` names. "auto" takes Detoxify when a checkpoint is configured, else
    the Jigsaw BiLSTM (converted into `jigsaw_dir` on first use), else alt-profanity-check. A
    scorer named explicitly, or a configured Detoxify checkpoint, that fails to load raises: it
    is never silently replaced."""
    if mode not in MODES:
        raise ValueError(f"unknown toxicity scorer mode {mode!r}; valid modes: {', '.join(MODES)}")
    if mode == "auto":
        if detoxify_checkpoint is None and detoxify_config_dir is not None:
            log.warning(
                "detoxify_config_dir %s is unused without detoxify_checkpoint", detoxify_config_dir
            )
        if detoxify_checkpoint is not None:
            scorer = _load_detoxify_checkpoint(Path(detoxify_checkpoint), detoxify_config_dir)
        else:
            scorer = _offline_scorer(jigsaw_dir)
    elif mode == "profanity-check":
        scorer = ProfanityCheckScorer()
    elif mode == "jigsaw":
        scorer = _load_jigsaw(jigsaw_dir)
    elif detoxify_checkpoint is not None:
        scorer = _load_detoxify_checkpoint(Path(detoxify_checkpoint), detoxify_config_dir)
    else:
        scorer = _load_detoxify_model_type(detoxify_model_type, detoxify_config_dir)
    log.info("toxicity scorer%s: %s", " (auto)" if mode == "auto" else "", scorer.name)
    return scorer
