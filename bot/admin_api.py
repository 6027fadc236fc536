"""The admin API: erase a user's data (DELETE /v1/users/{user_id}/data), with an admin key."""

import hashlib
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from starlette.concurrency import run_in_threadpool

from bot.errors import require_api_key

Forget = Callable[[str, str], dict[str, Any]]
"""`forget(user_id, actor)`: erase everything stored on the user; returns the erasure report."""

log = logging.getLogger(__name__)


def admin_router(*, admin_keys: list[str], forget: Forget | None) -> APIRouter:
    """The admin routes, closed (403) without admin keys or without `forget` to call. The
    bot's ordinary API keys do not open them."""
    router = APIRouter(prefix="/v1", tags=["admin"])
    closed = None
    if not admin_keys or forget is None:
        admin_keys, closed = [], "the admin API is closed: this bot has no admin API keys set"
    admin_key = require_api_key(admin_keys, closed=closed)

    @router.delete("/users/{user_id:path}/data")  # an id may hold a slash
    async def erase_user(
        user_id: Annotated[str, Path(min_length=1, max_length=256)],
        key: Annotated[str, Depends(admin_key)],
    ) -> dict[str, Any]:
        """Erase the user's conversations, messages, feedback and what was derived from them;
        the answer is the erasure report (counts and ids, never the erased texts)."""
        actor = admin_actor(key)
        log.info("erasure requested by %s", actor)  # the user's id stays out of the logs
        return await run_in_threadpool(forget, user_id, actor)

    return router


def admin_actor(key: str) -> str:
    """The audit trail's name for an admin key: a short hash, never the key itself."""
    return f"api-admin-key:{hashlib.sha256(key.encode()).hexdigest()[:8]}"
