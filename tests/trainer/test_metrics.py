"""Model-gate metrics: the repo's evaluate modules, loaded by path, on hand-computed inputs."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import math
import socket

import pytest

from trainer.metrics import METRICS_DIR, MODULE_TYPES, load_metric

LOOPING = "I can help. I can help. I can help."


@pytest.fixture(scope="module")
def metrics():
    return {name: load_metric(name) for name in MODULE_TYPES}


# Preference accuracy. With beta 0.5 the margins are 1.0, -1.0 and 0.5.
PAIRS = {
    "chosen_logps": [-1.0, -4.0, -2.0],
    "rejected_logps": [-3.0, -2.0, -5.0],
    "ref_chosen_logps": [-2.0, -3.0, -2.0],
    "ref_rejected_logps": [-2.0, -3.0, -4.0],
}


def test_preference_accuracy_counts_pairs_with_a_positive_margin(metrics):
    result = metrics["preference_accuracy"].compute(**PAIRS, beta=0.5)

    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["mean_margin"] == pytest.approx((1.0 - 1.0 + 0.5) / 3)
    assert result["count"] == 3


def test_preference_accuracy_scales_the_margin_by_a_default_beta_of_0_1(metrics):
    result = metrics["preference_accuracy"].compute(**PAIRS)

    assert result["mean_margin"] == pytest.approx((0.2 - 0.2 + 0.1) / 3)
    assert result["accuracy"] == pytest.approx(2 / 3)


def test_preference_accuracy_of_the_reference_itself_is_zero(metrics):
    reference = {"chosen_logps": [-1.0, -6.0], "rejected_logps": [-5.0, -2.0]}

    result = metrics["preference_accuracy"].compute(
        **reference,
        ref_chosen_logps=reference["chosen_logps"],
        ref_rejected_logps=reference["rejected_logps"],
    )

    assert result == {"accuracy": 0.0, "mean_margin": 0.0, "count": 2}


def test_preference_accuracy_requires_the_reference_logps(metrics):
    with pytest.raises((TypeError, ValueError)):
        metrics["preference_accuracy"].compute(chosen_logps=[-1.0], rejected_logps=[-2.0])


def test_preference_accuracy_of_no_pairs_is_zero(metrics):
    result = metrics["preference_accuracy"].compute(**{name: [] for name in PAIRS})

    assert result == {"accuracy": 0.0, "mean_margin": 0.0, "count": 0}


# Toxicity rate.


def test_toxicity_rate_counts_scores_strictly_above_the_threshold(metrics):
    result = metrics["toxicity_rate"].compute(toxicity=[0.1, 0.5, 0.6, 0.9])

    assert result["toxicity_rate"] == 0.5  # 0.5 itself is not above the default 0.5
    assert result["mean_toxicity"] == pytest.approx(2.1 / 4)
    assert result["max_toxicity"] == pytest.approx(0.9)
    assert result["count"] == 4


def test_toxicity_rate_follows_the_threshold(metrics):
    result = metrics["toxicity_rate"].compute(toxicity=[0.1, 0.5, 0.6, 0.9], threshold=0.05)

    assert result["toxicity_rate"] == 1.0


def test_toxicity_rate_of_no_answers_is_zero(metrics):
    result = metrics["toxicity_rate"].compute(toxicity=[])

    assert result == {"toxicity_rate": 0.0, "mean_toxicity": 0.0, "max_toxicity": 0.0, "count": 0}


# Bias gap. Group means: women 0.3 / 0.2, men 0.1 / 0.8, Muslims 0.7 / -0.5.
SWAPS = {
    "group": ["women", "Muslims", "men", "women", "Muslims"],
    "toxicity": [0.4, 0.6, 0.1, 0.2, 0.8],
    "sentiment": [0.5, -0.4, 0.8, -0.1, -0.6],
}


def test_bias_gap_compares_the_group_means(metrics):
    result = metrics["bias_gap"].compute(**SWAPS)

    assert result["toxicity_gap"] == pytest.approx(0.7 - 0.1)
    assert result["sentiment_gap"] == pytest.approx(0.8 - (-0.5))
    assert result["worst_group"] == "Muslims"
    assert result["groups"] == 3


def test_bias_gap_reports_each_group(metrics):
    per_group = metrics["bias_gap"].compute(**SWAPS)["per_group"]

    assert set(per_group) == {"women", "men", "Muslims"}
    assert per_group["women"]["toxicity"] == pytest.approx(0.3)
    assert per_group["women"]["sentiment"] == pytest.approx(0.2)
    assert per_group["women"]["count"] == 2
    assert per_group["men"] == {"toxicity": pytest.approx(0.1), "sentiment": 0.8, "count": 1}
    assert per_group["Muslims"]["count"] == 2


def test_bias_gap_of_a_single_group_is_zero(metrics):
    result = metrics["bias_gap"].compute(
        group=["women", "women"], toxicity=[0.1, 0.9], sentiment=[-1.0, 1.0]
    )

    assert result["toxicity_gap"] == 0.0
    assert result["sentiment_gap"] == 0.0
    assert result["worst_group"] == "women"
    assert result["groups"] == 1


def test_bias_gap_of_no_answers_has_no_worst_group(metrics):
    result = metrics["bias_gap"].compute(group=[], toxicity=[], sentiment=[])

    assert result == {
        "toxicity_gap": 0.0,
        "sentiment_gap": 0.0,
        "worst_group": None,
        "groups": 0,
        "per_group": {},
    }


def test_bias_gap_breaks_a_tie_for_worst_group_by_name(metrics):
    result = metrics["bias_gap"].compute(
        group=["women", "men"], toxicity=[0.4, 0.4], sentiment=[0.0, 0.0]
    )

    assert result["worst_group"] == "men"


# Perplexity from summed negative log-likelihoods.


def test_perplexity_weights_texts_by_their_tokens(metrics):
    # Per-text means are 1.0 and 3.0; weighted by tokens the mean is 10 / 4, not 2.0.
    result = metrics["perplexity_from_nll"].compute(nll=[1.0, 9.0], tokens=[1, 3])

    assert result["mean_nll_per_token"] == pytest.approx(2.5)
    assert result["perplexity"] == pytest.approx(math.exp(2.5))
    assert result["tokens"] == 4


def test_perplexity_of_zero_tokens_is_an_error(metrics):
    with pytest.raises(ValueError, match="at least one scored token"):
        metrics["perplexity_from_nll"].compute(nll=[0.0, 0.0], tokens=[0, 0])


def test_perplexity_rejects_a_negative_token_count(metrics):
    with pytest.raises(ValueError, match="0 or more"):
        metrics["perplexity_from_nll"].compute(nll=[1.0, 1.0], tokens=[3, -1])


# Distinct-n and degeneration rates.


def test_distinct_n_counts_unique_ngrams_over_all_answers(metrics):
    result = metrics["distinct_n"].compute(predictions=["The cat sat.", "the dog sat", ""])

    assert result == {
        "distinct_1": pytest.approx(4 / 6),  # the, cat, sat, dog
        "distinct_2": 1.0,
        "empty_rate": pytest.approx(1 / 3),
        "repetition_rate": 0.0,
        "duplicate_rate": 0.0,
        "count": 3,
    }


def test_distinct_n_reports_up_to_max_n(metrics):
    result = metrics["distinct_n"].compute(predictions=["a b a b"], max_n=3)

    assert result["distinct_1"] == 0.5
    assert result["distinct_2"] == pytest.approx(2 / 3)
    assert result["distinct_3"] == 1.0
    assert "distinct_4" not in result


def test_distinct_n_flags_a_looping_answer(metrics):
    result = metrics["distinct_n"].compute(
        predictions=[
            LOOPING,
            "I can help you, then I can help him.",  # one 3-gram twice, no 4-gram twice
            "I can help and I can try.",  # a 2-gram twice is not a loop
            "Can I help? I can help.",
        ]
    )

    assert result["repetition_rate"] == 0.5


def test_distinct_n_counts_whitespace_only_answers_as_empty(metrics):
    result = metrics["distinct_n"].compute(predictions=["Hi", "   \n", "", "?"])

    assert result["empty_rate"] == 0.5  # "?" has no words but is not empty


def test_distinct_n_counts_copies_after_normalization(metrics):
    result = metrics["distinct_n"].compute(
        predictions=["Hello, world!", "hello   world", "reset_password", "Reset password?", "Bye"]
    )

    # Case, punctuation, spacing and underscores do not make an answer new.
    assert result["duplicate_rate"] == pytest.approx(4 / 5)


def test_distinct_n_of_no_answers_is_zero(metrics):
    result = metrics["distinct_n"].compute(predictions=[])

    assert result == {
        "distinct_1": 0.0,
        "distinct_2": 0.0,
        "empty_rate": 0.0,
        "repetition_rate": 0.0,
        "duplicate_rate": 0.0,
        "count": 0,
    }


def test_distinct_n_rejects_a_max_n_below_1(metrics):
    with pytest.raises(ValueError, match="max_n"):
        metrics["distinct_n"].compute(predictions=["hi"], max_n=0)


# Loading.


def test_domain_accuracy_is_the_share_of_correct_verdicts(metrics):
    result = metrics["domain_accuracy"].compute(verdicts=["good", "wrong", "good", "other"])
    assert result == {
        "accuracy": 0.5,
        "verdicts": {"good": 0.5, "other": 0.25, "wrong": 0.25},
        "count": 4,
    }
    assert metrics["domain_accuracy"].compute(verdicts=["vague", "good"], correct="vague")[
        "accuracy"
    ] == pytest.approx(0.5)


def test_domain_accuracy_of_no_answers_is_zero(metrics):
    result = metrics["domain_accuracy"].compute(verdicts=[])
    assert result == {"accuracy": 0.0, "verdicts": {}, "count": 0}


def test_load_metric_rejects_an_unknown_name():
    with pytest.raises(ValueError, match=r"unknown metric 'accuracy'.*distinct_n"):
        load_metric("accuracy")


def test_every_module_directory_is_registered():
    directories = {path.parent.name for path in METRICS_DIR.glob("*/*.py")}

    assert directories == set(MODULE_TYPES)


def test_load_metric_needs_no_network(monkeypatch):
    attempts = []

    def refuse(sock, address):
        attempts.append(address)
        raise OSError(f"no network in this test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)

    for name in MODULE_TYPES:
        assert load_metric(name).name == name

    assert attempts == []
