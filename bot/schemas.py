"""The HTTP API's request and response shapes: OpenAI's chat completions, plus feedback."""

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from feedback.models import FeedbackKind

MAX_MESSAGE_CHARS = 8_000
# OpenAI's limits on a request's metadata.
MAX_METADATA_PAIRS, MAX_METADATA_KEY_CHARS, MAX_METADATA_VALUE_CHARS = 16, 64, 512
CONSENT_KEY = "allow_data_use"
CONSENT_VALUES = {"true": True, "false": False}


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


class MetadataFields(BaseModel):
    """OpenAI's `metadata`; its `allow_data_use` is the user's consent to training."""

    metadata: dict[str, str | bool] | None = Field(
        default=None,
        description=f'Up to {MAX_METADATA_PAIRS} string pairs. `{CONSENT_KEY}`: "true" or '
        '"false" (a JSON boolean too), whether this conversation may train the bot; left out, '
        'the bot\'s default applies to a new conversation. A "false" on a follow-up withdraws '
        'the conversation\'s consent; a later "true" does not give it back.',
    )

    @field_validator("metadata", mode="before")
    @classmethod
    def _fits_openai_limits(cls, metadata: Any) -> Any:
        if metadata is None:
            return None
        if not isinstance(metadata, dict):
            raise ValueError("metadata must be an object of string keys and string values")
        if len(metadata) > MAX_METADATA_PAIRS:
            raise ValueError(
                f"metadata holds at most {MAX_METADATA_PAIRS} pairs, got {len(metadata)}"
            )
        for key, value in metadata.items():
            if len(key) > MAX_METADATA_KEY_CHARS:
                raise ValueError(f"metadata keys have at most {MAX_METADATA_KEY_CHARS} characters")
            if key == CONSENT_KEY:
                parse_consent(value)
            elif not isinstance(value, str):
                raise ValueError(f"metadata.{key} must be a string, got {type(value).__name__}")
            elif len(value) > MAX_METADATA_VALUE_CHARS:
                raise ValueError(
                    f"metadata.{key} has {len(value)} characters, "
                    f"at most {MAX_METADATA_VALUE_CHARS} are allowed"
                )
        return metadata

    @property
    def training_consent(self) -> bool | None:
        """`metadata.allow_data_use` as a bool; None when the request does not say."""
        if not self.metadata or CONSENT_KEY not in self.metadata:
            return None
        return parse_consent(self.metadata[CONSENT_KEY])


def parse_consent(value: Any) -> bool:
    """`allow_data_use` as sent: "true" or "false" in any case, or a JSON boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in CONSENT_VALUES:
        return CONSENT_VALUES[value.lower()]
    raise ValueError(
        f'metadata.{CONSENT_KEY} must be "true" or "false" (any case) or a JSON boolean, '
        f"got {str(value)[:40]!r}"
    )


class ChatCompletionRequest(SamplingFields, MetadataFields):
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


class RegenerateRequest(SamplingFields, MetadataFields):
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
