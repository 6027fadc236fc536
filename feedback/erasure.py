"""Erasure: forget one user. Their conversations, messages, feedback, the reviews and pairs
derived from them go; snapshot files are rewritten without them; the models trained on them are
named (lineage); the database file itself is cleaned of the deleted bytes.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from feedback.models import (
    Conversation,
    DatasetSnapshot,
    FeedbackEvent,
    Message,
    ModelVersion,
    OperatorReview,
    PreferencePair,
    RaterTrustRecord,
    Role,
    TrainingRun,
)
from feedback.snapshot_files import SnapshotRows, rewrite_snapshot

ERASED_TABLES = tuple(
    model.__tablename__
    for model in (
        Conversation,
        Message,
        FeedbackEvent,
        OperatorReview,
        PreferencePair,
        RaterTrustRecord,
    )
)


@dataclass
class UserData:
    """What one user left in the store: ids to delete and the texts they typed."""

    conversation_ids: set[uuid.UUID] = field(default_factory=set)
    message_ids: set[uuid.UUID] = field(default_factory=set)
    feedback_ids: set[uuid.UUID] = field(default_factory=set)
    rated_message_ids: set[uuid.UUID] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)


@dataclass
class ErasedRows:
    """What an erasure deleted and rewrote; ids and counts only, never content."""

    conversations: int = 0
    messages: int = 0
    feedback_events: int = 0
    reviews: int = 0
    pairs: int = 0
    snapshots_rewritten: list[str] = field(default_factory=list)
    snapshot_rows_removed: int = 0
    trained_versions: list[str] = field(default_factory=list)


def find_user_data(session: Session, pseudonym: str) -> UserData:
    """The user's conversations and messages, their feedback and feedback on their answers."""
    data = UserData()
    data.conversation_ids = set(
        session.exec(select(Conversation.id).where(Conversation.user_pseudonym == pseudonym)).all()
    )
    messages = session.execute(
        sa.select(Message.id, Message.role, Message.content).where(
            Message.conversation_id.in_(data.conversation_ids)
        )
    ).all()
    data.message_ids = {row.id for row in messages}
    data.texts = {row.content for row in messages if row.role == Role.user and row.content}
    events = session.execute(
        sa.select(FeedbackEvent.id, FeedbackEvent.message_id, FeedbackEvent.text).where(
            sa.or_(
                FeedbackEvent.user_pseudonym == pseudonym,
                FeedbackEvent.message_id.in_(data.message_ids),
            )
        )
    ).all()
    data.feedback_ids = {row.id for row in events}
    data.rated_message_ids = {row.message_id for row in events}
    data.texts |= {row.text for row in events if row.text}
    return data


def derived_pairs(session: Session, data: UserData) -> set[uuid.UUID]:
    """Ids of the pairs made from the user's answers, or from their feedback."""
    pairs = set(
        session.exec(
            select(PreferencePair.id).where(
                sa.or_(
                    PreferencePair.chosen_message_id.in_(data.message_ids),
                    PreferencePair.rejected_message_id.in_(data.message_ids),
                )
            )
        ).all()
    )
    feedback = {str(feedback_id) for feedback_id in data.feedback_ids}
    if feedback:  # feedback ids are a JSON list, queried alike on every database only in Python
        rows = session.execute(sa.select(PreferencePair.id, PreferencePair.feedback_ids))
        pairs |= {row.id for row in rows if feedback.intersection(row.feedback_ids)}
    return pairs


def erase_user(session: Session, pseudonym: str, data: UserData | None = None) -> ErasedRows:
    """Delete everything of `pseudonym` in one transaction, then rewrite the snapshot files.

    Snapshot files are rewritten after the commit: a crash in between leaves files that still
    hold the user's rows, and running the erasure again finds and rewrites them (every file is
    checked, not only the snapshots that pairs point at, since replayed pairs are in later
    snapshots' files too).
    """
    data = data or find_user_data(session, pseudonym)
    pair_ids = derived_pairs(session, data)
    erased = ErasedRows(pairs=len(pair_ids))
    reviews = sa.or_(
        OperatorReview.message_id.in_(data.message_ids),
        OperatorReview.feedback_id.in_(data.feedback_ids),
    )
    erased.reviews = _delete(session, sa.delete(OperatorReview).where(reviews))
    _delete(session, sa.delete(PreferencePair).where(PreferencePair.id.in_(pair_ids)))
    erased.feedback_events = _delete(
        session, sa.delete(FeedbackEvent).where(FeedbackEvent.id.in_(data.feedback_ids))
    )
    erased.messages = _delete(session, sa.delete(Message).where(Message.id.in_(data.message_ids)))
    erased.conversations = _delete(
        session, sa.delete(Conversation).where(Conversation.id.in_(data.conversation_ids))
    )
    session.execute(sa.delete(RaterTrustRecord).where(RaterTrustRecord.user_pseudonym == pseudonym))
    session.commit()
    forget = SnapshotRows(
        pair_ids={str(pair_id) for pair_id in pair_ids},
        message_ids={str(message_id) for message_id in data.message_ids | data.rated_message_ids},
        texts=data.texts,
    )
    touched = []
    for snapshot in session.exec(select(DatasetSnapshot)).all():
        removed = rewrite_snapshot(session, snapshot, forget)
        if removed:
            touched.append(snapshot.id)
            erased.snapshot_rows_removed += removed
    erased.snapshots_rewritten = [str(snapshot_id) for snapshot_id in touched]
    erased.trained_versions = trained_on(session, touched)
    return erased


def trained_on(session: Session, snapshot_ids: Iterable[uuid.UUID]) -> list[str]:
    """Names of the model versions trained on these snapshots, and of every version derived
    from one of them since (a DPO candidate's parent is the model it started from)."""
    runs = session.exec(
        select(TrainingRun.candidate_version_id).where(
            TrainingRun.snapshot_id.in_(list(snapshot_ids)),
            TrainingRun.candidate_version_id.is_not(None),
        )
    ).all()
    versions = {version.id: version for version in session.exec(select(ModelVersion)).all()}
    tainted = set(runs)
    grown = True
    while grown:
        children = {v.id for v in versions.values() if v.parent_id in tainted} - tainted
        tainted |= children
        grown = bool(children)
    return sorted(versions[version_id].name for version_id in tainted if version_id in versions)


def _delete(session: Session, statement: sa.Delete) -> int:
    return session.execute(statement).rowcount or 0


def scrub_free_space(engine: sa.Engine) -> str:
    """Make deleted rows unrecoverable from the database files; say what was done.

    SQLite keeps deleted content in free pages and in the write-ahead log: VACUUM rebuilds the
    file from live rows only and a TRUNCATE checkpoint empties the log. PostgreSQL keeps dead
    tuples until a vacuum: VACUUM FULL rewrites the touched tables (locking each briefly).
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("VACUUM")
            busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if busy:
                return "sqlite: vacuumed; the WAL is still held by a reader: run it again"
            return "sqlite: vacuumed, WAL truncated"
        if engine.dialect.name == "postgresql":
            for table in ERASED_TABLES:
                connection.exec_driver_sql(f"VACUUM FULL {table}")
            return f"postgresql: VACUUM FULL {', '.join(ERASED_TABLES)}"
    return f"{engine.dialect.name}: deleted rows; free space not scrubbed"
