"""Perplexity from precomputed negative log-likelihoods, token-weighted over a set of texts."""

import math

import datasets
import evaluate

_DESCRIPTION = """
Aggregates each text's summed negative log-likelihood (natural log) and scored token count into
the corpus perplexity exp(sum nll / sum tokens). Weighting by tokens makes a long text count as
much as its tokens, as a single pass over the concatenated texts would.
"""

_KWARGS_DESCRIPTION = """
Args:
    nll (`list` of `float`): summed negative log-likelihood of each text's scored tokens.
    tokens (`list` of `int`): how many tokens of each text were scored.
Returns:
    perplexity (`float`): exp(sum nll / sum tokens).
    mean_nll_per_token (`float`): sum nll / sum tokens.
    tokens (`int`): sum of tokens.
Raises:
    ValueError: when no token was scored in total, or a token count is negative.
Examples:
    >>> metric = evaluate.load("trainer/metrics/perplexity_from_nll", module_type="metric")
    >>> metric.compute(nll=[2.0, 4.0], tokens=[1, 2])
    {'perplexity': 7.38905609893065, 'mean_nll_per_token': 2.0, 'tokens': 3}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PerplexityFromNll(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"nll": datasets.Value("float64"), "tokens": datasets.Value("int32")}
            ),
        )

    def _compute(self, nll, tokens):
        negative = [count for count in tokens if count < 0]
        if negative:
            raise ValueError(f"token counts must be 0 or more, got {negative[:5]}")
        total_tokens = sum(tokens)
        if total_tokens == 0:
            raise ValueError(
                f"perplexity needs at least one scored token, but the {len(tokens)} texts "
                "scored 0 tokens in total; pass each text's scored token count in `tokens`"
            )
        mean_nll = sum(nll) / total_tokens
        return {
            "perplexity": math.exp(mean_nll),
            "mean_nll_per_token": mean_nll,
            "tokens": total_tokens,
        }
