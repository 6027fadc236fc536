"""The bot's HTTP API through the real `openai` client on loopback, and straight HTTP for errors."""

import uuid

import httpx
import openai
import pytest
from sqlmodel import select

from feedback.models import FeedbackEvent, Message, Role
from tests.live_bot import API_KEY

QUESTION = [{"role": "user", "content": "How long do I have to return an item?"}]


def client(bot, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{bot.url}/v1", api_key=key, max_retries=0)


def stored(bot, model, **where):
    bot.logger.flush()
    with bot.store.session() as session:
        query = select(model)
        for field, value in where.items():
            query = query.where(getattr(model, field) == value)
        return session.exec(query).all()


def test_a_completion_is_answered_logged_and_carries_its_ids(live_bot):
    completion = client(live_bot).chat.completions.create(
        model="tiny", messages=QUESTION, temperature=0.7, max_tokens=8, seed=3, user="alice"
    )
    ids = completion.model_extra["tuneloop"]
    [answer] = stored(live_bot, Message, id=uuid.UUID(ids["message_id"]))
    [question] = stored(live_bot, Message, id=uuid.UUID(ids["prompt_message_id"]))

    assert completion.choices[0].message.content == answer.content
    assert completion.choices[0].finish_reason in {"stop", "length"}
    assert question.content == QUESTION[0]["content"] and question.role == Role.user
    assert answer.parent_id == question.id
    assert str(answer.conversation_id) == ids["conversation_id"]
    assert answer.model_version_id == live_bot.version_id == ids["model_version_id"]
    assert answer.sampling["temperature"] == 0.7 and answer.sampling["seed"] == 3
    assert answer.completion_tokens == completion.usage.completion_tokens <= 8
    assert answer.latency_ms > 0


def test_the_users_messages_are_logged_with_their_sentiment(live_bot):
    asked = {
        "Thank you so much, this is wonderful help!": 0.5,
        "This is useless and I hate waiting.": -0.5,
    }
    for text in asked:
        client(live_bot).chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": text}], max_tokens=4
        )
    for text, bound in asked.items():
        [message] = stored(live_bot, Message, content=text)
        assert message.sentiment is not None
        assert message.sentiment > bound if bound > 0 else message.sentiment < bound


def test_a_streamed_answer_equals_the_logged_one(live_bot):
    stream = client(live_bot).chat.completions.create(
        model="tiny", messages=QUESTION, stream=True, max_tokens=10
    )
    chunks = list(stream)
    ids = chunks[0].model_extra["tuneloop"]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    [answer] = stored(live_bot, Message, id=uuid.UUID(ids["message_id"]))
    assert text.strip() == answer.content
    assert chunks[-1].choices[0].finish_reason in {"stop", "length"}


def test_a_follow_up_continues_the_conversation(live_bot):
    bot = client(live_bot)
    first = bot.chat.completions.create(model="tiny", messages=QUESTION)
    ids = first.model_extra["tuneloop"]
    messages = [
        *QUESTION,
        {"role": "assistant", "content": first.choices[0].message.content or "…"},
        {"role": "user", "content": "Thanks!"},
    ]
    second = bot.chat.completions.create(
        model="tiny",
        messages=messages,
        extra_body={"conversation_id": ids["conversation_id"], "parent_id": ids["message_id"]},
    )
    follow_up = second.model_extra["tuneloop"]
    [prompt] = stored(live_bot, Message, id=uuid.UUID(follow_up["prompt_message_id"]))
    assert follow_up["conversation_id"] == ids["conversation_id"]
    assert str(prompt.parent_id) == ids["message_id"]


def test_feedback_is_stored_once_per_idempotency_key(live_bot):
    completion = client(live_bot).chat.completions.create(model="tiny", messages=QUESTION)
    message_id = completion.model_extra["tuneloop"]["message_id"]
    rating = {
        "message_id": message_id,
        "kind": "stars",
        "value": 4,
        "user": "alice",
        "idempotency_key": "rating-1",
    }
    first = httpx.post(f"{live_bot.url}/v1/feedback", json=rating)
    retry = httpx.post(f"{live_bot.url}/v1/feedback", json=rating)
    conflict = httpx.post(f"{live_bot.url}/v1/feedback", json=rating | {"value": 1})

    assert first.status_code == retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"]
    assert conflict.status_code == 409 and "rating-1" in conflict.json()["error"]["message"]
    assert len(stored(live_bot, FeedbackEvent, message_id=uuid.UUID(message_id))) == 1


def test_regenerate_logs_a_sibling_and_the_regenerate_event(live_bot):
    completion = client(live_bot).chat.completions.create(model="tiny", messages=QUESTION)
    ids = completion.model_extra["tuneloop"]
    response = httpx.post(
        f"{live_bot.url}/v1/chat/regenerate", json={"message_id": ids["message_id"], "seed": 1}
    )
    assert response.status_code == 200, response.text
    regenerated = response.json()["tuneloop"]
    [sibling] = stored(live_bot, Message, id=uuid.UUID(regenerated["message_id"]))
    assert str(sibling.parent_id) == ids["prompt_message_id"] == regenerated["prompt_message_id"]
    [event] = stored(live_bot, FeedbackEvent, message_id=uuid.UUID(ids["message_id"]))
    assert event.kind == "regenerate"


def test_models_health_and_metrics(live_bot):
    models = client(live_bot).models.list()
    assert [model.id for model in models.data] == ["tiny"]
    assert httpx.get(f"{live_bot.url}/healthz").json()["model_version_id"] == live_bot.version_id
    completion = client(live_bot).chat.completions.create(model="tiny", messages=QUESTION)
    message_id = completion.model_extra["tuneloop"]["message_id"]
    httpx.post(
        f"{live_bot.url}/v1/feedback",
        json={"message_id": message_id, "kind": "thumbs", "value": 1},
    )
    metrics = httpx.get(f"{live_bot.url}/metrics").text
    assert 'tuneloop_requests_total{endpoint="/v1/chat/completions",status="200"} 1.0' in metrics
    assert 'tuneloop_feedback_total{kind="thumbs"} 1.0' in metrics
    assert f'tuneloop_active_model_version{{name="tiny"}} {live_bot.version_id}.0' in metrics
    assert "tuneloop_completion_tokens_total" in metrics


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"messages": [{"role": "wizard", "content": "hi"}]}, 400, "role"),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "user", "content": "   "}]}, 400, "empty"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, 400, "last message"),
        ({"messages": [{"role": "user", "content": "x" * 9000}]}, 400, "content"),
        ({"messages": [{"role": "user", "content": "word " * 1500}]}, 400, "budget"),
        ({"messages": QUESTION, "temperature": -1}, 400, "temperature"),
        ({"messages": QUESTION, "conversation_id": str(uuid.uuid4())}, 404, "conversation"),
        ({"messages": QUESTION, "n": 3}, 400, "n"),
    ],
)
def test_bad_chat_requests_are_4xx_with_a_message(live_bot, body, status, fragment):
    response = httpx.post(f"{live_bot.url}/v1/chat/completions", json=body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"message_id": str(uuid.uuid4()), "kind": "thumbs", "value": 1}, 404, "no message"),
        ({"kind": "thumbs", "value": 1}, 400, "message_id"),
        ({"message_id": "not-a-uuid", "kind": "thumbs", "value": 1}, 400, "message_id"),
        ({"kind": "stars", "value": 9}, 400, "stars feedback needs a value"),
        ({"kind": "correction", "text": ""}, 400, "correction feedback needs text"),
        ({"kind": "love", "value": 1}, 400, "kind"),
    ],
)
def test_bad_feedback_is_4xx_with_a_message(live_bot, body, status, fragment):
    if "message_id" not in body and fragment not in {"message_id"}:
        completion = client(live_bot).chat.completions.create(model="tiny", messages=QUESTION)
        body = body | {"message_id": completion.model_extra["tuneloop"]["message_id"]}
    response = httpx.post(f"{live_bot.url}/v1/feedback", json=body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]["message"]


def test_invalid_json_is_a_400(live_bot):
    response = httpx.post(
        f"{live_bot.url}/v1/chat/completions",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]["message"]


def test_regenerating_a_user_message_is_refused(live_bot):
    completion = client(live_bot).chat.completions.create(model="tiny", messages=QUESTION)
    question_id = completion.model_extra["tuneloop"]["prompt_message_id"]
    response = httpx.post(f"{live_bot.url}/v1/chat/regenerate", json={"message_id": question_id})
    assert response.status_code == 400 and "only answers" in response.json()["error"]["message"]


def test_api_keys_are_required_when_configured(locked_bot):
    with pytest.raises(openai.AuthenticationError):
        client(locked_bot, key="wrong").chat.completions.create(model="tiny", messages=QUESTION)
    assert httpx.get(f"{locked_bot.url}/v1/models").status_code == 401
    completion = client(locked_bot, key=API_KEY).chat.completions.create(
        model="tiny", messages=QUESTION
    )
    assert completion.choices[0].message.content is not None
    assert httpx.get(f"{locked_bot.url}/healthz").status_code == 200  # probes need no key
