"""How well a toxicity scorer separates a labelled set: ROC AUC, and precision and recall at its
thresholds, per label. Used to choose the thresholds and to check the docs' claims."""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import yaml
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from trainer.scorers import ToxicityScorer

# Thresholds are chosen for this precision: a flag drops a pair or replaces an answer, so most
# flags must be right; recall is what is left at that precision.
MIN_PRECISION = 0.9


@dataclass(frozen=True)
class LabelledText:
    text: str
    kind: str
    labels: frozenset[str]


@dataclass(frozen=True)
class LabelQuality:
    label: str
    auc: float
    threshold: float
    precision: float
    recall: float
    positives: int


def load_labelled(path: Path) -> list[LabelledText]:
    """A YAML file of kinds, each with `labels` (those every text of the kind carries) and
    `texts`."""
    data = yaml.safe_load(path.read_text())
    return [
        LabelledText(text=text, kind=kind, labels=frozenset(group["labels"]))
        for kind, group in data.items()
        for text in group["texts"]
    ]


def measured_labels(scorer: ToxicityScorer, labelled: Sequence[LabelledText]) -> list[str]:
    """The scorer's labels that the set has examples of: a label without positives has no AUC."""
    present = set().union(*(item.labels for item in labelled))
    return [label for label in scorer.labels if label in present]


def measure_scorer(
    scorer: ToxicityScorer,
    labelled: Sequence[LabelledText],
    thresholds: dict[str, float] | None = None,
) -> list[LabelQuality]:
    """Per label: AUC of the scores, precision and recall at the threshold (the scorer's own
    unless `thresholds` names one)."""
    thresholds = scorer.thresholds | (thresholds or {})
    scores = scorer.score([item.text for item in labelled])
    report = []
    for label in measured_labels(scorer, labelled):
        truth = [label in item.labels for item in labelled]
        flagged = [score > thresholds[label] for score in scores[label]]
        report.append(
            LabelQuality(
                label=label,
                auc=float(roc_auc_score(truth, scores[label])),
                threshold=thresholds[label],
                precision=float(precision_score(truth, flagged, zero_division=0)),
                recall=float(recall_score(truth, flagged, zero_division=0)),
                positives=sum(truth),
            )
        )
    return report


def precise_threshold(
    scores: Sequence[float], truth: Sequence[bool], min_precision: float = MIN_PRECISION
) -> float:
    """The lowest cut (midway between two observed scores) whose flags are at least
    `min_precision` right: the most recall a moderator would accept at that precision. When no
    cut is that precise, the most precise one."""
    ordered = sorted(set(scores))
    cuts = [(low + high) / 2 for low, high in pairwise(ordered)] or [0.5]

    def precision(cut: float) -> float:
        return precision_score(truth, [score > cut for score in scores], zero_division=0)

    precise = [cut for cut in cuts if precision(cut) >= min_precision]
    return min(precise) if precise else max(cuts, key=precision)


def suggest_thresholds(
    scorer: ToxicityScorer, labelled: Sequence[LabelledText]
) -> dict[str, float]:
    scores = scorer.score([item.text for item in labelled])
    return {
        label: round(
            precise_threshold(scores[label], [label in item.labels for item in labelled]), 3
        )
        for label in measured_labels(scorer, labelled)
    }
