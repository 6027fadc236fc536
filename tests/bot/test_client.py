"""The bot's own client: a client used `with` holds its connections only while inside."""

import pytest

from bot.client import BotClient

QUESTION = [{"role": "user", "content": "How long do I have to return an item?"}]


def test_a_client_used_with_closes_its_connections_on_leaving(live_bot):
    with BotClient(live_bot.url, user="someone") as client:
        answer = client.ask(QUESTION, max_tokens=5)
        client.rate(answer.message_id, "thumbs", value=1)
    with pytest.raises(RuntimeError, match="closed"):
        client.ask(QUESTION, max_tokens=5)
    with pytest.raises(RuntimeError, match="closed"):
        client.rate(answer.message_id, "thumbs", value=1)
