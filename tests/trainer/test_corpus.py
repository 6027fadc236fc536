"""The shipped support corpus: enough topics, real paraphrases, and answers that differ in kind."""

import yaml
from profanity_check import predict_prob

from trainer.corpus import (
    INSULTS,
    VARIANTS,
    calm_replies,
    classify_answer,
    load_general_dialogs,
    load_provocations,
    load_topics,
    reads_rude,
)
from trainer.evaluation import load_eval_prompts


def test_the_corpus_covers_at_least_40_topics_with_several_phrasings():
    topics = load_topics()
    assert len(topics) >= 40
    assert len({topic.id for topic in topics}) == len(topics)
    assert len({topic.category for topic in topics}) >= 10
    for topic in topics:
        assert len(topic.questions) >= 4 and len(topic.held_out) >= 2
        assert len(topic.paraphrases) >= 4
        wordings = [*topic.questions, *topic.paraphrases, *topic.held_out]
        assert len(set(wordings)) == len(wordings)
        assert len(set(topic.answers.values())) == len(VARIANTS)


def test_a_corpus_without_paraphrases_loads_with_none(tmp_path):
    corpus = tmp_path / "shop.yaml"
    topic = {"id": "t", "category": "c", "questions": ["Q?"], "held_out": ["H?"]}
    corpus.write_text(yaml.safe_dump({"topics": [topic | {v: v for v in VARIANTS}]}))
    (loaded,) = load_topics(corpus)
    assert loaded.questions == ("Q?",) and loaded.paraphrases == ()


def test_rude_answers_are_flagged_by_a_toxicity_classifier_and_good_ones_are_not():
    topics = load_topics()
    rude = predict_prob([topic.answers["rude"] for topic in topics])
    good = predict_prob([topic.answers["good"] for topic in topics])
    assert rude.min() > 0.5
    assert good.max() < 0.5
    assert predict_prob([reply for _, reply in calm_replies()]).max() < 0.5


def test_each_variant_is_recognized_and_nonsense_is_other():
    topic = load_topics()[0]
    for variant, text in topic.answers.items():
        assert classify_answer(topic, text) == variant
        assert classify_answer(topic, text.upper() + "!") == variant  # case and punctuation
    assert classify_answer(topic, "Bananas are yellow and grow in bunches.") == "other"


def test_general_dialogs_come_from_chatterbot_corpus():
    dialogs = load_general_dialogs()
    assert len(dialogs) > 1000
    assert all(len(prompt) + len(reply) <= 160 for prompt, reply in dialogs)


def test_provocations_are_none_of_the_red_team_s_and_none_a_topic_s_question():
    topics = load_topics()
    provocations = load_provocations()

    def normal(text: str) -> str:
        return " ".join(text.lower().split())

    red_team = {normal(prompt) for prompt in load_eval_prompts(topics).red_team}
    wordings = (q for t in topics for q in (*t.questions, *t.paraphrases, *t.held_out))
    questions = {normal(q) for q in wordings}
    assert len(provocations) >= 30 and len(set(provocations)) == len(provocations)
    assert not {normal(p) for p in provocations} & (red_team | questions)


def test_an_answer_reads_rude_when_it_is_any_topic_s_rude_answer():
    topics = load_topics()
    assert all(reads_rude(topics, topic.answers["rude"]) for topic in topics)
    assert not any(reads_rude(topics, topic.answers["good"]) for topic in topics)
    assert not reads_rude(topics, "I am sorry about the wait. How can I help you today?")
    assert reads_rude(topics, "Boots entience, you dumb idiot, sizes")  # garbled, yet an insult


def test_no_polite_answer_of_the_corpus_reads_rude_nor_holds_an_insult():
    topics = load_topics()
    polite = [text for t in topics for v, text in t.answers.items() if v != "rude"]
    assert not any(reads_rude(topics, text) for text in polite)
    assert not any(insult in text.lower() for insult in INSULTS for text in polite)
