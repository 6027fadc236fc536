"""A client of the bot's HTTP API, as end-user front ends use it: the chat page, simulated users."""

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import openai


@dataclass(frozen=True)
class Answer:
    text: str
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    prompt_message_id: uuid.UUID
    model_version_id: int | None

    @classmethod
    def from_ids(cls, text: str, ids: dict[str, Any]) -> "Answer":
        return cls(
            text=text,
            conversation_id=uuid.UUID(ids["conversation_id"]),
            message_id=uuid.UUID(ids["message_id"]),
            prompt_message_id=uuid.UUID(ids["prompt_message_id"]),
            model_version_id=ids["model_version_id"],
        )


class AnswerStream:
    """Iterate for the answer's text as it is generated; `answer` is set once it is complete."""

    def __init__(self, chunks) -> None:
        self._chunks = chunks
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        ids, pieces = None, []
        for chunk in self._chunks:
            ids = ids or (chunk.model_extra or {}).get("tuneloop")
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if piece:
                pieces.append(piece)
                yield piece
        self.answer = Answer.from_ids("".join(pieces).strip(), ids)


class BotClient:
    """Each call raises `BotError` when the bot refuses it or cannot be reached.

    `allow_data_use` is the user's training consent, sent as OpenAI's metadata on each request
    (None: the bot's default). A "no" keeps the conversation out of training from then on.
    """

    def __init__(
        self, base_url: str, *, api_key: str | None = None, user: str, timeout: float = 120
    ) -> None:
        self.user = user
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._openai = openai.OpenAI(
            base_url=f"{base_url.rstrip('/')}/v1",
            api_key=api_key or "none",
            timeout=timeout,
            max_retries=0,
        )
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close both connection pools; a client used `with` closes them on leaving."""
        self._openai.close()
        self._http.close()

    def __enter__(self) -> "BotClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ask(
        self,
        messages: Sequence[dict[str, str]],
        *,
        conversation_id: uuid.UUID | None = None,
        parent_id: uuid.UUID | None = None,
        allow_data_use: bool | None = None,
        **sampling: Any,
    ) -> Answer:
        with _refusals():
            completion = self._openai.chat.completions.create(
                model="tuneloop",
                messages=list(messages),
                user=self.user,
                metadata=_consent(allow_data_use) or openai.omit,
                extra_body=_thread(conversation_id, parent_id),
                **sampling,
            )
        text = completion.choices[0].message.content or ""
        return Answer.from_ids(text, completion.model_extra["tuneloop"])

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        *,
        conversation_id: uuid.UUID | None = None,
        parent_id: uuid.UUID | None = None,
        allow_data_use: bool | None = None,
        **sampling: Any,
    ) -> AnswerStream:
        with _refusals():
            chunks = self._openai.chat.completions.create(
                model="tuneloop",
                messages=list(messages),
                user=self.user,
                stream=True,
                metadata=_consent(allow_data_use) or openai.omit,
                extra_body=_thread(conversation_id, parent_id),
                **sampling,
            )
        return AnswerStream(chunks)

    def regenerate(
        self, message_id: uuid.UUID, *, allow_data_use: bool | None = None, **sampling: Any
    ) -> Answer:
        body = {"message_id": str(message_id), "user": self.user, **sampling}
        if metadata := _consent(allow_data_use):
            body["metadata"] = metadata
        payload = self._post("/v1/chat/regenerate", body)
        return Answer.from_ids(payload["choices"][0]["message"]["content"], payload["tuneloop"])

    def rate(
        self,
        message_id: uuid.UUID,
        kind: str,
        *,
        value: int | None = None,
        text: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "message_id": str(message_id),
            "kind": kind,
            "value": value,
            "text": text,
            "user": self.user,
            "idempotency_key": idempotency_key,
        }
        return self._post("/v1/feedback", body)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(path, json=body)
        except httpx.TransportError as exc:
            raise BotError(f"the bot cannot be reached: {exc}") from exc
        if response.is_error:
            message = response.json().get("error", {}).get("message", response.text)
            raise BotError(f"{response.status_code}: {message}")
        return response.json()


class BotError(RuntimeError):
    """The bot refused a request; the message is the bot's own explanation."""


@contextmanager
def _refusals() -> Iterator[None]:
    """The `openai` client's errors as `BotError`s, with the bot's own message."""
    try:
        yield
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}  # the API's "error" object
        message = body.get("message", exc.message)
        raise BotError(f"{exc.status_code}: {message}") from exc
    except openai.APIConnectionError as exc:
        raise BotError(f"the bot cannot be reached: {exc}") from exc


def _consent(allow_data_use: bool | None) -> dict[str, str] | None:
    return None if allow_data_use is None else {"allow_data_use": str(allow_data_use).lower()}


def _thread(conversation_id: uuid.UUID | None, parent_id: uuid.UUID | None) -> dict[str, str]:
    ids = {"conversation_id": conversation_id, "parent_id": parent_id}
    return {key: str(value) for key, value in ids.items() if value is not None}
