"""A summary of what the store holds, for `tuneloop db info` and health checks."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, func, select

from feedback.models import Message, ModelVersion
from feedback.registry import active_model_version


@dataclass(frozen=True)
class StoreOverview:
    row_counts: dict[str, int]
    last_message_at: datetime | None
    active_model: ModelVersion | None


def describe_store(session: Session) -> StoreOverview:
    counts = {
        table.name: session.exec(select(func.count()).select_from(table)).one()
        for table in SQLModel.metadata.sorted_tables
    }
    last_message_at = session.exec(select(sa.func.max(Message.created_at))).one()
    return StoreOverview(
        row_counts=counts,
        last_message_at=last_message_at,
        active_model=active_model_version(session),
    )
