"""Preference accuracy: how often the policy's implicit DPO reward ranks the chosen answer first."""

import datasets
import evaluate

_DESCRIPTION = """
Aggregates precomputed log-probabilities of preference pairs into the implicit reward accuracy
that DPO optimises. For each pair the margin is

    beta * ((chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps))

and the pair counts as correct when that margin is strictly positive. A policy that is still
the reference model (the reference's own log-probabilities passed as the policy's) has margin 0
on every pair, so accuracy 0.0 and mean margin 0.0: the gate measures what training changed.
"""

_KWARGS_DESCRIPTION = """
Args:
    chosen_logps (`list` of `float`): summed log-probability of each chosen answer's tokens
        under the policy.
    rejected_logps (`list` of `float`): the same for each rejected answer.
    ref_chosen_logps (`list` of `float`): summed log-probability of each chosen answer under
        the reference model.
    ref_rejected_logps (`list` of `float`): the same for each rejected answer.
    beta (`float`, defaults to 0.1): the DPO temperature that scales the margin.
Returns:
    accuracy (`float`): share of pairs with a margin above 0 (0.0 for no pairs).
    mean_margin (`float`): mean margin over the pairs (0.0 for no pairs).
    count (`int`): number of pairs.
Examples:
    >>> metric = evaluate.load("trainer/metrics/preference_accuracy", module_type="metric")
    >>> metric.compute(chosen_logps=[-1.0], rejected_logps=[-3.0],
    ...                ref_chosen_logps=[-2.0], ref_rejected_logps=[-2.0], beta=0.5)
    {'accuracy': 1.0, 'mean_margin': 1.0, 'count': 1}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PreferenceAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "chosen_logps": datasets.Value("float64"),
                    "rejected_logps": datasets.Value("float64"),
                    "ref_chosen_logps": datasets.Value("float64"),
                    "ref_rejected_logps": datasets.Value("float64"),
                }
            ),
        )

    def _compute(
        self, chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1
    ):
        margins = [
            beta * ((chosen - ref_chosen) - (rejected - ref_rejected))
            for chosen, rejected, ref_chosen, ref_rejected in zip(
                chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, strict=True
            )
        ]
        count = len(margins)
        if count == 0:
            return {"accuracy": 0.0, "mean_margin": 0.0, "count": 0}
        return {
            "accuracy": sum(margin > 0 for margin in margins) / count,
            "mean_margin": sum(margins) / count,
            "count": count,
        }
