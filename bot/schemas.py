"""The HTTP API's request and response shapes: OpenAI's chat completions, plus feedback."""

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from feedback.models import FeedbackKind

MAX_MESSAGE_CHARS = 8_000


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, content: str) -> str:
        if not content.strip():
            raise ValueError("message content must not be empty or whitespace")
        return content


class SamplingFields(BaseModel):
    """Per-request sampling; a field left out takes the bot's default from settings."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=2048)
    seed: int | None = Field(default=None, ge=0, lt=2**32)


class ChatCompletionRequest(SamplingFields):
    # Clients send more of OpenAI's fields than tuneloop uses (presence_penalty, ...).
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1, description="Only one choice per request.")
    user: str | None = Field(
        default=None, min_length=1, max_length=256, description="End-user id (pseudonymized)."
    )
    conversation_id: uuid.UUID | None = Field(
        default=None, description="tuneloop extension: continue this logged conversation."
    )
    parent_id: uuid.UUID | None = Field(
        default=None, description="tuneloop extension: the answer this request follows up on."
    )

    @model_validator(mode="after")
    def _ends_with_the_user(self) -> "ChatCompletionRequest":
        if self.messages[-1].role != "user":
            raise ValueError("the last message must have role 'user': it is what gets answered")
        if self.parent_id is not None and self.conversation_id is None:
            raise ValueError("parent_id needs conversation_id")
        return self


class RegenerateRequest(SamplingFields):
    message_id: uuid.UUID = Field(description="The answer to replace with a new one.")
    user: str | None = Field(default=None, min_length=1, max_length=256)


class TuneloopIds(BaseModel):
    """The ids a client needs to give feedback on an answer (the `tuneloop` extension field)."""

    conversation_id: uuid.UUID
    message_id: uuid.UUID
    prompt_message_id: uuid.UUID
    model_version_id: int | None


class FeedbackRequest(BaseModel):
    message_id: uuid.UUID
    kind: FeedbackKind
    value: int | None = None
    text: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    user: str | None = Field(default=None, min_length=1, max_length=256)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)


class FeedbackResponse(BaseModel):
    id: uuid.UUID
    message_id: uuid.UUID
    kind: FeedbackKind
    created_at: str
