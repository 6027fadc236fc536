"""Builds the scorers from settings, for the nightly job, the serving guard and `tuneloop score`."""

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
