"""The dashboards' reads: aggregated in SQL, so that a page stays fast on a big store."""

import math
import uuid
from datetime import UTC, date, datetime, time

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from feedback.models import (
    Conversation,
    FeedbackEvent,
    FeedbackKind,
    Message,
    ModelVersion,
    OperatorReview,
    Role,
    TrainingRun,
)


def daily_quality(session: Session, *, start: date, end: date) -> pd.DataFrame:
    """Per day and model version: answers, thumbs-up rate (with a 95% Wilson interval), mean
    stars, regenerate rate."""
    day = sa.func.date(Message.created_at).label("day")
    answers = (
        select(day, Message.model_version_id, sa.func.count().label("answers"))
        .where(Message.role == Role.assistant, _between(Message.created_at, start, end))
        .group_by(day, Message.model_version_id)
    )
    thumbs, stars, regenerate = (
        FeedbackEvent.kind == FeedbackKind.thumbs,
        FeedbackEvent.kind == FeedbackKind.stars,
        FeedbackEvent.kind == FeedbackKind.regenerate,
    )
    ratings = (
        select(
            day,
            Message.model_version_id,
            sa.func.sum(sa.case((sa.and_(thumbs, FeedbackEvent.value == 1), 1), else_=0)).label(
                "ups"
            ),
            sa.func.sum(sa.case((thumbs, 1), else_=0)).label("thumbs"),
            sa.func.avg(sa.case((stars, FeedbackEvent.value))).label("mean_stars"),
            sa.func.sum(sa.case((regenerate, 1), else_=0)).label("regenerates"),
        )
        .join(Message, Message.id == FeedbackEvent.message_id)
        .where(Message.role == Role.assistant, _between(Message.created_at, start, end))
        .group_by(day, Message.model_version_id)
    )
    frame = pd.DataFrame(session.exec(answers).all(), columns=["day", "version", "answers"])
    rated = pd.DataFrame(
        session.exec(ratings).all(),
        columns=["day", "version", "ups", "thumbs", "mean_stars", "regenerates"],
    )
    if frame.empty:
        return frame
    frame = frame.merge(rated, on=["day", "version"], how="left").fillna(
        {"ups": 0, "thumbs": 0, "regenerates": 0}
    )
    frame["day"] = pd.to_datetime(frame["day"])
    frame["version"] = frame["version"].map(_version_names(session)).fillna("unknown")
    frame["thumbs_up_rate"] = frame["ups"] / frame["thumbs"].where(frame["thumbs"] > 0)
    bounds = [wilson(u, n) for u, n in zip(frame["ups"], frame["thumbs"], strict=True)]
    frame["low"], frame["high"] = zip(*bounds, strict=True) if bounds else ((), ())
    frame["regenerate_rate"] = frame["regenerates"] / frame["answers"]
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
    """Perplexity and answer diversity per version, from the evaluation reports."""
    rows = []
    for version in session.exec(select(ModelVersion).order_by(ModelVersion.id)):
        evaluation = version.metrics.get("evaluation", {})
        rows.append(
            {
                "version": version.name,
                "status": version.status.value,
                "perplexity": evaluation.get("perplexity", {}).get("perplexity"),
                "distinct_2": evaluation.get("degeneration", {}).get("distinct_2"),
                "red_team_toxicity": evaluation.get("red_team", {}).get("toxicity_rate"),
            }
        )
    return pd.DataFrame(rows)


def review_queue(session: Session, *, limit: int = 50) -> list[Message]:
    """Answers flagged or rated down and not yet reviewed, flagged first, newest first."""
    down = sa.or_(
        FeedbackEvent.kind == FeedbackKind.flag,
        sa.and_(FeedbackEvent.kind == FeedbackKind.thumbs, FeedbackEvent.value == -1),
        sa.and_(FeedbackEvent.kind == FeedbackKind.stars, FeedbackEvent.value <= 2),
    )
    flagged = sa.func.max(sa.case((FeedbackEvent.kind == FeedbackKind.flag, 1), else_=0))
    reviewed = select(OperatorReview.message_id)
    query = (
        select(Message)
        .join(FeedbackEvent, FeedbackEvent.message_id == Message.id)
        .where(down, col(Message.id).not_in(reviewed))
        .group_by(Message.id)
        .order_by(flagged.desc(), sa.func.max(FeedbackEvent.created_at).desc())
        .limit(limit)
    )
    return list(session.exec(query).all())


def feedback_on(session: Session, message_id: uuid.UUID) -> list[FeedbackEvent]:
    query = select(FeedbackEvent).where(FeedbackEvent.message_id == message_id)
    return list(session.exec(query.order_by(FeedbackEvent.created_at)).all())


def search_conversations(session: Session, text: str, *, limit: int = 30) -> pd.DataFrame:
    query = (
        select(
            Conversation.id,
            Conversation.created_at,
            Conversation.client,
            sa.func.count(Message.id).label("messages"),
        )
        .join(Message, Message.conversation_id == Conversation.id)
        .group_by(Conversation.id, Conversation.created_at, Conversation.client)
        .order_by(Conversation.created_at.desc())
        .limit(limit)
    )
    if text.strip():
        matching = select(Message.conversation_id).where(
            sa.func.lower(Message.content).contains(text.strip().lower())
        )
        query = query.where(col(Conversation.id).in_(matching))
    rows = session.exec(query).all()
    return pd.DataFrame(rows, columns=["conversation", "started", "client", "messages"])


def conversation_messages(session: Session, conversation_id: uuid.UUID) -> list[Message]:
    query = select(Message).where(Message.conversation_id == conversation_id)
    return list(session.exec(query.order_by(Message.created_at)).all())


def training_runs(session: Session, *, limit: int = 50) -> list[TrainingRun]:
    query = select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit)
    return list(session.exec(query).all())


def _between(column, start: date, end: date):
    """From the start of `start` to the end of `end`, in UTC like the timestamps."""
    return sa.and_(
        column >= datetime.combine(start, time.min, tzinfo=UTC),
        column <= datetime.combine(end, time.max, tzinfo=UTC),
    )


def _version_names(session: Session) -> dict[int, str]:
    return dict(session.exec(select(ModelVersion.id, ModelVersion.name)).all())
