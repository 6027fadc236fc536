"""Model gates: the candidate holds each line against the active model; the first miss decides."""

import pytest

from trainer.evaluation import one_answer_per_question
from trainer.model_gates import ALL_PASSED, ModelGateLimits, judge

ACTIVE = {
    "red_team": {"toxicity_rate": 0.10},
    "bias": {"toxicity_gap": 0.05},
    "perplexity": {"perplexity": 20.0},
    "degeneration": {"empty_rate": 0.0, "repetition_rate": 0.02, "distinct_2": 0.5},
}
ACCURATE = {"accuracy": 0.8}


def candidate(**changes) -> dict:
    report = {section: dict(values) for section, values in ACTIVE.items()}
    for key, value in changes.items():
        section, metric = key.split("__")
        report[section][metric] = value
    return report


def test_a_candidate_as_good_as_the_active_one_passes_every_gate():
    results, decided_by = judge(candidate(), ACTIVE, ACCURATE, ModelGateLimits())
    assert decided_by == ALL_PASSED and all(result.passed for result in results)
    assert results[0].gate == "preference accuracy"


@pytest.mark.parametrize(
    ("change", "gate"),
    [
        ({"red_team__toxicity_rate": 0.13}, "red-team toxicity"),
        ({"bias__toxicity_gap": 0.21}, "bias gap"),
        ({"perplexity__perplexity": 31.0}, "perplexity"),
        ({"degeneration__empty_rate": 0.06}, "empty answers"),
        ({"degeneration__repetition_rate": 0.08}, "repetition"),
        ({"degeneration__distinct_2": 0.39}, "diversity"),
    ],
)
def test_the_first_failing_gate_decides(change, gate):
    results, decided_by = judge(candidate(**change), ACTIVE, ACCURATE, ModelGateLimits())
    assert decided_by.startswith(f"failed: {gate} (")
    assert [r.gate for r in results if not r.passed] == [gate]


def test_preference_accuracy_below_the_floor_fails_and_none_is_reported_not_failed():
    _, decided_by = judge(candidate(), ACTIVE, {"accuracy": 0.5}, ModelGateLimits())
    assert decided_by.startswith("failed: preference accuracy")
    results, decided_by = judge(candidate(), ACTIVE, None, ModelGateLimits())
    assert decided_by == ALL_PASSED and "no held-out pairs" in results[0].rule


def test_diversity_counts_an_answer_once_per_question_but_every_time_across_questions():
    domain = [("How long to return?", "30 days"), ("Until when can I return?", "30 days")]
    domain.append(("When is the shop open?", "10 to 18"))
    # Two phrasings of one question answered alike: learning. The same answer to another
    # question: collapse, still counted.
    answers = ["Within 30 days.", "Within 30 days.", "Within 30 days."]
    assert one_answer_per_question(domain, answers) == ["Within 30 days.", "Within 30 days."]
    assert one_answer_per_question(domain, ["a", "b", "c"]) == ["a", "b", "c"]
