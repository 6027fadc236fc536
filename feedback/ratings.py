"""The raters' side of the write API: feedback events (idempotent) and operator reviews."""

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from feedback.columns import new_id, utcnow
from feedback.db import pseudonymize
from feedback.errors import (
    IdempotencyConflict,
    InvalidFeedback,
    InvalidReview,
    UnknownFeedback,
    UnknownMessage,
    validated,
)
from feedback.models import (
    FeedbackCreate,
    FeedbackEvent,
    FeedbackKind,
    Message,
    OperatorReview,
    ReviewAction,
    ReviewCreate,
)

_SAME_REQUEST_FIELDS = ("message_id", "kind", "value", "text", "user_pseudonym")


def record_feedback(
    session: Session,
    *,
    message_id: uuid.UUID,
    kind: FeedbackKind | str,
    user_id: str,
    value: int | None = None,
    text: str | None = None,
    idempotency_key: str | None = None,
) -> FeedbackEvent:
    """Store one rating or action on a message; a retry with the same key stores nothing new."""
    event = validated(
        FeedbackCreate,
        InvalidFeedback,
        message_id=message_id,
        kind=kind,
        user_id=user_id,
        value=value,
        text=text,
        idempotency_key=idempotency_key,
    )
    [event_id] = record_feedback_batch(session, [event])
    return session.get_one(FeedbackEvent, event_id)


def record_feedback_batch(session: Session, events: Sequence[FeedbackCreate]) -> list[uuid.UUID]:
    """Store many events in one transaction: all or none, in one multi-row insert.

    Returns the stored event's id for each input, the earlier one where a key was a retry.
    A key reused for a different request raises `IdempotencyConflict`.
    """
    now = utcnow()
    rows = [
        event.model_dump(exclude={"user_id"})
        | {
            "id": new_id(),
            "user_pseudonym": pseudonymize(session, event.user_id),
            "created_at": now,
        }
        for event in events
    ]
    try:
        return _insert_new(session, rows)
    except sa.exc.IntegrityError:
        # The database refused a row. Say so if a message is unknown; otherwise another
        # writer stored one of these keys since we looked, so look again.
        session.rollback()
        _require_messages(session, {row["message_id"] for row in rows})
        return _insert_new(session, rows)


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    keys = {row["idempotency_key"] for row in rows if row["idempotency_key"]}
    stored = _events_by_key(session, keys)
    ids, new = [], []
    for row in rows:
        key = row["idempotency_key"]
        earlier = stored.get(key) if key else None
        if earlier is None:
            new.append(row)
            if key:
                stored[key] = row
        elif any(earlier[field] != row[field] for field in _SAME_REQUEST_FIELDS):
            raise IdempotencyConflict(
                f"idempotency key {key!r} was already used for another request"
            )
        ids.append((earlier or row)["id"])
    if new:
        session.execute(sa.insert(FeedbackEvent.__table__), new)
    session.commit()
    return ids


def record_review(
    session: Session,
    *,
    message_id: uuid.UUID,
    action: ReviewAction | str,
    reviewer: str,
    feedback_id: uuid.UUID | None = None,
    corrected_text: str | None = None,
    note: str | None = None,
) -> OperatorReview:
    """Record an operator's decision: exclude or approve feedback, or correct an answer."""
    review = validated(
        ReviewCreate,
        InvalidReview,
        message_id=message_id,
        action=action,
        reviewer=reviewer,
        feedback_id=feedback_id,
        corrected_text=corrected_text,
        note=note,
    )
    _require_messages(session, {review.message_id})
    if review.feedback_id is not None:
        event = session.get(FeedbackEvent, review.feedback_id)
        if event is None:
            raise UnknownFeedback(f"no feedback event with id {review.feedback_id}")
        if event.message_id != review.message_id:
            raise InvalidReview(
                f"feedback {review.feedback_id} is about message {event.message_id}, "
                f"not {review.message_id}"
            )
    row = OperatorReview.model_validate(review.model_dump())
    session.add(row)
    session.commit()
    return row


def _require_messages(session: Session, ids: set[uuid.UUID]) -> None:
    found = set(session.exec(select(Message.id).where(col(Message.id).in_(ids))))
    if missing := ids - found:
        raise UnknownMessage(f"no message with id {', '.join(map(str, missing))}")


def _events_by_key(session: Session, keys: set[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    table = FeedbackEvent.__table__
    query = sa.select(table).where(table.c.idempotency_key.in_(keys))
    return {row.idempotency_key: row._asdict() for row in session.execute(query)}
