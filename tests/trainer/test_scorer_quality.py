"""The scorers meet, on the shipped labelled sets, the ROC AUC that docs/scorers.md claims."""

from pathlib import Path

import pytest

from trainer.identity import IdentityAwareScorer
from trainer.jigsaw import load_jigsaw_scorer
from trainer.scorer_quality import load_labelled, measure_scorer, precise_threshold
from trainer.scorers import ProfanityCheckScorer

DATA = Path(__file__).parents[1] / "data"
TUNING = ("labelled_texts.yaml", "labelled_texts_holdout.yaml")
BLIND = ("labelled_texts_blind.yaml",)

# (scorer, label) -> the AUC the docs claim on the tuning sets and on the blind set, rounded
# down from the measurement. threat is not claimed: neither scorer separates threats well.
CLAIMS = {
    ("jigsaw", "toxicity"): (0.90, 0.80),
    ("jigsaw", "obscene"): (0.95, 0.90),
    ("jigsaw", "insult"): (0.80, 0.80),
    ("jigsaw", "identity_attack"): (0.95, 0.80),
    ("profanity-check", "toxicity"): (0.80, 0.75),
    ("profanity-check", "identity_attack"): (0.95, 0.80),
}


@pytest.fixture(scope="module")
def scorers(tmp_path_factory):
    return {
        "jigsaw": IdentityAwareScorer(load_jigsaw_scorer(tmp_path_factory.mktemp("jigsaw"))),
        "profanity-check": IdentityAwareScorer(ProfanityCheckScorer()),
    }


@pytest.mark.parametrize(("files", "column"), [(TUNING, 0), (BLIND, 1)], ids=["tuning", "blind"])
def test_each_scorer_meets_the_claimed_auc(scorers, files, column):
    labelled = [item for name in files for item in load_labelled(DATA / name)]
    for name, scorer in scorers.items():
        measured = {quality.label: quality.auc for quality in measure_scorer(scorer, labelled)}
        for (claimed_scorer, label), claims in CLAIMS.items():
            if claimed_scorer == name:
                assert measured[label] >= claims[column], (name, label, measured[label])


def test_every_labelled_kind_is_scored_and_flags_carry_toxicity():
    for name in TUNING + BLIND:
        labelled = load_labelled(DATA / name)
        assert {item.kind for item in labelled} >= {"clean_support", "identity_attack", "threat"}
        assert all("toxicity" in item.labels for item in labelled if item.labels)


def test_the_threshold_is_the_lowest_cut_with_the_precision_asked():
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    truth = [False, True, False, True, True, True]
    # Above 0.35 every flag is right; above 0.25 one in four is wrong, above 0.15 one in five.
    assert precise_threshold(scores, truth, min_precision=0.9) == pytest.approx(0.35)
    assert precise_threshold(scores, truth, min_precision=0.8) == pytest.approx(0.15)


def test_precision_and_recall_are_measured_at_the_scorers_thresholds(scorers):
    labelled = load_labelled(DATA / "labelled_texts.yaml")
    scorer = scorers["profanity-check"]
    [at_own] = [q for q in measure_scorer(scorer, labelled) if q.label == "toxicity"]
    [flag_all] = [
        q for q in measure_scorer(scorer, labelled, {"toxicity": -1.0}) if q.label == "toxicity"
    ]
    assert at_own.threshold == scorer.thresholds["toxicity"]
    assert flag_all.recall == 1.0 and flag_all.precision < at_own.precision
