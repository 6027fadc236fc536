"""The bot's side of the write API: start conversations and log turns, validated and atomic."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from feedback.db import pseudonymize
from feedback.errors import InvalidTurn, UnknownConversation, UnknownMessage, validated
from feedback.models import Conversation, Message, Role, TurnCreate
from feedback.normalize import prompt_key


def start_conversation(
    session: Session,
    *,
    user_id: str,
    client: str = "api",
    training_consent: bool = True,
    conversation_id: uuid.UUID | None = None,
) -> Conversation:
    """Open a conversation for `user_id` (stored only as a pseudonym)."""
    conversation = Conversation(
        user_pseudonym=pseudonymize(session, user_id),
        client=client,
        training_consent=training_consent,
    )
    if conversation_id is not None:
        existing = session.get(Conversation, conversation_id)
        if existing is not None:  # a retried start
            return existing
        conversation.id = conversation_id
    session.add(conversation)
    session.commit()
    return conversation


def log_turn(
    session: Session,
    *,
    conversation_id: uuid.UUID,
    answer: str,
    prompt: str | None = None,
    parent_id: uuid.UUID | None = None,
    **details: Any,
) -> tuple[Message | None, Message]:
    """Log one exchange: the user's `prompt` and the bot's `answer` to it.

    With `prompt=None` the answer regenerates an earlier one: `parent_id` is then the
    user's message, and the new answer becomes a sibling of the old. `details` are the
    other fields of `TurnCreate` (ids, model version, sampling, latency, token counts).
    """
    turn = validated(
        TurnCreate,
        InvalidTurn,
        conversation_id=conversation_id,
        answer=answer,
        prompt=prompt,
        parent_id=parent_id,
        **details,
    )
    return log_turns(session, [turn])[0]


def log_turns(
    session: Session, turns: Sequence[TurnCreate]
) -> list[tuple[Message | None, Message]]:
    """Log several turns in one transaction; all are written or none.

    A turn whose answer id is already stored is a retry and is not written twice.
    """
    _require_conversations(session, {turn.conversation_id for turn in turns})
    already_logged = _existing_messages(session, {turn.answer_id for turn in turns})
    known = _existing_messages(session, {turn.parent_id for turn in turns if turn.parent_id})
    logged = []
    for turn in turns:
        if turn.answer_id in already_logged:
            answer = already_logged[turn.answer_id]
            logged.append((known.get(answer.parent_id), answer))
            continue
        prompt_message = _prompt_message(turn, known.get(turn.parent_id))
        if prompt_message is not None:
            session.add(prompt_message)
            known[prompt_message.id] = prompt_message
        answer = Message(
            id=turn.answer_id,
            conversation_id=turn.conversation_id,
            parent_id=prompt_message.id if prompt_message else turn.parent_id,
            role=Role.assistant,
            content=turn.answer,
            **turn.model_dump(
                include={
                    "model_version_id",
                    "sampling",
                    "latency_ms",
                    "prompt_tokens",
                    "completion_tokens",
                    "guard_flags",
                }
            ),
        )
        session.add(answer)
        known[answer.id] = answer
        logged.append((prompt_message, answer))
    session.commit()
    return logged


def check_follow_up(
    session: Session, *, conversation_id: uuid.UUID, parent_id: uuid.UUID | None
) -> Message | None:
    """Raise what `log_turn` would for a new prompt after `parent_id`, before answering it;
    return the message it follows (None for none)."""
    _require_conversations(session, {conversation_id})
    probe = TurnCreate(conversation_id=conversation_id, parent_id=parent_id, prompt="?", answer="?")
    parent = session.get(Message, parent_id) if parent_id else None
    _prompt_message(probe, parent)
    return parent


def message_thread(session: Session, message_id: uuid.UUID) -> list[Message]:
    """The messages from the start of the conversation down to `message_id`, in order."""
    message = session.get(Message, message_id)
    if message is None:
        raise UnknownMessage(f"no message with id {message_id}")
    query = select(Message).where(Message.conversation_id == message.conversation_id)
    by_id = {m.id: m for m in session.exec(query)}
    thread = [message]
    while thread[-1].parent_id is not None:
        thread.append(by_id[thread[-1].parent_id])
    return thread[::-1]


def _prompt_message(turn: TurnCreate, parent: Message | None) -> Message | None:
    if turn.parent_id is not None and parent is None:
        raise InvalidTurn(f"parent message {turn.parent_id} does not exist")
    if parent is not None and parent.conversation_id != turn.conversation_id:
        raise InvalidTurn(f"parent message {parent.id} belongs to another conversation")
    if turn.prompt is None:  # a regeneration: a new answer to an existing user message
        if parent is None or parent.role != Role.user:
            raise InvalidTurn("a regenerated answer needs parent_id: the user message it answers")
        return None
    if parent is not None and parent.role == Role.user:
        raise InvalidTurn("a new prompt must follow an answer, not another user message")
    return Message(
        id=turn.prompt_id,
        conversation_id=turn.conversation_id,
        parent_id=turn.parent_id,
        role=Role.user,
        content=turn.prompt,
        prompt_key=prompt_key(turn.prompt),
        sentiment=turn.prompt_sentiment,
    )


def _require_conversations(session: Session, ids: set[uuid.UUID]) -> None:
    found = set(session.exec(select(Conversation.id).where(col(Conversation.id).in_(ids))))
    if missing := ids - found:
        raise UnknownConversation(f"no conversation with id {', '.join(map(str, missing))}")


def _existing_messages(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Message]:
    if not ids:
        return {}
    rows = session.exec(select(Message).where(col(Message.id).in_(ids)))
    return {message.id: message for message in rows}
