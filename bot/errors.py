"""Errors to HTTP, in one place: every client mistake is a 4xx in OpenAI's error shape."""

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from bot.rate_limits import RateLimited
from feedback.errors import IdempotencyConflict

_bearer = HTTPBearer(auto_error=False)


def error_response(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(part) for part in error['loc'] if part != 'body') or 'body'}: "
            f"{error['msg']}"
            for error in exc.errors()
        ]
        first = exc.errors()[0]["loc"] if exc.errors() else ()
        param = ".".join(str(part) for part in first if part != "body") or None
        return error_response(400, "; ".join(problems), "invalid_request_error", param)

    @app.exception_handler(IdempotencyConflict)
    async def conflict(_: Request, exc: IdempotencyConflict) -> JSONResponse:
        return error_response(409, str(exc), "conflict_error")

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        response = error_response(429, str(exc), "rate_limit_error")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(LookupError)
    async def not_found(_: Request, exc: LookupError) -> JSONResponse:
        return error_response(404, str(exc), "not_found_error")

    @app.exception_handler(ValueError)
    async def invalid_value(_: Request, exc: ValueError) -> JSONResponse:
        return error_response(400, str(exc), "invalid_request_error")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        response = error_response(exc.status_code, str(exc.detail), "invalid_request_error")
        response.headers.update(exc.headers or {})
        return response


def require_api_key(keys: list[str], *, closed: str | None = None) -> Callable:
    """A dependency that lets a request in only with one of `keys` as its Bearer token, and
    returns that token. Without keys every request is let in (None), or, given `closed`,
    refused with 403 and that message."""

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str | None:
        if not keys:
            if closed is not None:
                raise HTTPException(403, closed)
            return None
        given = credentials.credentials if credentials else ""
        if not any(hmac.compare_digest(given.encode(), key.encode()) for key in keys):
            raise HTTPException(
                401,
                "a valid API key is required: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return given

    return check
