"""Always-valid comparison of two rates: evidence and a confidence sequence for the difference
between a canary's rate and a baseline's, safe to check after every event (no I/O here).

The method is a beta-binomial mixture likelihood ratio against the best-fitting null
("universal inference", Wasserman, Ramdas & Balakrishnan 2020). For a null set H0 of rate
pairs, the evidence after any number of events is

    E = [marginal likelihood of the data, each rate under a uniform Beta(1, 1) prior]
        / [the data's likelihood maximised over H0].

For every rate pair in H0, E is at most the mixture's likelihood ratio against that pair, a
nonnegative martingale with mean 1; by Ville's inequality the chance that E ever reaches 1/alpha
while H0 holds is at most alpha, however often one looks and whenever one stops. The set of
differences that the evidence does not reject is a confidence sequence with the same guarantee.
Every function takes counts as numbers or numpy arrays of one shape (a check after each event of
many simulated streams is one call).
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, xlogy

# Beta(1, 1): measured, it gives narrower bounds than Jeffreys' Beta(1/2, 1/2) at the counts a
# canary sees (50 to 1,000 events a version, rates 0.2 to 0.5).
PRIOR = 1.0
_BISECTIONS = 60  # halvings of [0, 1]: below float precision


@dataclass(frozen=True)
class Tally:
    """One metric's counts for both versions: events with the outcome (`hits`) out of `n`."""

    canary_hits: np.ndarray | int
    canary_n: np.ndarray | int
    baseline_hits: np.ndarray | int
    baseline_n: np.ndarray | int

    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Both observed rates (nan without events)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (
                np.asarray(self.canary_hits) / np.asarray(self.canary_n),
                np.asarray(self.baseline_hits) / np.asarray(self.baseline_n),
            )


def log_evidence_below(tally: Tally, delta: float) -> np.ndarray:
    """log E against "canary rate - baseline rate >= delta": large when the difference is
    below `delta` (a canary worse on a higher-is-better metric, with `delta=0`)."""
    return _log_evidence(tally, delta, below=True)


def log_evidence_above(tally: Tally, delta: float) -> np.ndarray:
    """log E against "canary rate - baseline rate <= delta": large when the difference is
    above `delta` (a canary at most `margin` worse, with `delta=-margin`)."""
    return _log_evidence(tally, delta, below=False)


def log_evidence_rate_above(hits: np.ndarray | int, n: np.ndarray | int, ceiling: float):
    """log E against "the rate is at most `ceiling`", from one version's counts alone."""
    hits, misses = np.asarray(hits, float), np.asarray(n, float) - np.asarray(hits, float)
    observed = np.divide(hits, hits + misses, out=np.zeros_like(hits), where=hits + misses > 0)
    best_in_null = np.minimum(observed, ceiling)
    return _log_mixture(hits, misses) - _log_likelihood(hits, misses, best_in_null)


def confidence_interval(tally: Tally, alpha: float) -> tuple[float, float]:
    """The differences (canary - baseline) that the evidence does not reject at `alpha`: the
    confidence sequence at this moment, for one tally of plain counts."""
    threshold = np.log(1 / alpha)
    centre = _observed_difference(tally)
    low = _bisect_difference(tally, threshold, inside=centre, outside=-1.0)
    high = _bisect_difference(tally, threshold, inside=centre, outside=1.0)
    return low, high


def _log_evidence(tally: Tally, delta: float, *, below: bool) -> np.ndarray:
    c_hits, c_misses, b_hits, b_misses = _counts(tally)
    best = _log_likelihood(c_hits, c_misses, _rate(c_hits, c_misses))
    best = best + _log_likelihood(b_hits, b_misses, _rate(b_hits, b_misses))
    observed = _rate(c_hits, c_misses) - _rate(b_hits, b_misses)
    # Without events on a side the best fit is not unique; the profile at `delta` then equals
    # the best wherever some best fit lies in the null, so the test below stays exact.
    in_null = observed >= delta if below else observed <= delta
    on_boundary = _profile(c_hits, c_misses, b_hits, b_misses, delta)
    mixture = _log_mixture(c_hits, c_misses) + _log_mixture(b_hits, b_misses)
    return mixture - np.where(in_null, best, on_boundary)


def _profile(c_hits, c_misses, b_hits, b_misses, delta: float) -> np.ndarray:
    """The log likelihood maximised over rate pairs with canary = baseline + delta."""
    if delta == 0:  # the pooled rate, in closed form: the check after every event stays cheap
        hits, misses = c_hits + b_hits, c_misses + b_misses
        return _log_likelihood(hits, misses, _rate(hits, misses))
    # The likelihood is concave in the baseline rate p: bisect on the sign of its slope.
    low = np.full(np.shape(c_hits), max(0.0, -delta))
    high = np.full(np.shape(c_hits), min(1.0, 1.0 - delta))
    with np.errstate(divide="ignore", invalid="ignore"):  # at delta = +-1 the range is a point
        for _ in range(_BISECTIONS):
            p = (low + high) / 2
            slope = (
                c_hits / (p + delta) - c_misses / (1 - p - delta) + b_hits / p - b_misses / (1 - p)
            )
            low, high = np.where(slope > 0, p, low), np.where(slope > 0, high, p)
    p = (low + high) / 2
    return _log_likelihood(c_hits, c_misses, p + delta) + _log_likelihood(b_hits, b_misses, p)


def _bisect_difference(tally: Tally, threshold: float, *, inside: float, outside: float) -> float:
    """Where, between the observed difference and -1 or 1, the evidence against a point
    difference crosses `threshold` (it grows monotonically away from the observed one)."""
    c_hits, c_misses, b_hits, b_misses = (float(x) for x in _counts(tally))
    mixture = _log_mixture(c_hits, c_misses) + _log_mixture(b_hits, b_misses)

    def rejected(delta: float) -> bool:
        return mixture - _profile(c_hits, c_misses, b_hits, b_misses, delta) >= threshold

    if not rejected(outside):
        return outside
    for _ in range(_BISECTIONS):
        middle = (inside + outside) / 2
        inside, outside = (inside, middle) if rejected(middle) else (middle, outside)
    return (inside + outside) / 2


def _observed_difference(tally: Tally) -> float:
    c_hits, c_misses, b_hits, b_misses = _counts(tally)
    return float(_rate(c_hits, c_misses) - _rate(b_hits, b_misses))


def _counts(tally: Tally) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    c_hits, b_hits = np.asarray(tally.canary_hits, float), np.asarray(tally.baseline_hits, float)
    return (
        c_hits,
        np.asarray(tally.canary_n, float) - c_hits,
        b_hits,
        np.asarray(tally.baseline_n, float) - b_hits,
    )


def _rate(hits: np.ndarray, misses: np.ndarray) -> np.ndarray:
    total = hits + misses
    return np.divide(hits, total, out=np.full(np.shape(total), 0.5), where=total > 0)


def _log_likelihood(hits: np.ndarray, misses: np.ndarray, rate) -> np.ndarray:
    return xlogy(hits, rate) + xlogy(misses, 1 - rate)


def _log_mixture(hits: np.ndarray, misses: np.ndarray) -> np.ndarray:
    return betaln(PRIOR + hits, PRIOR + misses) - betaln(PRIOR, PRIOR)
