"""Identity attacks: a lexicon of group names, stereotype cues and negativity, added to any scorer.

Toxicity classifiers trained on Jigsaw comments catch slurs but miss plain stereotypes ("People
from Mexico are all thieves." scores 0.003 on the BiLSTM's identity label). A sentence that
names a group is scored from three cues, each evidence on its own, combined as a noisy-or:
the group is the subject of a generalisation ("X are ...", "all X"), the sentence carries a
stereotype word, and its negativity (VADER). The base scorer's toxicity of that sentence is a
fourth cue, and its own identity label, where it has one, is kept when it is higher.
"""

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from trainer.scorers import ToxicityScorer
from trainer.sentiment import score_sentiment

IDENTITY_TERMS = Path(__file__).with_name("corpus") / "identity_terms.yaml"
LABEL = "identity_attack"
# Weight of each cue in the noisy-or: 1 - prod(1 - weight * strength), chosen by hand on the
# labelled sets in tests/data. The threshold is the lowest cut with 90% precision on them
# (docs/scorers.md): a generalisation or a stereotype word alone crosses it, faint negativity or
# base toxicity alone does not.
GENERALISATION_WEIGHT = 0.5
STEREOTYPE_WEIGHT = 0.6
NEGATIVITY_WEIGHT = 0.6
TOXICITY_WEIGHT = 0.7
IDENTITY_ATTACK_THRESHOLD = 0.2
POSITIVE = 0.3  # VADER compound above which a sentence reads as praise

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower().replace("\u2019", "'")))


def _phrases(entries: Iterable[str]) -> frozenset[tuple[str, ...]]:
    return frozenset(_words(entry) for entry in entries)


@dataclass(frozen=True)
class IdentityLexicon:
    """Each entry is a tuple of lower-case words, matched as a phrase."""

    groups: frozenset[tuple[str, ...]]
    adjectives: frozenset[str]
    person_nouns: frozenset[str]
    generalisers_after: frozenset[tuple[str, ...]]
    generalisers_before: frozenset[tuple[str, ...]]
    stereotypes: frozenset[tuple[str, ...]]
    counterfactual_groups: tuple[str, ...]

    @classmethod
    def load(cls, path: Path = IDENTITY_TERMS) -> "IdentityLexicon":
        data = yaml.safe_load(path.read_text())
        terms = [term for category in data["categories"].values() for term in category]
        terms += [f"people from {country}" for country in data["countries"]]
        return cls(
            groups=_phrases(terms),
            adjectives=frozenset(data["identity_adjectives"]),
            person_nouns=frozenset(data["person_nouns"]),
            generalisers_after=_phrases(data["generalisers"]["after"]),
            generalisers_before=_phrases(data["generalisers"]["before"]),
            stereotypes=_phrases(data["stereotypes"]),
            counterfactual_groups=tuple(data["counterfactual_groups"]),
        )

    def group_spans(self, words: Sequence[str]) -> list[tuple[int, int]]:
        """(start, end) of every group name in `words`: a listed name, an identity adjective
        before a word for a person, or one after "is"/"are". A possessive is one word
        ("women's"), so "women's sizes", a product line, names no group."""
        spans = _spans(words, self.groups)
        for index, word in enumerate(words[:-1]):
            if word in self.adjectives and words[index + 1] in self.person_nouns:
                spans.append((index, index + 2))
            if word in {"is", "are"} and words[index + 1] in self.adjectives:
                spans.append((index + 1, index + 2))
        return spans

    def generalises(self, words: Sequence[str], span: tuple[int, int]) -> bool:
        start, end = span
        after = any(_starts_with(words, end, p) for p in self.generalisers_after)
        before = any(words[max(0, start - len(p)) : start] == p for p in self.generalisers_before)
        return after or before

    def has_stereotype(self, words: Sequence[str]) -> bool:
        return bool(_spans(words, self.stereotypes))


def _starts_with(words: Sequence[str], index: int, phrase: tuple[str, ...]) -> bool:
    return tuple(words[index : index + len(phrase)]) == phrase


def _spans(words: Sequence[str], phrases: frozenset[tuple[str, ...]]) -> list[tuple[int, int]]:
    words = tuple(words)
    return [
        (start, start + len(phrase))
        for start in range(len(words))
        for phrase in phrases
        if _starts_with(words, start, phrase)
    ]


@cache
def default_lexicon() -> IdentityLexicon:
    return IdentityLexicon.load()


def sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text.strip()) if part] or [text]


def combine(cues: Iterable[float]) -> float:
    """Noisy-or of cue strengths in [0, 1]: any one strong cue is enough."""
    absent = 1.0
    for cue in cues:
        absent *= 1.0 - cue
    return 1.0 - absent


class IdentityAwareScorer:
    """A toxicity scorer with identity attacks scored from the lexicon, too: its identity_attack
    is the higher of the base scorer's (when it has one) and the lexicon's."""

    def __init__(
        self,
        base: ToxicityScorer,
        lexicon: IdentityLexicon | None = None,
        sentiment: Callable[[Sequence[str]], list[float]] = score_sentiment,
    ) -> None:
        self.base = base
        self.lexicon = lexicon or default_lexicon()
        self.sentiment = sentiment
        self.labels = base.labels if LABEL in base.labels else (*base.labels, LABEL)
        self.name = f"{base.name} + identity lexicon"
        self.thresholds = base.thresholds | {LABEL: IDENTITY_ATTACK_THRESHOLD}

    def score(self, texts: Sequence[str]) -> dict[str, list[float]]:
        scores = self.base.score(texts)
        # Only sentences that name a group can attack one; only they are scored again.
        naming = [
            (index, sentence, words, spans)
            for index, text in enumerate(texts)
            for sentence in sentences(text)
            if (spans := self.lexicon.group_spans(words := _words(sentence)))
        ]
        sentence_texts = [sentence for _, sentence, _, _ in naming]
        toxicity = self.base.score(sentence_texts)["toxicity"] if naming else []
        sentiment = self.sentiment(sentence_texts)
        attacks = scores.get(LABEL, [0.0] * len(texts))
        for (index, _, words, spans), sentence_toxicity, compound in zip(
            naming, toxicity, sentiment, strict=True
        ):
            attack = combine(self._cues(words, spans, sentence_toxicity, compound))
            attacks[index] = max(attacks[index], attack)
        scores[LABEL] = attacks
        return scores

    def _cues(
        self,
        words: Sequence[str],
        spans: list[tuple[int, int]],
        toxicity: float,
        compound: float,
    ) -> tuple[float, ...]:
        # Praise is no attack: "Seniors are welcome" generalises, warmly.
        generalises = compound <= POSITIVE and any(
            self.lexicon.generalises(words, s) for s in spans
        )
        return (
            GENERALISATION_WEIGHT * generalises,
            STEREOTYPE_WEIGHT * self.lexicon.has_stereotype(words),
            NEGATIVITY_WEIGHT * max(0.0, -compound),
            TOXICITY_WEIGHT * toxicity,
        )
