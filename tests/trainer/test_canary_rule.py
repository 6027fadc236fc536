"""The canary's statistics on simulated streams, checked after every event: worse canaries are
rolled back, better and equal ones promoted, and A/A streams rarely roll back."""

from dataclasses import dataclass

import numpy as np
import pytest

from feedback.models import CanaryOutcome
from trainer.canary_rule import (
    GUARD,
    METRICS,
    THUMBS,
    Policy,
    judge,
    promote_signal,
    rollback_signal,
)
from trainer.canary_stats import (
    Tally,
    confidence_interval,
    log_evidence_above,
    log_evidence_below,
)


@dataclass(frozen=True)
class Rates:
    """One version's true rates: thumbs up, regenerated, guard-flagged, negative reply."""

    thumbs_up: float = 0.3
    regenerated: float = 0.15
    guard_flagged: float = 0.03
    negative_replies: float = 0.2


# Per answer: the chance it is rated, and that the user replies.
RATED, REPLIED = 0.8, 0.3


def simulate(canary: Rates, baseline: Rates, *, streams: int, events: int, share: float, seed=0):
    """Answers served one after the other, each by the canary with chance `share`; the
    tallies after every answer, shape (streams, events)."""
    rng = np.random.default_rng(seed)
    by_canary = rng.random((streams, events)) < share
    comparison = {}
    for metric in METRICS:
        rate = np.where(by_canary, getattr(canary, metric.key), getattr(baseline, metric.key))
        hit = rng.random((streams, events)) < rate
        if metric is THUMBS:
            seen = rng.random((streams, events)) < RATED
        elif metric.key == "negative_replies":
            seen = rng.random((streams, events)) < REPLIED
        else:
            seen = np.ones((streams, events), bool)
        comparison[metric.key] = Tally(
            canary_hits=np.cumsum(seen & hit & by_canary, axis=1, dtype=np.int32),
            canary_n=np.cumsum(seen & by_canary, axis=1, dtype=np.int32),
            baseline_hits=np.cumsum(seen & hit & ~by_canary, axis=1, dtype=np.int32),
            baseline_n=np.cumsum(seen & ~by_canary, axis=1, dtype=np.int32),
        )
    return comparison


def first_decisions(comparison, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """Per stream: the first decision checked after every event ("rollback", "promote" or
    "wait" at the end), and the event it came at (-1 for wait)."""
    rollback = rollback_signal(comparison, policy)
    decided = rollback | promote_signal(comparison, policy)
    at = np.where(decided.any(axis=1), decided.argmax(axis=1), -1)
    rows = np.arange(len(at))
    outcome = np.where(rollback[rows, at], "rollback", "promote")
    return np.where(at >= 0, outcome, "wait"), at


def test_aa_streams_checked_after_every_event_rarely_roll_back():
    """1,000 A/A streams of 3,000 answers (a fifth served by the canary), the rule checked
    after each: the share ever rolled back stays at or under the configured error rate."""
    policy = Policy(confidence=0.95)
    rolled_back = 0
    for chunk in range(4):  # 250 streams at a time keeps the arrays small
        comparison = simulate(Rates(), Rates(), streams=250, events=3000, share=0.2, seed=chunk)
        rolled_back += int(rollback_signal(comparison, policy).any(axis=1).sum())
    assert rolled_back / 1000 <= policy.alpha


def test_a_worse_canary_is_rolled_back():
    worse = Rates(thumbs_up=0.2, regenerated=0.25)
    comparison = simulate(worse, Rates(), streams=100, events=3000, share=0.5, seed=1)
    outcomes, at = first_decisions(comparison, Policy(min_rated=200))
    assert (outcomes == "rollback").all()
    assert np.median(at) < 1500  # well before the end


def test_a_better_canary_is_promoted():
    better = Rates(thumbs_up=0.45, regenerated=0.1)
    comparison = simulate(better, Rates(), streams=100, events=3000, share=0.5, seed=2)
    outcomes, _ = first_decisions(comparison, Policy(min_rated=200))
    assert (outcomes == "promote").mean() >= 0.95 and not (outcomes == "rollback").any()


def test_an_equal_canary_is_promoted_once_it_has_the_minimum_of_rated_answers():
    policy = Policy(margin=0.2, min_rated=300)
    comparison = simulate(Rates(), Rates(), streams=100, events=2000, share=0.5, seed=3)
    outcomes, at = first_decisions(comparison, policy)
    assert (outcomes == "promote").all()
    rated = comparison[THUMBS.key].canary_n[np.arange(100), at]
    assert (rated >= policy.min_rated).all()
    assert (rated == policy.min_rated).mean() >= 0.9  # the evidence was there; the minimum waited


def test_a_spike_of_guard_flags_rolls_back_before_anything_else_is_known():
    canary = Tally(canary_hits=12, canary_n=20, baseline_hits=0, baseline_n=0)
    no_data = Tally(0, 0, 0, 0)
    comparison = {metric.key: no_data for metric in METRICS} | {GUARD.key: canary}
    verdict = judge(comparison, Policy(guard_ceiling=0.2))
    assert verdict.outcome == CanaryOutcome.rollback
    assert verdict.reason.startswith("spike of guard flags: 12 of 20 answers withheld (60%)")


def test_judge_explains_each_outcome_with_its_numbers():
    def comparison(canary_ups: int, rated: int) -> dict[str, Tally]:
        return {metric.key: Tally(0, rated, 0, rated) for metric in METRICS} | {
            THUMBS.key: Tally(canary_ups, rated, rated // 2, rated)
        }

    policy = Policy(margin=0.1, min_rated=400)
    waiting = judge(comparison(50, 100), policy)
    assert waiting.outcome == CanaryOutcome.wait and "100 of 400" in waiting.reason
    undecided = judge(comparison(190, 400), policy)
    assert undecided.outcome == CanaryOutcome.wait and "undecided" in undecided.reason
    promoted = judge(comparison(1000, 2000), policy)
    assert promoted.outcome == CanaryOutcome.promote
    assert promoted.numbers[THUMBS.key]["promote_bound"] > -0.1
    rolled_back = judge(comparison(300, 1000), policy)
    assert rolled_back.outcome == CanaryOutcome.rollback
    assert rolled_back.reason.startswith("worse thumbs-up rate: 30.0% against 50.0%")
    assert rolled_back.numbers[THUMBS.key]["high"] < 0
    watched = judge(comparison(1000, 2000), policy, watch=True)
    assert watched.outcome == CanaryOutcome.wait  # a watch never promotes


@pytest.mark.parametrize("alpha", [0.05, 0.0125])
def test_the_bounds_are_where_the_evidence_crosses_its_threshold(alpha):
    rng = np.random.default_rng(4)
    for _ in range(20):
        n_c, n_b = rng.integers(20, 500, size=2)
        tally = Tally(rng.integers(0, n_c + 1), n_c, rng.integers(0, n_b + 1), n_b)
        low, high = confidence_interval(tally, alpha)
        threshold = np.log(1 / alpha)
        if low > -1:
            assert log_evidence_above(tally, low - 1e-6) >= threshold
            assert log_evidence_above(tally, low + 1e-3) < threshold
        if high < 1:
            assert log_evidence_below(tally, high + 1e-6) >= threshold
            assert log_evidence_below(tally, high - 1e-3) < threshold


def test_one_side_without_events_bounds_the_difference_by_the_other_side_alone():
    one_sided = Tally(canary_hits=0, canary_n=50, baseline_hits=0, baseline_n=0)
    assert log_evidence_below(one_sided, 0.0) <= 0 and log_evidence_above(one_sided, 0.0) <= 0
    low, high = confidence_interval(one_sided, 0.05)
    # 0 of 50: the canary's rate is below about 0.13, so the difference is too.
    assert low == -1.0 and 0.05 < high < 0.2
