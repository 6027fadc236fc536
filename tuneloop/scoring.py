"""Builds the scorers from settings, for the nightly job, the serving guard and `tuneloop score`."""

from collections.abc import Callable, Sequence

from trainer.data_gates import DataGateLimits
from trainer.scorers import ToxicityScorer, load_toxicity_scorer
from tuneloop.settings import Settings


def toxicity_scorer(settings: Settings) -> ToxicityScorer:
    scoring = settings.scoring
    return load_toxicity_scorer(
        scoring.scorer,
        detoxify_checkpoint=scoring.detoxify_checkpoint,
        detoxify_config_dir=scoring.detoxify_config_dir,
    )


def data_gate_limits(settings: Settings) -> DataGateLimits:
    thresholds = settings.scoring.thresholds
    return DataGateLimits(
        toxicity=thresholds.get("toxicity", 0.5),
        identity_attack=thresholds.get("identity_attack", 0.5),
    )


def text_flagger(settings: Settings) -> Callable[[Sequence[str]], list[list[str]]]:
    """texts -> for each, the labels its toxicity scores exceed (the serving guard's check)."""
    scorer = toxicity_scorer(settings)
    thresholds = settings.scoring.thresholds

    def flag(texts: Sequence[str]) -> list[list[str]]:
        scores = scorer.score(texts)
        return [
            [label for label, values in scores.items() if values[i] > thresholds.get(label, 0.5)]
            for i in range(len(texts))
        ]

    return flag
