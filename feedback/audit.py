"""The audit trail's write and read API: every operator, admin and system action is a row."""

from typing import Any

from sqlmodel import Session, col, select

from feedback.models import ActorRole, AuditEvent


def record_audit(
    session: Session,
    *,
    actor: str,
    role: ActorRole,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    commit: bool = True,
) -> AuditEvent:
    """Add an audit row; `details` must hold ids and counts only, never user content."""
    event = AuditEvent(actor=actor, role=role, action=action, target=target, details=details or {})
    session.add(event)
    if commit:
        session.commit()
    return event


def recent_audit_events(
    session: Session, *, limit: int = 200, action: str | None = None
) -> list[AuditEvent]:
    """The newest audit rows first, optionally of one action."""
    newest_first = (col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())
    query = select(AuditEvent).order_by(*newest_first)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.exec(query.limit(limit)).all())
