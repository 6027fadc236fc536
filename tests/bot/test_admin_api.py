"""The admin API: DELETE /v1/users/{user_id}/data, opened only by an admin key, erases a user."""

import hashlib
from urllib.parse import quote

import httpx
import pytest
from sqlmodel import select

from bot.admin_api import admin_actor
from feedback import pseudonymize
from feedback.models import ActorRole, AuditEvent, Conversation, FeedbackEvent, Message
from tests.bot.test_api import client, stored

ADMIN_KEY = "sk-admin-0123456789"
API_KEY = "sk-user-0123456789"


def erase(bot, user_id: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.delete(f"{bot.url}/v1/users/{user_id}/data", headers=headers, timeout=120)


def ask(bot, user: str, text: str, key: str = "unused") -> str:
    completion = client(bot, key).chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": text}], max_tokens=4, user=user
    )
    return completion.model_extra["tuneloop"]["message_id"]


@pytest.mark.parametrize("api_keys", [(), (API_KEY,)])
def test_without_admin_keys_the_admin_api_is_closed(governed_bot, api_keys):
    with governed_bot(api_keys=api_keys) as bot:
        for key in (None, API_KEY, ADMIN_KEY):
            response = erase(bot, "alice", key)
            assert response.status_code == 403, response.text
            assert "admin API is closed" in response.json()["error"]["message"]


def test_the_admin_api_wants_an_admin_key_not_an_api_key(governed_bot):
    with governed_bot(api_keys=(API_KEY,), admin_api_keys=[ADMIN_KEY]) as bot:
        ask(bot, "alice", "Do you ship to Iceland?", key=API_KEY)
        for key in (None, "wrong", API_KEY):
            response = erase(bot, "alice", key)
            assert response.status_code == 401, response.text
            assert response.headers["WWW-Authenticate"] == "Bearer"
        assert len(stored(bot, Conversation)) == 1
        assert erase(bot, "alice", ADMIN_KEY).status_code == 200
        assert stored(bot, Conversation) == []


def test_any_user_id_can_be_erased_even_one_with_a_slash(governed_bot):
    with governed_bot(admin_api_keys=[ADMIN_KEY]) as bot:
        ask(bot, "team/alice@example.com", "Do you ship to Iceland?")
        response = erase(bot, quote("team/alice@example.com", safe=""), ADMIN_KEY)
        assert response.status_code == 200, response.text
        assert response.json()["rows"]["conversations"] == 1


def test_an_admin_erases_a_user_through_the_api(governed_bot):
    with governed_bot(admin_api_keys=[ADMIN_KEY]) as bot:
        for text in ("Alice asks about her order 4411.", "Alice asks about returns."):
            answer = ask(bot, "alice", text)
            httpx.post(
                f"{bot.url}/v1/feedback",
                json={"message_id": answer, "kind": "thumbs", "value": 1, "user": "alice"},
            ).raise_for_status()
        ask(bot, "bob", "Bob asks about shipping.")
        with bot.store.session() as session:
            alice = pseudonymize(session, "alice")

        response = erase(bot, "alice", ADMIN_KEY)

        assert response.status_code == 200, response.text
        report = response.json()
        assert report["rows"]["conversations"] == 2 and report["rows"]["feedback_events"] == 2
        assert "Alice" not in response.text and alice not in response.text
        assert stored(bot, Conversation, user_pseudonym=alice) == []
        assert stored(bot, FeedbackEvent, user_pseudonym=alice) == []
        assert not any("Alice" in message.content for message in stored(bot, Message))
        assert [m.content for m in stored(bot, Message) if m.role == "user"] == [
            "Bob asks about shipping."
        ]
        with bot.store.session() as session:
            [audit] = session.exec(select(AuditEvent).where(AuditEvent.action == "erase")).all()
        assert audit.role == ActorRole.admin and audit.actor == admin_actor(ADMIN_KEY)
        assert ADMIN_KEY not in audit.actor
        assert audit.actor.endswith(hashlib.sha256(ADMIN_KEY.encode()).hexdigest()[:8])
        assert report["receipt"] in audit.target
