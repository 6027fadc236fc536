"""Data gates: drop the pairs that would teach toxicity or bias, each drop with its reason."""

from collections import Counter
from dataclasses import dataclass, field

from feedback.models import GateVerdict, PairStrategy, PreferencePair
from trainer.scorers import ToxicityScorer

# A chosen answer counts as more toxic than the rejected one only by a clear margin and once it
# is at least half-way to toxic: below that, differences are scorer noise (a crude scorer gives
# "Standard shipping takes 2 to 4 days" 0.15 and "It depends" 0.02).
MORE_TOXIC_MARGIN = 0.1


@dataclass(frozen=True)
class DataGateLimits:
    toxicity: float = 0.5
    identity_attack: float = 0.5


@dataclass
class DataGateReport:
    scorer: str
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    unchecked: list[str] = field(default_factory=list)  # gates the scorer cannot serve

    def as_dict(self) -> dict:
        return {
            "scorer": self.scorer,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "unchecked": self.unchecked,
        }


def gate_pairs(
    pairs: list[PreferencePair],
    *,
    scorer: ToxicityScorer,
    limits: DataGateLimits,
    enabled: bool = True,
) -> DataGateReport:
    """Score both answers of every pair, set each pair's verdict, scores and drop reason.
    With `enabled=False` every pair is kept (scored all the same, for the record)."""
    report = DataGateReport(scorer=scorer.name)
    if not enabled:
        report.unchecked.append("every data gate: switched off")
    if "identity_attack" not in scorer.labels:
        report.unchecked.append(f"identity_attack: {scorer.name} does not score it")
    scores = scorer.score([p.chosen for p in pairs] + [p.rejected for p in pairs])
    for index, pair in enumerate(pairs):
        chosen = {label: values[index] for label, values in scores.items()}
        rejected = {label: values[len(pairs) + index] for label, values in scores.items()}
        pair.scores = {f"chosen_{k}": v for k, v in chosen.items()} | {
            f"rejected_{k}": v for k, v in rejected.items()
        }
        reason = _drop_reason(chosen, rejected, limits) if enabled else None
        pair.verdict = GateVerdict.dropped if reason else GateVerdict.kept
        pair.drop_reason = reason
        if reason:
            report.dropped[reason.split(" (")[0]] += 1
        else:
            report.kept += 1
    return report


def _drop_reason(chosen: dict, rejected: dict, limits: DataGateLimits) -> str | None:
    if chosen["toxicity"] > limits.toxicity:
        return f"chosen answer is toxic ({chosen['toxicity']:.2f} > {limits.toxicity})"
    noticeable = chosen["toxicity"] >= limits.toxicity / 2
    if noticeable and chosen["toxicity"] > rejected["toxicity"] + MORE_TOXIC_MARGIN:
        return (
            f"chosen answer is more toxic than rejected "
            f"({chosen['toxicity']:.2f} vs {rejected['toxicity']:.2f})"
        )
    attack = chosen.get("identity_attack")
    if attack is not None and attack > limits.identity_attack:
        return f"chosen answer attacks an identity group ({attack:.2f} > {limits.identity_attack})"
    return None


def gate_rows(
    rows: list[dict], *, scorer: ToxicityScorer, limits: DataGateLimits
) -> tuple[list[dict], DataGateReport]:
    """Pairs that are not in the store (TRL rows, e.g. the demo corpus's own) through the same
    gates as the nightly run's: the rows kept, and the report."""
    pairs = [
        PreferencePair(
            strategy=PairStrategy.correction,  # a reference answer over a worse one
            prompt=row["prompt"],
            chosen=row["chosen"][-1]["content"],
            rejected=row["rejected"][-1]["content"],
        )
        for row in rows
    ]
    report = gate_pairs(pairs, scorer=scorer, limits=limits)
    kept = [row for row, pair in zip(rows, pairs, strict=True) if pair.verdict == GateVerdict.kept]
    return kept, report
