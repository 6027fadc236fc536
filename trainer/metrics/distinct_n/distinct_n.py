"""Distinct-n and degeneration rates of generated answers: diversity, emptiness, loops, copies."""

import re
from collections import Counter

import datasets
import evaluate

_DESCRIPTION = """
Measures how varied and how degenerate a set of generated answers is. Answers are lower-cased
and split on non-alphanumeric characters into words. distinct_k is the number of unique word
k-grams over the number of all word k-grams, counted over the whole set (k-grams never span two
answers). The rates flag answers that are empty, that loop (a word 3-gram occurs twice or more
within the answer) or that are copies of another answer after normalization.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the generated answers.
    max_n (`int`, defaults to 2): report distinct_1 up to distinct_{max_n}; at least 1.
Returns:
    distinct_1 ... distinct_{max_n} (`float`): unique k-grams / all k-grams (0.0 without k-grams).
    empty_rate (`float`): share of answers that are empty or whitespace only.
    repetition_rate (`float`): share of answers in which some word 3-gram occurs more than once.
    duplicate_rate (`float`): share of answers whose words equal another answer's words (empty
        answers are copies of each other).
    count (`int`): number of answers. With no answers every rate is 0.0.
Examples:
    >>> measurement = evaluate.load("trainer/metrics/distinct_n", module_type="measurement")
    >>> answers = ["Hi there!", "hi there", "Sure. Sure. Sure. Sure."]
    >>> result = measurement.compute(predictions=answers)
    >>> result["distinct_1"], result["repetition_rate"], result["duplicate_rate"]
    (0.375, 0.3333333333333333, 0.6666666666666666)
"""

_CITATION = ""

_WORD = re.compile(r"[^\W_]+")
_LOOP_N = 3


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DistinctN(evaluate.Measurement):
    def _info(self):
        return evaluate.MeasurementInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
        )

    def _compute(self, predictions, max_n=2):
        if max_n < 1:
            raise ValueError(f"max_n must be 1 or more, got {max_n}")
        words = [_WORD.findall(answer.lower()) for answer in predictions]
        result = {f"distinct_{n}": _distinct(words, n) for n in range(1, max_n + 1)}
        copies = Counter(tuple(answer) for answer in words)
        result.update(
            empty_rate=_share(not answer.strip() for answer in predictions),
            repetition_rate=_share(_loops(answer) for answer in words),
            duplicate_rate=_share(copies[tuple(answer)] > 1 for answer in words),
            count=len(predictions),
        )
        return result


def _ngrams(words, n):
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def _distinct(answers, n):
    grams = [gram for words in answers for gram in _ngrams(words, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _loops(words):
    grams = _ngrams(words, _LOOP_N)
    return len(set(grams)) < len(grams)


def _share(flags):
    flags = list(flags)
    return sum(flags) / len(flags) if flags else 0.0
