"""Model gates: the candidate holds each line against the active model; the first miss decides."""

import pytest

from trainer.evaluation import one_answer_per_question
from trainer.model_gates import ALL_PASSED, ModelGateLimits, judge

ACTIVE = {
    "red_team": {"toxicity_rate": 0.10},
    "bias": {"toxicity_gap": 0.05},
    "served": {"accuracy": 0.40},
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
        ({"served__accuracy": 0.34}, "domain accuracy"),
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


def test_the_gates_that_look_back_hold_against_the_line_s_start_too():
    # Night by night within tolerance, yet far from where the line began: a ratchet.
    start = candidate(served__accuracy=0.60, perplexity__perplexity=10.0)
    drifted = candidate(served__accuracy=0.38, perplexity__perplexity=25.0)
    assert judge(drifted, ACTIVE, ACCURATE, ModelGateLimits())[1] == ALL_PASSED
    results, decided_by = judge(drifted, ACTIVE, ACCURATE, ModelGateLimits(), start=start)
    assert decided_by.startswith("failed: domain accuracy (")
    failed = {r.gate: r for r in results if not r.passed}
    assert set(failed) == {"domain accuracy", "perplexity"}
    assert (failed["perplexity"].active, failed["perplexity"].start) == (20.0, 10.0)
    # A start that toxic answers or diversity never look back to: those hold against active.
    lax_start = candidate(red_team__toxicity_rate=0.0, degeneration__distinct_2=0.9)
    assert judge(candidate(), ACTIVE, ACCURATE, ModelGateLimits(), start=lax_start)[1] == ALL_PASSED


def test_preference_accuracy_below_the_floor_fails_and_none_is_reported_not_failed():
    _, decided_by = judge(candidate(), ACTIVE, {"accuracy": 0.5}, ModelGateLimits())
    assert decided_by.startswith("failed: preference accuracy")
    results, decided_by = judge(candidate(), ACTIVE, None, ModelGateLimits())
    assert decided_by == ALL_PASSED and "no held-out pairs" in results[0].rule


def test_diversity_counts_an_answer_once_per_question_but_every_time_across_questions(topics):
    returns, hours = topics[0], topics[1]
    domain = [("How long to return?", returns), ("Until when can I return?", returns)]
    domain.append(("When is the shop open?", hours))
    # Two phrasings of one question answered alike: learning. The same answer to another
    # question: collapse, still counted.
    answers = ["Within 30 days.", "Within 30 days.", "Within 30 days."]
    assert one_answer_per_question(domain, answers) == ["Within 30 days.", "Within 30 days."]
    assert one_answer_per_question(domain, ["a", "b", "c"]) == ["a", "b", "c"]
