"""The canary's decision rule: which live metrics count, how the error rate is shared among
them, and when a canary is promoted, rolled back or left to wait. Pure functions of counts;
the signals take numpy arrays, so a simulation checks a rule after every event in one call."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from feedback.models import CanaryOutcome
from trainer.canary_stats import (
    Tally,
    confidence_interval,
    log_evidence_above,
    log_evidence_below,
    log_evidence_rate_above,
)

METHOD = "always-valid beta-binomial mixture likelihood ratio (universal inference)"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool


THUMBS = Metric("thumbs_up", "thumbs-up rate", higher_is_better=True)
GUARD = Metric("guard_flagged", "guard-flag rate", higher_is_better=False)
METRICS = (
    THUMBS,
    Metric("regenerated", "regenerate rate", higher_is_better=False),
    GUARD,
    Metric("negative_replies", "share of negative user replies", higher_is_better=False),
)

Comparison = Mapping[str, Tally]  # metric key -> both versions' counts


@dataclass(frozen=True)
class Policy:
    confidence: float = 0.95
    margin: float = 0.05  # on the thumbs-up rate: how much worse a promoted canary may be
    min_rated: int = 200  # the canary's rated answers before it may be promoted
    guard_ceiling: float = 0.3  # a canary whose guard-flag rate is above this is rolled back

    @property
    def alpha(self) -> float:
        """The chance of promoting a canary that is worse by more than the margin."""
        return 1 - self.confidence

    @property
    def rollback_alpha(self) -> float:
        """Each rollback test's share of the error rate: one test per metric and one for a
        spike of guard flags, so that all together roll back a canary that is no worse on
        any metric with a chance of at most `alpha` (Bonferroni)."""
        return self.alpha / (len(METRICS) + 1)


@dataclass(frozen=True)
class Verdict:
    outcome: CanaryOutcome
    reason: str
    numbers: dict[str, Any]


def worse_evidence(tally: Tally, metric: Metric) -> np.ndarray:
    """log evidence that the canary is worse than the baseline on `metric`."""
    if metric.higher_is_better:
        return log_evidence_below(tally, 0.0)
    return log_evidence_above(tally, 0.0)


def spike_evidence(guard: Tally, policy: Policy) -> np.ndarray:
    """log evidence that the canary's guard-flag rate is above the ceiling: needs no baseline,
    so a canary that writes many flagged answers goes at once."""
    return log_evidence_rate_above(guard.canary_hits, guard.canary_n, policy.guard_ceiling)


def rollback_signal(comparison: Comparison, policy: Policy) -> np.ndarray:
    """Where the canary is to be rolled back: a spike of guard flags, or worse on any metric."""
    threshold = np.log(1 / policy.rollback_alpha)
    signal = spike_evidence(comparison[GUARD.key], policy) >= threshold
    for metric in METRICS:
        signal = signal | (worse_evidence(comparison[metric.key], metric) >= threshold)
    return signal


def promote_signal(comparison: Comparison, policy: Policy) -> np.ndarray:
    """Where the canary may be promoted (unless a rollback signal says otherwise): enough rated
    answers, and a thumbs-up rate not worse than the baseline's by more than the margin."""
    thumbs = comparison[THUMBS.key]
    enough = np.asarray(thumbs.canary_n) >= policy.min_rated
    return enough & (log_evidence_above(thumbs, -policy.margin) >= np.log(1 / policy.alpha))


def judge(comparison: Comparison, policy: Policy, *, watch: bool = False) -> Verdict:
    """The decision on one comparison, with its reason and numbers. Under `watch` (a promoted
    version against the previous one's baseline) the only decisions are roll back and wait."""
    numbers = describe(comparison, policy)
    confident = f"{1 - policy.rollback_alpha:.1%} confidence"
    guard = numbers[GUARD.key]["canary"]
    if spike_evidence(comparison[GUARD.key], policy) >= np.log(1 / policy.rollback_alpha):
        reason = (
            f"spike of guard flags: {guard['hits']} of {guard['n']} answers withheld "
            f"({guard['rate']:.0%}), above the {policy.guard_ceiling:.0%} ceiling with {confident}"
        )
        return Verdict(CanaryOutcome.rollback, reason, numbers)
    for metric in METRICS:
        if worse_evidence(comparison[metric.key], metric) >= np.log(1 / policy.rollback_alpha):
            figures = numbers[metric.key]
            reason = (
                f"worse {metric.label}: {figures['canary']['rate']:.1%} against "
                f"{figures['baseline']['rate']:.1%}, the difference within "
                f"[{figures['low']:+.3f}, {figures['high']:+.3f}] with {confident}"
            )
            return Verdict(CanaryOutcome.rollback, reason, numbers)
    rated = numbers[THUMBS.key]["canary"]["n"]
    if watch:
        return Verdict(
            CanaryOutcome.wait, f"no significant drop after {rated} rated answers", numbers
        )
    if rated < policy.min_rated:
        reason = f"waiting for rated answers: {rated} of {policy.min_rated}"
        return Verdict(CanaryOutcome.wait, reason, numbers)
    lower = numbers[THUMBS.key]["promote_bound"]
    if promote_signal(comparison, policy):
        reason = (
            f"thumbs-up rate not worse by more than {policy.margin}: the difference is above "
            f"{lower:+.3f} with {policy.confidence:.0%} confidence, after {rated} rated answers"
        )
        return Verdict(CanaryOutcome.promote, reason, numbers)
    reason = (
        f"undecided after {rated} rated answers: the thumbs-up difference is above {lower:+.3f} "
        f"with {policy.confidence:.0%} confidence; promotion needs above {-policy.margin:+.3f}"
    )
    return Verdict(CanaryOutcome.wait, reason, numbers)


def describe(comparison: Comparison, policy: Policy) -> dict[str, Any]:
    """The numbers a decision rests on, JSON-ready: per metric both versions' counts and
    rates, the difference with its bounds at the rollback confidence, and the evidence."""
    numbers: dict[str, Any] = {
        "method": METHOD,
        "confidence": policy.confidence,
        "rollback_confidence": 1 - policy.rollback_alpha,
        "margin": policy.margin,
        "min_rated": policy.min_rated,
        "guard_ceiling": policy.guard_ceiling,
    }
    for metric in METRICS:
        tally = comparison[metric.key]
        canary_rate, baseline_rate = (float(rate) for rate in tally.rates())
        low, high = confidence_interval(tally, policy.rollback_alpha)
        numbers[metric.key] = {
            "canary": _side(tally.canary_hits, tally.canary_n, canary_rate),
            "baseline": _side(tally.baseline_hits, tally.baseline_n, baseline_rate),
            "difference": _finite(canary_rate - baseline_rate),
            "low": low,
            "high": high,
            "log_evidence_worse": float(worse_evidence(tally, metric)),
        }
    numbers[THUMBS.key]["promote_bound"] = confidence_interval(
        comparison[THUMBS.key], policy.alpha
    )[0]
    numbers[GUARD.key]["log_evidence_spike"] = float(spike_evidence(comparison[GUARD.key], policy))
    return numbers


def _side(hits, n, rate: float) -> dict[str, Any]:
    return {"hits": int(hits), "n": int(n), "rate": _finite(rate)}


def _finite(value: float) -> float | None:
    """JSON has no NaN (PostgreSQL refuses it): a rate without events is None."""
    return None if np.isnan(value) else float(value)
