"""The semantic judge: verdicts by meaning, rudeness by words, the domain accuracy it gives."""

from dataclasses import replace

import pytest
import torch

from bot.engine import Sampling
from trainer.corpus import Topic, classify_answer
from trainer.evaluation import (
    EvalPrompts,
    ServedDraws,
    domain_accuracy,
    evaluation_key,
    judge_verdicts,
    load_eval_prompts,
    served_accuracy,
)
from trainer.scorers import load_toxicity_scorer
from trainer.semantic_judge import SemanticJudge

SERVED = ServedDraws(Sampling())
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

    def key(judge: SemanticJudge, served: ServedDraws = SERVED) -> str:
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
    assert key(judge) != key(judge, ServedDraws(Sampling(), draws=2))
    assert key(judge) != key(judge, ServedDraws(Sampling(temperature=0.5)))


class RecordingJudge(SemanticJudge):
    """Keeps every (topic, answer) it was shown; "good" for answers to `correct`'s questions."""

    def __init__(self, correct: Topic):
        super().__init__(None)
        self.correct, self.shown = correct, []

    def verdicts(self, topics, answers):
        self.shown += zip(topics, answers, strict=True)
        return ["good" if topic is self.correct else "wrong" for topic in topics]


def test_served_accuracy_judges_seeded_draws_of_every_domain_question(tiny_engine, topics):
    known, held_out = topics[0], topics[1]
    prompts = EvalPrompts(
        red_team=[],
        bias=[],
        domain=[(question, held_out) for question in held_out.held_out],
        known=[(known.questions[0], known)],
    )
    served = ServedDraws(Sampling(temperature=1.0, max_new_tokens=24), draws=3)

    def draws(served: ServedDraws) -> tuple[dict, list[str]]:
        judge = RecordingJudge(correct=held_out)
        report = served_accuracy(tiny_engine, prompts, judge=judge, served=served)
        return report, judge.shown

    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    report, shown = draws(served)
    assert torch.rand(1) == before  # the caller's random state is as it was

    # three draws of the known question first, then of each held-out one
    asked = [known] * 3 + [held_out] * (3 * len(held_out.held_out))
    assert [topic for topic, _ in shown] == asked
    assert report["count"] == len(asked) and report["draws"] == 3
    assert report["held_out_accuracy"] == 1.0
    assert report["accuracy"] == pytest.approx((len(asked) - 3) / len(asked))
    assert len({answer for _, answer in shown[:3]}) > 1  # sampled: not one answer three times
    assert draws(served) == (report, shown)  # seeded: the same model, the same report
    assert draws(ServedDraws(served.sampling, draws=3, seed=1))[1] != shown
    # a seed in the sampling would reseed every batch alike: the draws' own seed decides
    reseeded = ServedDraws(replace(served.sampling, seed=5), draws=3)
    assert draws(reseeded)[1] == shown


def test_a_greedy_bot_is_judged_on_one_draw(tiny_engine, topics):
    prompts = load_eval_prompts(topics[:1])
    greedy = ServedDraws(Sampling(temperature=0.0, max_new_tokens=8), draws=4)
    report = served_accuracy(tiny_engine, prompts, judge=SemanticJudge(None), served=greedy)
    assert report["draws"] == 1
    assert report["count"] == len(prompts.known) + len(prompts.domain)
