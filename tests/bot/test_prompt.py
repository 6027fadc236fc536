"""Prompt building keeps the persona and the newest turns, and never exceeds the budget."""

import pytest

from bot.prompt import PromptTooLong, build_prompt

PERSONA = "You are a helpful shop assistant."
CONVERSATION = [
    {"role": "user", "content": "Hello there"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "When do you open on Saturday?"},
    {"role": "assistant", "content": "At ten in the morning."},
    {"role": "user", "content": "And on Sunday?"},
]


def render(tokenizer, messages):
    prompt = build_prompt(tokenizer, system_prompt=PERSONA, messages=messages, budget=10_000)
    return prompt.token_ids


def test_everything_is_kept_when_it_fits_exactly(tiny_engine):
    tokenizer = tiny_engine.tokenizer
    full = render(tokenizer, CONVERSATION)
    prompt = build_prompt(tokenizer, system_prompt=PERSONA, messages=CONVERSATION, budget=len(full))
    assert prompt.token_ids == full and prompt.dropped_messages == 0


def test_one_token_less_drops_the_oldest_exchange_and_keeps_the_persona(tiny_engine):
    tokenizer = tiny_engine.tokenizer
    full = render(tokenizer, CONVERSATION)
    prompt = build_prompt(
        tokenizer, system_prompt=PERSONA, messages=CONVERSATION, budget=len(full) - 1
    )
    assert prompt.token_ids == render(tokenizer, CONVERSATION[2:])
    assert prompt.dropped_messages == 2  # a kept context starts with a user turn
    assert len(prompt.token_ids) <= len(full) - 1
    text = tokenizer.decode(prompt.token_ids)
    assert PERSONA in text and "Hello there" not in text and "And on Sunday?" in text


def test_the_last_user_message_alone_is_the_minimum(tiny_engine):
    tokenizer = tiny_engine.tokenizer
    last_only = render(tokenizer, CONVERSATION[-1:])
    prompt = build_prompt(
        tokenizer, system_prompt=PERSONA, messages=CONVERSATION, budget=len(last_only)
    )
    assert prompt.token_ids == last_only and prompt.dropped_messages == 4
    with pytest.raises(PromptTooLong, match="budget"):
        build_prompt(
            tokenizer, system_prompt=PERSONA, messages=CONVERSATION, budget=len(last_only) - 1
        )


def test_client_system_messages_join_the_persona(tiny_engine):
    tokenizer = tiny_engine.tokenizer
    messages = [{"role": "system", "content": "Answer in one line."}, *CONVERSATION[-1:]]
    prompt = build_prompt(tokenizer, system_prompt=PERSONA, messages=messages, budget=10_000)
    text = tokenizer.decode(prompt.token_ids)
    assert text.index(PERSONA) < text.index("Answer in one line.") < text.index("And on Sunday?")
