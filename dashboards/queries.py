"""The dashboards' reads: aggregated in SQL, so that a page stays fast on a big store."""

import math
import uuid
from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from feedback.models import (
    AuditEvent,
    CanaryDecision,
    CanaryOutcome,
    Conversation,
    DailyQuality,
    FeedbackEvent,
    FeedbackKind,
    Message,
    ModelVersion,
    OperatorReview,
    RaterTrustRecord,
    TrainingRun,
)
from feedback.rollups import catch_up_daily_quality


def daily_quality(session: Session, *, start: date, end: date) -> pd.DataFrame:
    """Per day and model version: answers, thumbs-up rate (with a 95% Wilson interval), mean
    stars, regenerate rate, mean sentiment of the users' replies; read from the rollup, once it
    has caught up with new rows."""
    catch_up_daily_quality(session)
    rows = session.exec(
        select(DailyQuality).where(DailyQuality.day >= start, DailyQuality.day <= end)
    ).all()
    frame = pd.DataFrame([row.model_dump() for row in rows])
    if frame.empty:
        return frame
    frame["day"] = pd.to_datetime(frame["day"])
    frame["version"] = frame["model_version_id"].map(version_names(session)).fillna("unknown")
    frame["thumbs_up_rate"] = frame["ups"] / frame["thumbs"].where(frame["thumbs"] > 0)
    frame["mean_stars"] = frame["stars_sum"] / frame["stars_n"].where(frame["stars_n"] > 0)
    frame["regenerate_rate"] = frame["regenerates"] / frame["answers"]
    replies = frame["user_messages"].where(frame["user_messages"] > 0)
    frame["user_sentiment"] = frame["sentiment_sum"] / replies
    bounds = [wilson(u, n) for u, n in zip(frame["ups"], frame["thumbs"], strict=True)]
    frame["low"], frame["high"] = zip(*bounds, strict=True)
    return frame


def wilson(successes: float, trials: float, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a rate; (nan, nan) without trials."""
    if not trials:
        return math.nan, math.nan
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials))
    return centre - half / (1 + z * z / trials), centre + half / (1 + z * z / trials)


def version_events(session: Session) -> pd.DataFrame:
    """When each version went into service: the markers on the trend charts."""
    rows = session.exec(
        select(ModelVersion.name, ModelVersion.activated_at, ModelVersion.status).where(
            ModelVersion.activated_at.is_not(None)
        )
    ).all()
    return pd.DataFrame(rows, columns=["version", "activated_at", "status"])


def version_reports(session: Session) -> pd.DataFrame:
    """Domain accuracy (greedy, and as served), perplexity, answer diversity and red-team
    toxicity per version, from the evaluation reports (empty for a version never measured)."""
    rows = []
    for version in session.exec(select(ModelVersion).order_by(ModelVersion.id)):
        evaluation = version.metrics.get("evaluation", {})
        rows.append(
            {
                "version": version.name,
                "status": version.status.value,
                "domain_accuracy": evaluation.get("domain", {}).get("accuracy"),
                "served_accuracy": evaluation.get("served", {}).get("accuracy"),
                "perplexity": evaluation.get("perplexity", {}).get("perplexity"),
                "distinct_2": evaluation.get("degeneration", {}).get("distinct_2"),
                "red_team_toxicity": evaluation.get("red_team", {}).get("toxicity_rate"),
            }
        )
    return pd.DataFrame(rows)


def review_queue(session: Session, *, limit: int = 20, window: int = 1000) -> list[Message]:
    """Answers waiting for review: flagged by a user first, then those the serving guard
    withheld (with its flags), then answers rated down; the newest first within each.

    Reads only the newest `window` of each kind (through indexes on time), so the queue
    stays fast however much the store holds.
    """
    down = sa.or_(
        sa.and_(FeedbackEvent.kind == FeedbackKind.thumbs, FeedbackEvent.value == -1),
        sa.and_(FeedbackEvent.kind == FeedbackKind.stars, FeedbackEvent.value <= 2),
    )
    flagged, rated_down = (
        select(FeedbackEvent.message_id)
        .where(condition)
        .order_by(FeedbackEvent.created_at.desc())
        .limit(window)
        for condition in (FeedbackEvent.kind == FeedbackKind.flag, down)
    )
    withheld = (
        select(Message.id)
        .where(Message.guard_flags.is_not(None))
        .order_by(Message.created_at.desc())
        .limit(window)
    )
    ordered: dict[uuid.UUID, None] = {}  # insertion-ordered and free of duplicates
    for query in (flagged, withheld, rated_down):
        ordered |= dict.fromkeys(session.exec(query))
    reviewed = set(
        session.exec(
            select(OperatorReview.message_id).where(col(OperatorReview.message_id).in_(ordered))
        )
    )
    waiting = [message_id for message_id in ordered if message_id not in reviewed][:limit]
    messages = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(waiting)))}
    return [messages[message_id] for message_id in waiting]


def feedback_on(session: Session, message_id: uuid.UUID) -> list[FeedbackEvent]:
    query = select(FeedbackEvent).where(FeedbackEvent.message_id == message_id)
    return list(session.exec(query.order_by(FeedbackEvent.created_at)).all())


def search_conversations(session: Session, text: str, *, limit: int = 30) -> pd.DataFrame:
    """The newest conversations (with a message containing `text`), with their sizes."""
    recent = select(Conversation.id, Conversation.created_at, Conversation.client)
    if text.strip():
        matching = select(Message.conversation_id).where(
            sa.func.lower(Message.content).contains(text.strip().lower())
        )
        recent = recent.where(col(Conversation.id).in_(matching))
    recent = recent.order_by(Conversation.created_at.desc()).limit(limit).subquery("recent")
    query = (
        select(recent.c.id, recent.c.created_at, recent.c.client, sa.func.count(Message.id))
        .join(Message, Message.conversation_id == recent.c.id)
        .group_by(recent.c.id, recent.c.created_at, recent.c.client)
        .order_by(recent.c.created_at.desc())
    )
    rows = session.exec(query).all()
    return pd.DataFrame(rows, columns=["conversation", "started", "client", "messages"])


def conversation_messages(session: Session, conversation_id: uuid.UUID) -> list[Message]:
    query = select(Message).where(Message.conversation_id == conversation_id)
    return list(session.exec(query.order_by(Message.created_at)).all())


def least_trusted(session: Session, *, limit: int = 25) -> list[RaterTrustRecord]:
    query = select(RaterTrustRecord).order_by(RaterTrustRecord.weight).limit(limit)
    return list(session.exec(query).all())


def training_runs(session: Session, *, limit: int = 50) -> list[TrainingRun]:
    query = select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit)
    return list(session.exec(query).all())


def canary_decisions(session: Session, *, limit: int = 500) -> list[CanaryDecision]:
    """The canary's decisions, the newest first."""
    query = select(CanaryDecision).order_by(CanaryDecision.id.desc()).limit(limit)
    return list(session.exec(query).all())


def latest_rollback(session: Session, *, since: datetime) -> CanaryDecision | None:
    """The newest automatic rollback since `since`, if any."""
    query = select(CanaryDecision).where(
        CanaryDecision.outcome == CanaryOutcome.rollback, CanaryDecision.created_at >= since
    )
    return session.exec(query.order_by(CanaryDecision.id.desc())).first()


def version_names(session: Session) -> dict[int, str]:
    return dict(session.exec(select(ModelVersion.id, ModelVersion.name)).all())


def audit_actions(session: Session) -> list[str]:
    """Every action the audit trail holds, for its filter."""
    query = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    return list(session.exec(query).all())
