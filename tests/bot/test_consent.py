"""Training consent on the API, OpenAI's way: `metadata.allow_data_use` on a chat request."""

import uuid

import httpx
import openai
import pytest

from feedback.models import Conversation
from tests.bot.conftest import count_rows
from tests.bot.test_api import QUESTION, client, stored


def ask(bot, metadata=None, **body) -> httpx.Response:
    body = {"messages": QUESTION, "max_tokens": 4} | body
    if metadata is not None:
        body["metadata"] = metadata
    return httpx.post(f"{bot.url}/v1/chat/completions", json=body, timeout=60)


def consent_of(bot, response: httpx.Response) -> bool:
    assert response.status_code == 200, response.text
    conversation_id = uuid.UUID(response.json()["tuneloop"]["conversation_id"])
    [conversation] = stored(bot, Conversation, id=conversation_id)
    return conversation.training_consent


def test_a_no_through_the_openai_client_keeps_the_conversation_out_of_training(live_bot):
    completion = client(live_bot).chat.completions.create(
        model="tiny", messages=QUESTION, max_tokens=4, metadata={"allow_data_use": "false"}
    )
    conversation_id = uuid.UUID(completion.model_extra["tuneloop"]["conversation_id"])
    [conversation] = stored(live_bot, Conversation, id=conversation_id)
    assert conversation.training_consent is False


@pytest.mark.parametrize(
    ("value", "consent"),
    [("true", True), ("FALSE", False), ("True", True), (False, False), (True, True)],
)
def test_strings_in_any_case_and_json_booleans_are_consent(live_bot, value, consent):
    assert consent_of(live_bot, ask(live_bot, {"allow_data_use": value})) is consent


@pytest.mark.parametrize("default", [True, False])
def test_without_a_say_a_new_conversation_takes_the_settings_default(governed_bot, default):
    with governed_bot(default_consent=default) as bot:
        assert consent_of(bot, ask(bot)) is default
        assert consent_of(bot, ask(bot, {"topic": "returns"})) is default


@pytest.mark.parametrize("value", ["yes", "0", "", 1, None, ["true"]])
def test_other_consent_values_are_refused_naming_the_accepted_ones(live_bot, value):
    response = ask(live_bot, {"allow_data_use": value})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert '"true" or "false"' in error["message"] and error["param"] == "metadata"
    assert count_rows(live_bot, Conversation) == 0


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({f"key{index}": "x" for index in range(17)}, "at most 16 pairs"),
        ({"note": "x" * 513}, "at most 512"),
        ({"k" * 65: "x"}, "at most 64 characters"),
        ({"note": 3}, "metadata.note must be a string"),
        ({"note": True}, "metadata.note must be a string"),
        (["allow_data_use"], "an object of string keys"),
    ],
)
def test_metadata_beyond_openais_limits_is_refused(live_bot, metadata, fragment):
    response = ask(live_bot, metadata)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_metadata_within_openais_limits_is_accepted(live_bot):
    metadata = {f"key{index}": "x" * 512 for index in range(15)} | {"allow_data_use": "false"}
    assert consent_of(live_bot, ask(live_bot, metadata)) is False


def test_a_later_no_withdraws_consent_and_a_later_yes_does_not_restore_it(live_bot):
    bot = client(live_bot)
    first = bot.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=4)
    ids = first.model_extra["tuneloop"]
    conversation_id = uuid.UUID(ids["conversation_id"])
    [conversation] = stored(live_bot, Conversation, id=conversation_id)
    assert conversation.training_consent is True

    def follow_up(parent_id: str, consent: str | None) -> str:
        answer = bot.chat.completions.create(
            model="tiny",
            messages=[*QUESTION, {"role": "assistant", "content": "…"}, *QUESTION],
            max_tokens=4,
            metadata={"allow_data_use": consent} if consent else openai.omit,
            extra_body={"conversation_id": ids["conversation_id"], "parent_id": parent_id},
        )
        return answer.model_extra["tuneloop"]["message_id"]

    withdrawn = follow_up(ids["message_id"], "false")
    [conversation] = stored(live_bot, Conversation, id=conversation_id)
    assert conversation.training_consent is False
    follow_up(follow_up(withdrawn, "true"), None)
    [conversation] = stored(live_bot, Conversation, id=conversation_id)
    assert conversation.training_consent is False


def test_a_regenerate_with_a_no_withdraws_consent_too(live_bot):
    completion = client(live_bot).chat.completions.create(
        model="tiny", messages=QUESTION, max_tokens=4
    )
    ids = completion.model_extra["tuneloop"]
    response = httpx.post(
        f"{live_bot.url}/v1/chat/regenerate",
        json={"message_id": ids["message_id"], "metadata": {"allow_data_use": "false"}},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    [conversation] = stored(live_bot, Conversation, id=uuid.UUID(ids["conversation_id"]))
    assert conversation.training_consent is False
