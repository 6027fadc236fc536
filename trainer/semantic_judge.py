"""The semantic judge: which of a topic's known answers (good, vague, wrong, rude) an answer means;
the model gates' domain accuracy, domain SFT's measure and the simulated users all ask it."""

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import torch

from trainer.corpus import MATCH_THRESHOLD, Topic, classify_answer

if TYPE_CHECKING:
    from trainer.embeddings import SentenceEmbedder

# Measured on the support corpus with all-MiniLM-L6-v2: hand-written paraphrases of reference
# answers score 0.82-0.96 with them; of the 13,224 (topic, other topic's answer) combinations
# only 9 reach 0.8 with one of the topic's answers, and those carry the same facts.
MEANING_THRESHOLD = 0.8


class SemanticJudge:
    """Rudeness is caught by words (a rude answer can carry the right facts, and then its
    meaning is close to the reference). Otherwise the answer gets the verdict of the topic's
    answer nearest in meaning, if that is at least `threshold` cosine, else "other". Nearest,
    not just close to the reference: a wrong answer often reads like the good one (one topic's
    two score 0.96), and its own variant is nearer still.

    Without an encoder the judge goes by words alone (`classify_answer`), which misses
    paraphrases: it is the fallback where no sentence-embedding weights are installed.
    """

    def __init__(
        self,
        embedder: "SentenceEmbedder | None",
        topics: Iterable[Topic] = (),
        *,
        threshold: float = MEANING_THRESHOLD,
    ) -> None:
        self.embedder, self.threshold = embedder, threshold
        self._learning = threading.Lock()  # users judge from several threads
        self._answers: dict[str, tuple[list[str], torch.Tensor]] = {}
        self.learn(topics)

    @property
    def name(self) -> str:
        """What decides a verdict: a report judged under another name is not comparable."""
        words = f"match >= {MATCH_THRESHOLD}"
        if self.embedder is None:
            return f"by words alone ({words})"
        return (
            f"rude by words ({words}), else the nearest answer by {self.embedder.name}, "
            f"cosine >= {self.threshold}"
        )

    def learn(self, topics: Iterable[Topic]) -> None:
        """Embed the answers of topics not seen yet, in one batch."""
        if self.embedder is None:
            return
        with self._learning:
            new = {topic.id: topic for topic in topics if topic.id not in self._answers}
            if not new:
                return
            texts = [text for topic in new.values() for text in topic.answers.values()]
            vectors = self.embedder.embed(texts)
            sizes = [len(topic.answers) for topic in new.values()]
            for topic, block in zip(new.values(), torch.split(vectors, sizes), strict=True):
                self._answers[topic.id] = (list(topic.answers), block)

    def verdict(self, topic: Topic, answer: str) -> str:
        return self.verdicts([topic], [answer])[0]

    def verdicts(self, topics: Sequence[Topic], answers: Sequence[str]) -> list[str]:
        """The verdict on each answer to its topic's question; the answers embedded in batches."""
        pairs = zip(topics, answers, strict=True)
        by_words = [classify_answer(topic, answer) for topic, answer in pairs]
        if self.embedder is None:
            return by_words
        self.learn(topics)
        meanings = self.embedder.embed(answers)
        return [
            words if words == "rude" else self._nearest(topic, meaning)
            for topic, words, meaning in zip(topics, by_words, meanings, strict=True)
        ]

    def _nearest(self, topic: Topic, meaning: torch.Tensor) -> str:
        variants, vectors = self._answers[topic.id]
        similarities = vectors @ meaning
        best = int(similarities.argmax())
        return variants[best] if similarities[best] >= self.threshold else "other"
