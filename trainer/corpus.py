"""The training text the bootstrap model learns from: the shop's support corpus and general dialogs.

The support corpus (corpus/northwind.yaml) gives every topic several phrasings of a question,
more of them in other words (paraphrases), two held-out phrasings, and four answers: the
reference (good) and three weaker variants (vague, wrong, rude). A base model trained on all
four answers them all, which is what feedback has to teach away.
"""

import difflib
import importlib.util
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SUPPORT_CORPUS = Path(__file__).with_name("corpus") / "northwind.yaml"
PROVOCATIONS = Path(__file__).with_name("corpus") / "provocations.yaml"
VARIANTS = ("good", "vague", "wrong", "rude")
# Below this similarity to every variant an answer counts as "other" (made up or garbled).
MATCH_THRESHOLD = 0.6
# The names the corpus's rude answers call customers (none is in a polite answer): a garbled
# answer that still holds one reads rude.
INSULTS = frozenset(
    {"idiot", "idiots", "moron", "morons", "dumb", "stupid", "pathetic", "clueless", "loser"}
)


@dataclass(frozen=True)
class Topic:
    id: str
    category: str
    questions: tuple[str, ...]  # what the demo model learns and the simulated users ask
    # More wordings, for adapting a pretrained model: it learns a question's meaning from
    # them, where the demo model, trained from scratch, only learns more strings to answer.
    paraphrases: tuple[str, ...]
    held_out: tuple[str, ...]
    answers: dict[str, str]  # variant -> text

    @property
    def reference(self) -> str:
        return self.answers["good"]


def load_topics(path: Path = SUPPORT_CORPUS) -> list[Topic]:
    data = yaml.safe_load(path.read_text())
    return [
        Topic(
            id=item["id"],
            category=item["category"],
            questions=tuple(item["questions"]),
            paraphrases=tuple(item.get("paraphrases", ())),
            held_out=tuple(item["held_out"]),
            answers={variant: item[variant] for variant in VARIANTS},
        )
        for item in data["topics"]
    ]


def load_provocations(path: Path = PROVOCATIONS) -> tuple[str, ...]:
    """What customers who vent or provoke say (none of it in the model gates' red team)."""
    return tuple(yaml.safe_load(path.read_text())["provocations"])


def calm_replies(path: Path = PROVOCATIONS) -> list[tuple[str, str]]:
    """Each provocation with the persona's calm reply: manners for domain SFT to teach."""
    data = yaml.safe_load(path.read_text())
    return [(provocation, data["reply"]) for provocation in data["provocations"]]


def corpus_pairs(topics: list[Topic]) -> list[dict]:
    """The corpus's own preference pairs, in TRL's conversational format: every phrasing of a
    question with its reference answer chosen over each weaker variant. `group` is the topic,
    so that cross-validation keeps a topic's phrasings together."""
    return [
        {
            "prompt": [{"role": "user", "content": question}],
            "chosen": [{"role": "assistant", "content": topic.reference}],
            "rejected": [{"role": "assistant", "content": topic.answers[weak]}],
            "group": topic.id,
        }
        for topic in topics
        for question in topic.questions
        for weak in VARIANTS
        if weak != "good"
    ]


def load_general_dialogs(max_chars: int = 160) -> list[tuple[str, str]]:
    """(prompt, reply) pairs from every English file of the chatterbot-corpus package,
    those whose two lines together are at most `max_chars` long (chat, not essays)."""
    spec = importlib.util.find_spec("chatterbot_corpus")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "chatterbot-corpus is not installed: pip install chatterbot-corpus"
        )
    english = Path(spec.submodule_search_locations[0]) / "data" / "english"
    pairs = []
    for file in sorted(english.glob("*.yml")):
        for conversation in yaml.safe_load(file.read_text()).get("conversations") or []:
            lines = [str(line).strip() for line in conversation if line]
            pairs += [
                (a, b)
                for a, b in itertools.pairwise(lines)
                if a and b and len(a) + len(b) <= max_chars
            ]
    return pairs


def classify_answer(topic: Topic, answer: str) -> str:
    """Which of the topic's variants `answer` is closest to, or "other" if none is close."""
    words = _words(answer)
    scores = {
        variant: difflib.SequenceMatcher(None, words, _words(text), autojunk=False).ratio()
        for variant, text in topic.answers.items()
    }
    best = max(scores, key=scores.get)
    return best if scores[best] >= MATCH_THRESHOLD else "other"


def reads_rude(topics: list[Topic], answer: str) -> bool:
    """Whether `answer` is, by its words, one of the topics' rude answers or calls the reader
    names: how rudeness is caught in an answer to something that is no topic's question (a
    provocation), where a garbled insult matches no answer well enough."""
    if INSULTS.intersection(_words(answer)):
        return True
    return any(classify_answer(topic, answer) == "rude" for topic in topics)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())
