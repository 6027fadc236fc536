"""Normalized prompts: the same question asked in different conversations shares one key."""

import hashlib
import re

_NOT_WORD = re.compile(r"[^0-9a-z]+")


def normalize_prompt(text: str) -> str:
    """Lower case, punctuation and extra spaces gone: "Where's my order?!" -> "where s my order"."""
    return _NOT_WORD.sub(" ", text.lower()).strip()


def prompt_key(text: str) -> str:
    """A short, indexable key of the normalized prompt."""
    return hashlib.sha256(normalize_prompt(text).encode()).hexdigest()[:32]
