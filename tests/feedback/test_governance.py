"""Erasure, retention and consent in the store, on SQLite and PostgreSQL: what goes, what stays."""

import json
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from feedback import log_turn, pseudonymize, record_feedback, record_review, start_conversation
from feedback.columns import utcnow
from feedback.consent import withdraw_consent
from feedback.curation import build_pairs
from feedback.erasure import erase_user
from feedback.models import (
    Conversation,
    DailyQuality,
    DatasetSnapshot,
    FeedbackEvent,
    GateVerdict,
    Message,
    OperatorReview,
    PreferencePair,
    RaterTrustRecord,
)
from feedback.pairs import PairPolicy
from feedback.retention import purge_expired
from feedback.rollups import rebuild_daily_quality
from feedback.snapshots import load_rows, save_pairs, still_usable, write_snapshot

ALICE_QUESTION = "Can I return the violet alpaca scarf I bought in Bergen?"
BOB_QUESTION = "How long can I return items?"
GOOD = "You can return any item within 30 days."
VAGUE = "It depends."
CORRECTION = "Alice says: thirty days, with the receipt from the Bergen shop."


def rated_siblings(session, *, user, question, rater, consent=True):
    """A conversation whose first answer is rated down and its regeneration up by `rater`."""
    conversation = start_conversation(session, user_id=user, training_consent=consent)
    prompt, vague = log_turn(
        session, conversation_id=conversation.id, prompt=question, answer=VAGUE
    )
    good = log_turn(session, conversation_id=conversation.id, parent_id=prompt.id, answer=GOOD)[1]
    record_feedback(session, message_id=vague.id, kind="thumbs", value=-1, user_id=rater)
    record_feedback(session, message_id=good.id, kind="thumbs", value=1, user_id=rater)
    return conversation, prompt, vague, good


def snapshot_of_all_pairs(session, directory, **options):
    pairs = save_pairs(session, build_pairs(session, since=None, policy=PairPolicy()))
    for pair in pairs:
        pair.verdict = GateVerdict.kept
    return write_snapshot(
        session, pairs=pairs, directory=directory, feedback_until=utcnow(), **options
    )


def count(session, model, *where) -> int:
    return session.exec(select(sa.func.count()).select_from(model).where(*where)).one()


def test_erasure_takes_the_user_and_what_was_derived_from_them(session, tmp_path):
    alice, *_ = rated_siblings(session, user="alice", question=ALICE_QUESTION, rater="alice")
    bob, _, bob_vague, _ = rated_siblings(session, user="bob", question=BOB_QUESTION, rater="bob")
    # Alice also corrected one of Bob's answers: the pair made from that is hers too.
    record_feedback(
        session, message_id=bob_vague.id, kind="correction", text=CORRECTION, user_id="alice"
    )
    record_review(session, message_id=bob_vague.id, action="approve", reviewer="olga")
    session.add(
        RaterTrustRecord(
            user_pseudonym=pseudonymize(session, "alice"), votes=3, disagreement=0.5, weight=0.5
        )
    )
    session.commit()
    snapshot = snapshot_of_all_pairs(session, tmp_path)
    assert snapshot.pair_count == 3  # Alice's siblings, Bob's siblings, her correction of Bob

    erased = erase_user(session, pseudonymize(session, "alice"))

    assert (erased.conversations, erased.messages, erased.pairs) == (1, 3, 2)
    assert erased.feedback_events == 3  # her two ratings, her correction of Bob's answer
    assert session.get(Conversation, alice.id) is None
    assert session.get(Conversation, bob.id) is not None
    assert count(session, Message, Message.conversation_id == bob.id) == 3
    assert count(session, FeedbackEvent) == 2  # Bob's own two ratings
    assert count(session, OperatorReview) == 1  # the review of Bob's answer stays
    assert count(session, RaterTrustRecord) == 0
    [kept] = session.exec(select(PreferencePair)).all()
    assert kept.prompt == [{"role": "user", "content": BOB_QUESTION}]

    session.refresh(snapshot)
    rows = load_rows(tmp_path / f"{snapshot.id}.jsonl")
    assert [row["pair_id"] for row in rows] == [str(kept.id)]
    assert snapshot.pair_count == 1 and erased.snapshots_rewritten == [str(snapshot.id)]
    text = "".join(path.read_text() for path in tmp_path.glob("*.jsonl"))
    assert ALICE_QUESTION not in text and CORRECTION not in text
    assert erased.snapshot_rows_removed >= 2


def test_erasing_someone_unknown_changes_nothing(session, tmp_path):
    rated_siblings(session, user="bob", question=BOB_QUESTION, rater="bob")
    erased = erase_user(session, pseudonymize(session, "nobody"))
    assert (erased.conversations, erased.messages, erased.feedback_events) == (0, 0, 0)
    assert count(session, Message) == 3


def test_a_correction_without_consent_never_reaches_a_snapshot(session, tmp_path):
    _, _, vague, _ = rated_siblings(
        session, user="carol", question=ALICE_QUESTION, rater="carol", consent=False
    )
    record_feedback(session, message_id=vague.id, kind="correction", text=CORRECTION, user_id="c")
    record_review(
        session, message_id=vague.id, action="correct", reviewer="olga", corrected_text=GOOD
    )
    rated_siblings(session, user="bob", question=BOB_QUESTION, rater="bob")
    snapshot = snapshot_of_all_pairs(session, tmp_path)
    files = "".join(path.read_text() for path in tmp_path.glob("*.jsonl"))
    assert snapshot.pair_count == 1
    assert ALICE_QUESTION not in files and CORRECTION not in files
    assert count(session, Conversation) == 2  # served and counted all the same


def test_replay_skips_pairs_older_than_the_retention_limit(session, tmp_path):
    rated_siblings(session, user="bob", question=BOB_QUESTION, rater="bob")
    first = snapshot_of_all_pairs(session, tmp_path / "first")
    session.execute(sa.update(PreferencePair).values(created_at=utcnow() - timedelta(days=40)))
    session.commit()
    rated_siblings(session, user="dan", question="Where is my order?", rater="dan")
    pairs = build_pairs(session, since=first.feedback_until, policy=PairPolicy())
    saved = save_pairs(session, pairs)
    for pair in saved:
        pair.verdict = GateVerdict.kept
    fresh_only = write_snapshot(
        session,
        pairs=saved,
        directory=tmp_path / "second",
        feedback_until=utcnow(),
        replay_share=1.0,
        replay_after=utcnow() - timedelta(days=30),
    )
    assert fresh_only.stats["replayed_pairs"] == 0
    with_replay = write_snapshot(
        session,
        pairs=saved,
        directory=tmp_path / "third",
        feedback_until=utcnow(),
        replay_share=1.0,
    )
    assert with_replay.stats["replayed_pairs"] == 1


def test_retention_purges_old_texts_and_keeps_the_rollups(session, tmp_path):
    _, _, vague, _ = rated_siblings(session, user="bob", question=BOB_QUESTION, rater="bob")
    record_feedback(session, message_id=vague.id, kind="correction", text=CORRECTION, user_id="b")
    record_review(session, message_id=vague.id, action="approve", reviewer="olga")
    snapshot = snapshot_of_all_pairs(session, tmp_path)
    long_ago = utcnow() - timedelta(days=400)
    for model in (Message, FeedbackEvent, OperatorReview, PreferencePair, DatasetSnapshot):
        session.execute(sa.update(model).values(created_at=long_ago))
    session.commit()
    new, *_ = rated_siblings(session, user="erin", question="Where is my order?", rater="erin")
    rebuild_daily_quality(session, settle=timedelta(0))
    before = {(row.day, row.answers, row.ups) for row in session.exec(select(DailyQuality))}

    purged = purge_expired(session, before=utcnow() - timedelta(days=365))

    assert (purged.messages, purged.feedback_events, purged.reviews, purged.pairs) == (3, 1, 1, 2)
    assert purged.snapshots == [str(snapshot.id)]
    assert list(tmp_path.glob(f"{snapshot.id}*")) == []
    old = session.exec(select(Message).where(Message.conversation_id != new.id)).all()
    assert {message.content for message in old} == {""}
    assert all(message.purged_at is not None for message in old)
    assert count(session, Message, Message.purged_at.is_(None)) == 3  # Erin's are recent
    assert count(session, FeedbackEvent) == 4  # the ratings stay: rollups are counted from them
    after = {(row.day, row.answers, row.ups) for row in session.exec(select(DailyQuality))}
    assert after == before and len(after) == 2
    # Purged answers pair no more: only Erin's recent ones do.
    pairs = build_pairs(session, since=None, policy=PairPolicy())
    assert [pair.prompt[0]["content"] for pair in pairs] == ["Where is my order?"]
    assert json.dumps(session.get(DatasetSnapshot, snapshot.id).stats).count("files_purged_at")


def test_rows_of_an_older_snapshot_drop_out_once_consent_is_withdrawn(session, tmp_path):
    bob, *_ = rated_siblings(session, user="bob", question=BOB_QUESTION, rater="bob")
    rated_siblings(session, user="dan", question="Where is my order?", rater="dan")
    snapshot = snapshot_of_all_pairs(session, tmp_path)
    rows = load_rows(tmp_path / f"{snapshot.id}.jsonl")
    assert len(still_usable(session, rows)) == 2
    withdraw_consent(session, conversation_id=bob.id)
    [usable] = still_usable(session, rows)
    assert usable["prompt"][0]["content"] == "Where is my order?"
