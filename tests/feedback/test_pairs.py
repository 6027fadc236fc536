"""Pair building policies, on SQLite and PostgreSQL: who wins, what pairs, what never pairs."""

import json
import uuid

import pytest

from feedback import (
    log_turn,
    pseudonymize,
    record_feedback,
    record_review,
    start_conversation,
)
from feedback.curation import build_pairs, deduplicate
from feedback.models import DISTRUSTED_BELOW, PairStrategy
from feedback.pairs import PairCandidate, PairPolicy
from feedback.snapshots import write_kto_rows
from feedback.trust import rater_trust, weights_table

POLICY = PairPolicy()
GOOD = "You can return any item within 30 days."
RUDE = "Read the policy yourself, you idiot."


def ask(session, prompt="How long can I return items?", *, consent=True, user="u"):
    conversation = start_conversation(session, user_id=user, training_consent=consent)
    question, answer = log_turn(
        session, conversation_id=conversation.id, prompt=prompt, answer=RUDE
    )
    return question, answer


def regenerate(session, question, text=GOOD):
    return log_turn(
        session, conversation_id=question.conversation_id, parent_id=question.id, answer=text
    )[1]


def thumbs(session, message, value, rater="rater"):
    return record_feedback(
        session, message_id=message.id, kind="thumbs", value=value, user_id=rater
    )


def pairs(session, **options):
    return build_pairs(session, since=options.pop("since", None), policy=POLICY, **options)


def test_siblings_rated_apart_make_one_pair_with_its_provenance(session):
    question, rude = ask(session)
    good = regenerate(session, question)
    down, up = thumbs(session, rude, -1), thumbs(session, good, 1)

    [pair] = pairs(session)
    assert pair.strategy == PairStrategy.regeneration
    assert (pair.chosen, pair.rejected) == (GOOD, RUDE)
    assert pair.chosen_message_id == good.id and pair.rejected_message_id == rude.id
    assert pair.weight == pytest.approx(1.0)
    assert pair.prompt == [{"role": "user", "content": "How long can I return items?"}]
    assert set(pair.feedback_ids) == {str(down.id), str(up.id)}


def test_star_margins_set_the_weight(session):
    question, rude = ask(session)
    good = regenerate(session, question)
    record_feedback(session, message_id=rude.id, kind="stars", value=2, user_id="r")
    record_feedback(session, message_id=good.id, kind="stars", value=5, user_id="r")
    [pair] = pairs(session)
    assert pair.weight == pytest.approx(0.75)


def test_ties_and_all_bad_contexts_make_no_pair(session):
    question, rude = ask(session)
    good = regenerate(session, question)
    thumbs(session, rude, 1), thumbs(session, good, 1)
    other_question, other_rude = ask(session, "Where is my order?")
    other_good = regenerate(session, other_question, "It ships tomorrow.")
    thumbs(session, other_rude, -1), thumbs(session, other_good, -1)
    assert pairs(session) == []


def test_the_latest_vote_of_each_rater_counts(session):
    question, rude = ask(session)
    good = regenerate(session, question)
    thumbs(session, rude, -1)
    thumbs(session, good, -1)
    thumbs(session, good, 1)  # the rater changed their mind
    [pair] = pairs(session)
    assert pair.chosen == GOOD
    thumbs(session, good, -1)  # and back again: now both are bad
    assert pairs(session) == []


def test_conversations_without_consent_never_pair(session):
    question, rude = ask(session, consent=False)
    good = regenerate(session, question)
    thumbs(session, rude, -1), thumbs(session, good, 1)
    record_feedback(session, message_id=rude.id, kind="correction", text=GOOD, user_id="u")
    assert pairs(session) == []


def test_operator_exclusions_are_honoured(session):
    question, rude = ask(session)
    good = regenerate(session, question)
    thumbs(session, rude, -1)
    up = thumbs(session, good, 1)
    record_review(session, message_id=good.id, feedback_id=up.id, action="exclude", reviewer="o")
    assert pairs(session) == []  # without that vote the good answer is unrated

    second_question, second_rude = ask(session, "Where is my order?")
    second_good = regenerate(session, second_question, "It ships tomorrow.")
    thumbs(session, second_rude, -1), thumbs(session, second_good, 1)
    record_review(session, message_id=second_good.id, action="exclude", reviewer="o")
    assert pairs(session) == []


def test_the_same_question_in_other_conversations_pairs_up(session):
    _, rude = ask(session, "How long can I return items?", user="a")
    second_question, _ = ask(session, "how long can I RETURN items", user="b")
    good = regenerate(session, second_question)
    thumbs(session, rude, -1, rater="a"), thumbs(session, good, 1, rater="b")
    strategies = {(p.strategy, p.chosen, p.rejected) for p in pairs(session)}
    assert (PairStrategy.same_prompt, GOOD, RUDE) in strategies


def test_corrections_make_pairs_and_operator_corrections_too(session):
    _, rude = ask(session)
    record_feedback(session, message_id=rude.id, kind="correction", text=GOOD, user_id="u")
    [pair] = pairs(session)
    assert (pair.strategy, pair.chosen, pair.rejected) == (PairStrategy.correction, GOOD, RUDE)

    _, other = ask(session, "Where is my order?")
    record_review(
        session, message_id=other.id, action="correct", reviewer="o", corrected_text="Tomorrow."
    )
    assert {p.chosen for p in pairs(session)} == {GOOD, "Tomorrow."}


def test_an_answer_the_serving_guard_withheld_is_never_chosen(session):
    conversation = start_conversation(session, user_id="u")
    question, shown = log_turn(
        session, conversation_id=conversation.id, prompt="How long can I return items?", answer=GOOD
    )
    _, withheld = log_turn(
        session,
        conversation_id=conversation.id,
        parent_id=question.id,
        answer=RUDE,
        guard_flags=["insult"],
    )
    thumbs(session, shown, -1), thumbs(session, withheld, 1)  # a vote it can never have had
    assert pairs(session) == []

    record_review(
        session, message_id=withheld.id, action="correct", reviewer="o", corrected_text=GOOD
    )
    [pair] = pairs(session)  # an operator's correction rejects it, as it should
    assert (pair.strategy, pair.chosen, pair.rejected) == (PairStrategy.correction, GOOD, RUDE)


def withhold(session, question, text=RUDE):
    """An answer the serving guard flagged and replaced: logged beside the one shown."""
    return log_turn(
        session,
        conversation_id=question.conversation_id,
        parent_id=question.id,
        answer=text,
        guard_flags=["insult"],
    )[1]


def test_the_serving_guard_votes_down_what_it_withheld(session):
    question, _ = ask(session)
    withheld = withhold(session, question)
    shown = regenerate(session, question)
    up = thumbs(session, shown, 1)

    [pair] = pairs(session)
    assert pair.strategy == PairStrategy.regeneration
    assert (pair.chosen, pair.rejected) == (GOOD, RUDE)
    assert pair.rejected_message_id == withheld.id
    assert str(up.id) in pair.feedback_ids  # the guard's vote is no feedback event

    assert build_pairs(session, since=None, policy=PairPolicy(guard_votes=False)) == []


def test_the_kto_rows_label_what_users_rated_and_what_the_guard_withheld(session, tmp_path):
    question, down = ask(session)
    withheld = withhold(session, question)
    shown = regenerate(session, question)
    thumbs(session, down, -1), thumbs(session, shown, 1)
    ask(session, "Do you ship abroad?")  # never rated: no row

    def labels(**options) -> dict:
        path, count = write_kto_rows(session, tmp_path / "kto.jsonl", **options)
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert len(rows) == count
        assert all(row["prompt"] == [{"role": "user", "content": question.content}] for row in rows)
        return {row["message_id"]: row["label"] for row in rows}

    rated = {str(down.id): False, str(shown.id): True}
    assert labels() == rated
    assert labels(guard_votes=True) == rated | {str(withheld.id): False}


def test_a_withheld_answer_pairs_only_with_one_users_liked(session):
    question, first = ask(session, "Where is my order?")
    thumbs(session, first, -1)
    withhold(session, question)
    assert [p.rejected for p in pairs(session)] == []  # nothing better to prefer to it

    liked, _ = ask(session, "Do you ship abroad?")
    thumbs(session, regenerate(session, liked), 1)
    private, _ = ask(session, "Do you ship abroad?", consent=False, user="v")
    withhold(session, private)
    assert pairs(session) == []  # without consent, the guard's vote is not used either


def test_only_feedback_after_the_cutoff_counts(session):
    question, rude = ask(session)
    good = regenerate(session, question)
    thumbs(session, rude, -1)
    up = thumbs(session, good, 1)
    assert pairs(session, since=up.created_at) == []
    assert len(pairs(session, since=rude.created_at)) == 1


def test_pii_is_scrubbed_except_the_shops_own_contacts(session):
    prompt = "My card is 4111 1111 1111 1111, mail me at jane@example.com"
    question, rude = ask(session, prompt)
    good = regenerate(session, question, "Call us at +47 55 20 40 60 or write to jane@example.com")
    thumbs(session, rude, -1), thumbs(session, good, 1)
    [pair] = pairs(session, keep_pii=["+47 55 20 40 60"])
    assert "4111" not in pair.prompt[0]["content"] and "jane@" not in pair.prompt[0]["content"]
    assert "+47 55 20 40 60" in pair.chosen and "jane@example.com" not in pair.chosen


def test_duplicates_collapse_to_the_strongest_pair(session):
    for _ in range(3):
        question, rude = ask(session)
        good = regenerate(session, question)
        thumbs(session, rude, -1), thumbs(session, good, 1)
    assert len(pairs(session)) == 1


def test_trolls_lose_trust_and_their_votes_lose_weight(session):
    honest = [f"honest-{i}" for i in range(4)]
    for index in range(3):
        question, rude = ask(session, f"Question number {index}?")
        good = regenerate(session, question)
        for rater in honest:
            thumbs(session, rude, -1, rater), thumbs(session, good, 1, rater)
        thumbs(session, rude, 1, "troll"), thumbs(session, good, -1, "troll")

    toxic = {RUDE}
    trust = rater_trust(
        session,
        score_toxicity=lambda texts: [1.0 if t in toxic else 0.0 for t in texts],
        toxicity_threshold=0.5,
    )
    troll = next(t for t in trust.values() if t.votes == 6 and t.toxic_reward_share == 1.0)
    assert troll.weight < 0.1 and len(troll.reasons) == 2
    assert all(t.weight > 0.5 for t in trust.values() if t is not troll)
    weighted = pairs(session, rater_weights=weights_table(session, trust))
    unweighted = pairs(session)
    assert min(p.weight for p in weighted) > min(p.weight for p in unweighted)


def test_a_distrusted_raters_votes_and_corrections_alone_make_no_pair(session):
    """In a troll's own conversation, the troll is the only voter: a weighted mean cannot
    discount them, so what they alone rated is not paired."""
    question, rude = ask(session, user="troll")
    good = regenerate(session, question)
    thumbs(session, rude, 1, "troll"), thumbs(session, good, -1, "troll")
    insult = "Figure it out yourself, moron."
    record_feedback(session, message_id=good.id, kind="correction", text=insult, user_id="troll")
    honest_question, honest_rude = ask(session, "Where is my parcel?", user="customer")
    honest_good = regenerate(session, honest_question, "It ships within 2 days.")
    thumbs(session, honest_rude, -1, "customer"), thumbs(session, honest_good, 1, "customer")

    trust = rater_trust(
        session,
        score_toxicity=lambda texts: [1.0 if t in {RUDE, insult} else 0.0 for t in texts],
        toxicity_threshold=0.5,
    )
    assert len(pairs(session)) == 3  # unweighted: the troll's two and the customer's
    [pair] = pairs(session, rater_weights=weights_table(session, trust))
    assert pair.chosen == "It ships within 2 days."


def test_a_rater_with_a_fifth_of_their_up_votes_on_toxic_answers_is_distrusted(session):
    def up_votes(rater: str, good: int) -> None:
        """One up-vote on a rude answer, `good` on good ones."""
        question, rude = ask(session, f"{rater}'s question?")
        thumbs(session, rude, 1, rater)
        for _ in range(good):
            thumbs(session, regenerate(session, question), 1, rater)

    up_votes("troll", good=4)  # 20% of the up-votes on a toxic answer
    up_votes("clumsy", good=19)  # 5%: a slip of the thumb
    trust = rater_trust(
        session,
        score_toxicity=lambda texts: [1.0 if t == RUDE else 0.0 for t in texts],
        toxicity_threshold=0.5,
    )
    weights = {rater: trust[pseudonymize(session, rater)].weight for rater in ("troll", "clumsy")}
    assert weights["troll"] < DISTRUSTED_BELOW < weights["clumsy"]


def test_a_popular_question_pairs_only_its_best_and_worst_answers(session):
    for index in range(6):
        question, rude = ask(session, "How long can I return items?", user=f"user-{index}")
        good = regenerate(session, question, f"{GOOD} Variant {index}.")
        thumbs(session, rude, -1, rater=f"r{index}")
        record_feedback(
            session, message_id=good.id, kind="stars", value=5 - index % 2, user_id=f"r{index}"
        )
    bounded = build_pairs(session, since=None, policy=PairPolicy(max_pairs_per_context=2))
    assert 1 <= len(bounded) <= 4  # 2 best x 2 worst, not 6 x 6
    # the best-rated, newest first among equals
    assert all(pair.chosen.endswith(("Variant 4.", "Variant 2.")) for pair in bounded)


PASSWORD = "How do I reset my password?"
FORGOT = "I forgot my password, what do I do?"  # another key; cosine 0.85 with the real model
RESET = "Use the Forgot password link on the login page and we email you a reset link."


def paraphrases_rated(session, first_vote, second_vote, questions=(PASSWORD, FORGOT)):
    """Two conversations asking the same thing in other words; each asker rates their answer."""
    _, first = ask(session, questions[0], user="a")
    second_question, _ = ask(session, questions[1], user="b")
    second = regenerate(session, second_question, RESET)
    thumbs(session, first, first_vote, rater="a"), thumbs(session, second, second_vote, rater="b")
    return first, second


def test_paraphrased_questions_rated_apart_pair_up_by_meaning(session, sentence_embedder):
    rude, reset = paraphrases_rated(session, -1, 1)
    assert pairs(session) == []  # by normalized text these are two questions

    [pair] = pairs(session, embed=sentence_embedder.embed)
    assert (pair.strategy, pair.chosen, pair.rejected) == (PairStrategy.same_prompt, RESET, RUDE)
    assert (pair.chosen_message_id, pair.rejected_message_id) == (reset.id, rude.id)
    assert pair.prompt == [{"role": "user", "content": PASSWORD}]
    assert len(pair.feedback_ids) == 2


def test_by_meaning_ties_all_bad_and_other_questions_make_no_pair(session, sentence_embedder):
    paraphrases_rated(session, 1, 1)
    paraphrases_rated(
        session, -1, -1, ("When will my refund arrive?", "How long until I get my refund?")
    )
    paraphrases_rated(session, -1, 1, ("Can I cancel my order?", "How do I wash a down jacket?"))
    assert pairs(session, embed=sentence_embedder.embed) == []


def about_passwords(texts):
    """A tiny stand-in embedding: two directions, passwords and everything else."""
    return [[1.0, 0.0] if "password" in text.lower() else [0.0, 1.0] for text in texts]


def test_by_meaning_the_latest_vote_of_each_rater_still_counts(session):
    _, reset = paraphrases_rated(session, -1, -1)
    thumbs(session, reset, 1, rater="b")  # b changed their mind
    [pair] = pairs(session, embed=about_passwords)
    assert pair.chosen == RESET
    thumbs(session, reset, -1, rater="b")  # and back: both are bad
    assert pairs(session, embed=about_passwords) == []


def candidate(prompt, chosen, rejected, weight=1.0, strategy=PairStrategy.same_prompt):
    return PairCandidate(
        strategy=strategy,
        context_id=uuid.uuid4(),
        chosen=chosen,
        rejected=rejected,
        weight=weight,
        chosen_message_id=None,
        rejected_message_id=uuid.uuid4(),
        prompt=[{"role": "user", "content": prompt}],
    )


def test_near_duplicate_pairs_collapse_to_the_strongest(sentence_embedder):
    question, thirty = "How long can I return items?", "You can return any item within 30 days."
    strong = candidate(question, thirty, RUDE)
    reworded = candidate(
        "For how long can I return items?",
        "You can return items within 30 days.",
        "Read the policy yourself, idiot.",
        weight=0.5,
    )
    assert len(deduplicate([reworded, strong])) == 2  # not equal after normalization
    other_fact = candidate(question, "You can return any item within 7 days.", RUDE, 0.5)
    other_rejected = candidate(question, thirty, "Returns depend on the situation.", 0.5)
    pairs = [reworded, strong, other_fact, other_rejected]
    kept = deduplicate(pairs, embed=sentence_embedder.embed)  # policy default: 0.95
    assert kept == [strong, other_fact, other_rejected]

    texts = (reworded.prompt[0]["content"], reworded.chosen, reworded.rejected)
    correction = candidate(*texts, weight=0.1, strategy=PairStrategy.correction)
    kept = deduplicate([strong, correction], embed=sentence_embedder.embed)
    assert kept == [correction]  # a person wrote it: it stays, as in exact deduplication
