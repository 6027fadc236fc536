"""Conversations similar in meaning to one question: how the bot answered the same need before."""

import uuid

import numpy as np
import pandas as pd
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from feedback.models import Message, Role
from feedback.similarity import Embed, embed_texts

POOL = 500  # the most recent user messages compared; enough for a queue item's context
SIMILARITY = 0.6  # below this cosine a question is about something else


def similar_conversations(
    session: Session,
    *,
    question_id: uuid.UUID,
    embed: Embed,
    limit: int = 5,
    pool: int = POOL,
    threshold: float = SIMILARITY,
) -> pd.DataFrame:
    """The other conversations' questions nearest in meaning to message `question_id`, with
    the answer shown to each: similarity, question, answer, conversation."""
    question = session.get(Message, question_id)
    answer = aliased(Message)
    rows = session.exec(
        select(Message.content, answer.content, Message.conversation_id)
        .join(answer, answer.parent_id == Message.id)
        .where(
            Message.role == Role.user,
            Message.conversation_id != question.conversation_id,
            col(answer.guard_flags).is_(None),
        )
        .order_by(col(Message.created_at).desc())
        .limit(pool)
    ).all()
    columns = ["similarity", "question", "answer", "conversation"]
    if not rows:
        return pd.DataFrame(columns=columns)
    vectors = embed_texts(embed, [question.content, *(row[0] for row in rows)])
    similarity = vectors[1:] @ vectors[0]
    nearest = [i for i in np.argsort(-similarity)[:limit] if similarity[i] >= threshold]
    return pd.DataFrame(
        [(round(float(similarity[i]), 2), *rows[i][:2], str(rows[i][2])) for i in nearest],
        columns=columns,
    )
