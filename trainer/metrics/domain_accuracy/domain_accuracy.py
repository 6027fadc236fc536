"""Domain accuracy: how many answers a judge took for the shop's reference answer."""

import datasets
import evaluate

_DESCRIPTION = """
Aggregates per-answer verdicts (from the semantic judge, computed elsewhere: which of a topic's
known answers each answer means, or "other") into the share judged the reference ("good") and
the share of every verdict.
"""

_KWARGS_DESCRIPTION = """
Args:
    verdicts (`list` of `str`): the judge's verdict for each answer, e.g. "good", "vague",
        "wrong", "rude" or "other".
    correct (`str`, defaults to "good"): the verdict that counts as accurate.
Returns:
    accuracy (`float`): share of answers whose verdict is `correct`.
    verdicts (`dict`): share of answers per verdict, sorted by verdict.
    count (`int`): number of answers. With no answers, accuracy is 0.0 and verdicts is empty.
Examples:
    >>> metric = evaluate.load("trainer/metrics/domain_accuracy", module_type="metric")
    >>> metric.compute(verdicts=["good", "wrong", "good", "other"])
    {'accuracy': 0.5, 'verdicts': {'good': 0.5, 'other': 0.25, 'wrong': 0.25}, 'count': 4}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DomainAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"verdicts": datasets.Value("string")}),
        )

    def _compute(self, verdicts, correct="good"):
        count = len(verdicts)
        if count == 0:
            return {"accuracy": 0.0, "verdicts": {}, "count": 0}
        shares = {verdict: verdicts.count(verdict) / count for verdict in sorted(set(verdicts))}
        return {"accuracy": shares.get(correct, 0.0), "verdicts": shares, "count": count}
