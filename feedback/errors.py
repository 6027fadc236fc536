"""Typed errors of the feedback store; each derives from the builtin it means."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class UnknownConversation(StoreError, LookupError):
    """A write named a conversation id that is not in the store."""


class UnknownMessage(StoreError, LookupError):
    """A write named a message id that is not in the store."""


class UnknownFeedback(StoreError, LookupError):
    """A review named a feedback event id that is not in the store."""


class UnknownModelVersion(StoreError, LookupError):
    """A registry call named a model version that is not in the store."""


class UnknownProfile(StoreError, LookupError):
    """A training profile was asked for by a name that is not in the store."""


class CanaryInProgress(StoreError, RuntimeError):
    """A second canary was asked for while one is still being compared."""


class InvalidTurn(StoreError, ValueError):
    """A logged turn does not fit its conversation (empty text, wrong parent)."""


class InvalidFeedback(StoreError, ValueError):
    """A feedback event's kind, value and text do not fit together."""


class InvalidReview(StoreError, ValueError):
    """An operator review is missing what its action needs."""


class IdempotencyConflict(StoreError, ValueError):
    """An idempotency key was reused for a different request."""


class SchemaOutOfDate(StoreError, RuntimeError):
    """The database schema is older than this code: run `tuneloop db upgrade`."""


Shape = TypeVar("Shape", bound=BaseModel)


def validated(shape: type[Shape], error: type[StoreError], **fields: Any) -> Shape:
    """Build `shape` from `fields`, turning pydantic's report into the store's typed error."""
    try:
        return shape.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or shape.__name__}: {problem['msg']}"
            for problem in exc.errors()
        )
        raise error(problems) from exc
