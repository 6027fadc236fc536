"""Conversations and their messages; a message's parent makes regenerations siblings."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from feedback.columns import UTCDateTime, enum_column, new_id, utcnow


class Role(StrEnum):
    system = "system"
    user = "user"
    assistant = "assistant"


class Conversation(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_pseudonym: str = Field(max_length=64, index=True, description="Keyed hash of the user id.")
    client: str = Field(
        default="api", max_length=32, description="Where it came from: api, chat, simulate."
    )
    training_consent: bool = Field(
        default=True,
        description="Whether the user agreed that this conversation may train the bot.",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Message(SQLModel, table=True):
    __table_args__ = (
        sa.Index(None, "conversation_id", "created_at"),
        sa.Index(None, "model_version_id", "created_at"),
        # The review queue reads the newest guarded answers: a partial index keeps that a seek.
        sa.Index(
            "ix_message_guarded_created_at",
            "created_at",
            sqlite_where=sa.text("guard_flags IS NOT NULL"),
            postgresql_where=sa.text("guard_flags IS NOT NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversation.id")
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="message.id", index=True)
    role: Role = Field(sa_type=enum_column(Role))
    content: str = Field(sa_type=sa.Text)
    prompt_key: str | None = Field(
        default=None,
        max_length=32,
        index=True,
        description="User messages: key of the normalized text, to find the same question.",
    )
    model_version_id: int | None = Field(default=None, foreign_key="model_version.id")
    sampling: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    guard_flags: list[str] | None = Field(
        default=None,
        sa_type=sa.JSON(none_as_null=True),
        description="Answers the serving guard withheld: the labels it flagged them for. "
        "Such an answer was never shown; it is a sibling of the one the user got instead.",
    )
    sentiment: float | None = Field(
        default=None,
        description="User messages: sentiment in [-1, 1] (VADER compound) when the bot scored "
        "it; frustration shows here before a thumbs-down does.",
    )
    purged_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        description="When retention emptied `content`: the row stays for the rollups' counts.",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class TurnCreate(SQLModel):
    """One exchange to log: the user's message (absent for a regeneration) and the answer."""

    conversation_id: uuid.UUID
    parent_id: uuid.UUID | None = Field(
        default=None,
        description="The message this turn follows: the previous answer for a new prompt, "
        "the user's message for a regenerated answer.",
    )
    prompt: str | None = Field(default=None, description="The user's message; None to regenerate.")
    answer: str
    prompt_id: uuid.UUID = Field(default_factory=new_id)
    answer_id: uuid.UUID = Field(default_factory=new_id)
    model_version_id: int | None = None
    sampling: dict[str, Any] | None = None
    latency_ms: float | None = Field(default=None, ge=0)
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)
    guard_flags: list[str] | None = Field(
        default=None, description="Set for an answer the serving guard withheld: its flags."
    )
    prompt_sentiment: float | None = Field(
        default=None, ge=-1, le=1, description="Sentiment of the user's message, in [-1, 1]."
    )

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, text: str | None) -> str | None:
        # An empty answer is kept (the degeneration gate counts them); an empty prompt is not.
        if text is not None and not text.strip():
            raise ValueError("must not be empty or whitespace")
        return text
