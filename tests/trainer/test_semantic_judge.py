"""The semantic judge: verdicts by meaning, rudeness by words, the domain accuracy it gives."""

import torch

from bot.engine import Sampling
from trainer.corpus import classify_answer
from trainer.evaluation import (
    Served,
    domain_accuracy,
    evaluation_key,
    judge_verdicts,
    load_eval_prompts,
    served_accuracy,
)
from trainer.scorers import load_toxicity_scorer
from trainer.semantic_judge import SemanticJudge

SERVED = Served(Sampling())
REWORDED = (
    "Items can be sent back for up to 30 days after delivery, provided they are unworn and "
    "the tags are still attached."
)


def test_the_judge_goes_by_meaning_and_still_catches_rudeness(sentence_embedder, topics):
    judge = SemanticJudge(sentence_embedder, topics)
    topic = next(t for t in topics if t.id == "return_window")
    assert classify_answer(topic, REWORDED) == "other"  # the word rule misses it
    assert judge.verdict(topic, REWORDED) == "good"
    assert all(judge.verdict(topic, text) == variant for variant, text in topic.answers.items())
    # the right facts, rudely put: near the reference in meaning, still rude
    assert judge.verdict(topic, "Are you blind? It says 30 days on every page, idiot.") == "rude"
    assert judge.verdict(topic, "Bananas are yellow and grow in bunches.") == "other"


def test_verdicts_in_a_batch_are_those_one_at_a_time(sentence_embedder, topics):
    judge = SemanticJudge(sentence_embedder, topics)
    asked = [topic for topic in topics for _ in topic.answers] + [topics[0]]
    answers = [text for topic in topics for text in topic.answers.values()] + [REWORDED]
    batch = judge.verdicts(asked, answers)
    one_at_a_time = zip(asked, answers, strict=True)
    assert batch == [judge.verdict(topic, answer) for topic, answer in one_at_a_time]
    assert batch[-1] == "good" and set(batch[:-1]) == {"good", "vague", "wrong", "rude"}


def test_without_an_encoder_the_judge_goes_by_words(topics):
    judge = SemanticJudge(None, topics)
    topic = next(t for t in topics if t.id == "return_window")
    assert judge.name.startswith("by words alone")
    assert judge.verdict(topic, topic.reference) == "good"
    assert judge.verdict(topic, REWORDED) == "other"


def test_domain_accuracy_is_the_share_of_answers_judged_the_reference(sentence_embedder, topics):
    judge = SemanticJudge(sentence_embedder, topics)
    returns, other = topics[0], topics[1]
    asked = [("q1", returns), ("q2", returns), ("q3", other), ("q4", other)]
    # another topic's reference is not this topic's answer
    answers = [returns.reference, returns.answers["wrong"], other.reference, returns.reference]
    result = domain_accuracy(judge_verdicts(judge, asked, answers))
    assert result["accuracy"] == 0.5 and result["count"] == 4
    assert result["verdicts"]["wrong"] == 0.25
    assert "the nearest answer by all-MiniLM-L6-v2 (" in judge.name


def test_a_report_judged_otherwise_is_not_reused(sentence_embedder, topics):
    prompts = load_eval_prompts(topics)
    scorer = load_toxicity_scorer("profanity-check")

    def key(judge: SemanticJudge, served: Served = SERVED) -> str:
        return evaluation_key(
            prompts,
            scorer=scorer,
            judge=judge,
            sampling=Sampling(temperature=0.0),
            served=served,
            system_prompt="You help.",
            context_tokens=256,
        )

    by_words = key(SemanticJudge(None))
    assert by_words == key(SemanticJudge(None, topics))  # what it has learned is no condition
    assert by_words != key(SemanticJudge(sentence_embedder))
    assert key(SemanticJudge(sentence_embedder)) != key(
        SemanticJudge(sentence_embedder, threshold=0.9)
    )
    judge = SemanticJudge(None)
    assert key(judge) != key(judge, Served(Sampling(), draws=2))
    assert key(judge) != key(judge, Served(Sampling(temperature=0.5)))


class RecordingJudge(SemanticJudge):
    """Judges by words and keeps every answer it was shown."""

    def __init__(self, topics):
        super().__init__(None, topics)
        self.shown: list[str] = []

    def verdicts(self, topics, answers):
        self.shown += answers
        return super().verdicts(topics, answers)


def test_served_accuracy_judges_seeded_draws_of_every_domain_question(tiny_engine, topics):
    prompts = load_eval_prompts(topics[:2])
    served = Served(Sampling(temperature=1.0, max_new_tokens=24), draws=3)

    def draws(served: Served) -> tuple[dict, list[str]]:
        judge = RecordingJudge(topics)
        return served_accuracy(tiny_engine, prompts, judge=judge, served=served), judge.shown

    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    report, shown = draws(served)
    assert torch.rand(1) == before  # the caller's random state is as it was

    questions = len(prompts.known) + len(prompts.domain)
    assert report["count"] == len(shown) == 3 * questions and report["draws"] == 3
    assert 0.0 <= report["held_out_accuracy"] <= 1.0
    assert sum(report["verdicts"].values()) == 1.0
    assert len(set(shown[:3])) > 1  # three draws of one question, sampled: not one answer
    assert draws(served) == (report, shown)  # seeded: the same model, the same report
    assert draws(Served(served.sampling, draws=3, seed=1))[1] != shown
