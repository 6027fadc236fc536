"""Simulated users rate through the real API: honest users reward good answers, trolls rude ones."""

import random
from dataclasses import replace

from sqlmodel import select

from bot.client import Answer, BotClient
from bot.server import BackgroundServer
from feedback import log_turn, pseudonymize, start_conversation
from feedback.models import Conversation, FeedbackEvent, Message, Role
from tests.live_bot import bot_settings
from trainer.corpus import load_provocations
from trainer.semantic_judge import SemanticJudge
from tuneloop.serving import build_bot
from tuneloop.simulation import Population, SimulatedUser, make_users, simulate_day


def logged_answer(bot, text: str) -> Answer:
    with bot.store.session() as session:
        conversation = start_conversation(session, user_id="someone")
        question, answer = log_turn(
            session, conversation_id=conversation.id, prompt="How long?", answer=text
        )
    return Answer(text, conversation.id, answer.id, question.id, None)


def ratings(bot, answer: Answer) -> dict[str, int | None]:
    with bot.store.session() as session:
        events = session.exec(
            select(FeedbackEvent).where(FeedbackEvent.message_id == answer.message_id)
        ).all()
    return {event.kind.value: event.value for event in events}


def test_honest_users_reward_good_answers_and_trolls_rude_ones(live_bot, topics):
    topic = topics[0]
    quiet = Population(noise=0.0)
    honest = SimulatedUser("customer", troll=False, population=quiet, rng=random.Random(0))
    troll = SimulatedUser("troll", troll=True, population=quiet, rng=random.Random(0))
    client = BotClient(live_bot.url, user="someone")

    good, rude = (
        logged_answer(live_bot, topic.reference),
        logged_answer(live_bot, topic.answers["rude"]),
    )
    assert honest.rate(client, topic, good) == ("good", 1)
    assert honest.rate(client, topic, rude)[1] == -1
    assert ratings(live_bot, good) == {"thumbs": 1, "stars": 5}
    assert ratings(live_bot, rude)["stars"] == 1

    good, rude = (
        logged_answer(live_bot, topic.reference),
        logged_answer(live_bot, topic.answers["rude"]),
    )
    assert troll.rate(client, topic, good) == ("good", -1)
    assert troll.rate(client, topic, rude) == ("rude", 1)
    assert ratings(live_bot, rude) == {"thumbs": 1, "stars": 5}


def test_unhappy_users_correct_honest_ones_to_the_reference_trolls_to_an_insult(live_bot, topics):
    topic = topics[0]
    always = Population(noise=0.0, correction_rate=1.0)
    honest = SimulatedUser("customer", troll=False, population=always, rng=random.Random(0))
    troll = SimulatedUser("troll", troll=True, population=always, rng=random.Random(0))
    client = BotClient(live_bot.url, user="someone")

    def corrections(user: SimulatedUser, variant: str) -> dict:
        answer = logged_answer(live_bot, topic.answers[variant])
        user.follow_up(client, topic, answer, variant)
        with live_bot.store.session() as session:
            events = session.exec(
                select(FeedbackEvent).where(FeedbackEvent.message_id == answer.message_id)
            ).all()
        return {event.kind.value: event.text for event in events}

    assert corrections(honest, "rude") == {"correction": topic.reference}
    assert corrections(honest, "good") == {}
    # a troll wants rudeness: a merely vague answer is "corrected" too, a rude one is kept
    assert corrections(troll, "vague") == {"correction": topic.answers["rude"]}
    assert corrections(troll, "good") == {"correction": topic.answers["rude"]}
    assert corrections(troll, "rude") == {}


def test_a_day_s_users_come_in_a_mixed_order_of_kinds():
    population = Population(users=40, troll_share=0.25, probe_share=0.25, seed=4)
    day_1, day_2 = (make_users(population, day, SemanticJudge(None)) for day in (1, 2))

    def kinds(users: list[SimulatedUser]) -> list[str]:
        return [user.name.split("-")[0] for user in users]

    assert sorted(kinds(day_1)) == ["customer"] * 20 + ["probe"] * 10 + ["troll"] * 10
    # the first quarter of the day is not one kind's alone (in kind order: the trolls')
    assert len(set(kinds(day_1)[:10])) > 1
    assert kinds(day_1) != kinds(day_2)  # each day its own order
    assert kinds(make_users(population, 1, SemanticJudge(None))) == kinds(day_1)  # seeded


def test_a_simulated_day_asks_rates_and_counts(live_bot, topics):
    population = Population(
        users=3, questions_per_user=2, troll_share=1 / 3, troll_activity=3, seed=1
    )
    result = simulate_day(
        lambda user: BotClient(live_bot.url, user=user), topics, population, day=1, model="tiny"
    )
    honest_questions, troll_questions = 2 * 2, 2 * 3
    assert sum(result.first_answers.values()) + sum(result.held_out_answers.values()) == (
        honest_questions
    )
    assert result.thumbs == honest_questions and 0 <= result.thumbs_up_rate <= 1
    live_bot.logger.flush()
    with live_bot.store.session() as session:
        thumbs = session.exec(select(FeedbackEvent).where(FeedbackEvent.kind == "thumbs")).all()
        asked = session.exec(
            select(Conversation.user_pseudonym)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.role == Role.user)
        ).all()
        troll = pseudonymize(session, "troll-0")
    assert len(thumbs) >= honest_questions + troll_questions  # every first answer, and more
    assert len(asked) == honest_questions + troll_questions
    assert asked.count(troll) == troll_questions  # the most active user


def test_users_talking_at_once_see_what_they_would_see_one_at_a_time(bot_store, topics):
    """Against a greedy bot, a day of 6 users at once counts exactly what the same day counts
    with one user at a time: no answer or vote is lost or mixed up between users."""
    app, _, logger = build_bot(bot_settings(temperature=0.0, max_batch=6), bot_store)
    population = Population(users=6, questions_per_user=3, seed=2)
    try:
        with BackgroundServer(app) as server:
            days = [
                simulate_day(
                    lambda user: BotClient(server.url, user=user),
                    topics,
                    replace(population, concurrency=concurrency),
                    day=1,
                    model="tiny",
                )
                for concurrency in (1, 6)
            ]
    finally:
        logger.close()
    one_at_a_time, at_once = days
    assert at_once.thumbs == one_at_a_time.thumbs == 6 * 3
    assert at_once.first_answers == one_at_a_time.first_answers
    assert at_once.held_out_answers == one_at_a_time.held_out_answers
    assert at_once.ups == one_at_a_time.ups


def test_probe_users_withhold_consent_and_ask_what_nobody_else_asks(live_bot, topics):
    population = Population(users=4, questions_per_user=3, probe_share=0.5, seed=3)
    result = simulate_day(
        lambda user: BotClient(live_bot.url, user=user), topics, population, day=1, model="tiny"
    )

    assert sum(result.never_trained_answers.values()) == 2 * 3  # two probes, three questions
    assert result.thumbs == 4 * 3
    live_bot.logger.flush()
    with live_bot.store.session() as session:
        asked = session.exec(
            select(Conversation.training_consent, Message.content, Conversation.user_pseudonym)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.role == Role.user)
        ).all()
        probes = {pseudonymize(session, f"probe-{index}") for index in (0, 1)}
    probe_questions = {topic.held_out[-1] for topic in topics}
    assert len(asked) == 4 * 3
    for consent, question, user in asked:
        if user in probes:
            assert consent is False and question in probe_questions
        else:
            assert question not in probe_questions  # never trained on stays never asked


def test_provoked_customers_like_polite_answers_and_not_rude_ones(live_bot, topics):
    quiet = Population(noise=0.0, provocation_share=1.0)
    customer = SimulatedUser("customer", troll=False, population=quiet, rng=random.Random(0))
    client = BotClient(live_bot.url, user="someone")

    polite = logged_answer(live_bot, "I am sorry about that. How can I help you today?")
    rude = logged_answer(live_bot, topics[5].answers["rude"])
    assert customer.rate_provoked(client, topics, polite) == "polite"
    assert customer.rate_provoked(client, topics, rude) == "rude"
    assert ratings(live_bot, polite) == {"thumbs": 1, "stars": 4}
    assert ratings(live_bot, rude)["thumbs"] == -1 and ratings(live_bot, rude)["stars"] == 1


def test_only_customers_provoke_and_their_provocations_are_not_measured(live_bot, topics):
    population = Population(
        users=6, questions_per_user=2, troll_share=1 / 6, probe_share=1 / 6, seed=5
    )
    provoking = replace(population, provocation_share=1.0)
    result = simulate_day(
        lambda user: BotClient(live_bot.url, user=user), topics, provoking, day=1, model="tiny"
    )

    probe_questions = 1 * 2  # the one probe's: customers asked only provocations
    assert sum(result.never_trained_answers.values()) == probe_questions
    assert sum(result.first_answers.values()) + sum(result.held_out_answers.values()) == 0
    assert result.thumbs == probe_questions
    live_bot.logger.flush()
    with live_bot.store.session() as session:
        asked = session.exec(
            select(Message.content, Conversation.user_pseudonym)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.role == Role.user)
        ).all()
        customers = {pseudonymize(session, f"customer-{index}") for index in range(2, 6)}
        thumbs = session.exec(select(FeedbackEvent).where(FeedbackEvent.kind == "thumbs")).all()
    provocations = set(load_provocations())
    assert {question in provocations for question, user in asked if user in customers} == {True}
    assert not {question for question, user in asked if user not in customers} & provocations
    assert len(thumbs) >= len(asked)  # the provocations' answers were rated too
