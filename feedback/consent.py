"""Training consent after a conversation started: a user may withdraw it, never grant it late."""

import uuid

import sqlalchemy as sa
from sqlmodel import Session, col

from feedback.errors import UnknownConversation
from feedback.models import Conversation


def withdraw_consent(session: Session, *, conversation_id: uuid.UUID) -> None:
    """Keep the conversation out of training from now on (pairs are built with the filter).

    Consent is given when a conversation starts; a later "yes" does not cover what was said
    under a "no", so there is no function to grant it again.
    """
    done = session.execute(
        sa.update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(training_consent=False)
    )
    if done.rowcount == 0:
        raise UnknownConversation(f"no conversation with id {conversation_id}")
    session.commit()
