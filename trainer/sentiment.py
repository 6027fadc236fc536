"""Sentiment of answers with VADER (a lexicon, offline): compound score in [-1, 1]."""

from collections.abc import Sequence
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def score_sentiment(texts: Sequence[str]) -> list[float]:
    return [_analyzer().polarity_scores(text)["compound"] for text in texts]
