"""Prompt building: the persona first, then as many of the latest turns as the budget holds."""

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase


class PromptTooLong(ValueError):
    """Even the system prompt and the last user message alone exceed the context budget."""


@dataclass(frozen=True)
class Prompt:
    token_ids: list[int]
    dropped_messages: int


def build_prompt(
    tokenizer: PreTrainedTokenizerBase,
    *,
    system_prompt: str,
    messages: Sequence[dict[str, str]],
    budget: int,
) -> Prompt:
    """Render `messages` with the chat template in at most `budget` tokens.

    The persona (`system_prompt`, plus any system messages the client sent) is always kept;
    the oldest other turns are dropped first, and the last user message never.
    """
    system = "\n".join(
        [system_prompt, *(m["content"] for m in messages if m["role"] == "system")]
    ).strip()
    turns = [dict(m) for m in messages if m["role"] != "system"]
    for start in range(len(turns)):
        kept = turns[start:]
        if kept[0]["role"] != "user":  # a context starts with the user, as chat templates expect
            continue
        token_ids = _render(tokenizer, [{"role": "system", "content": system}, *kept])
        if len(token_ids) <= budget:
            return Prompt(token_ids=token_ids, dropped_messages=start)
    raise PromptTooLong(
        f"the system prompt and the last message need more than the {budget}-token context "
        "budget: send a shorter message"
    )


def _render(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]
