"""Errors as the API answers them: JSON `{"detail": "what is wrong and what to send instead"}`,
with the status `core.errors` gives each kind of failure. Never a stack trace."""

import logging
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from core.errors import MltsError, validation_message

log = logging.getLogger(__name__)
_JSON = "application/json"
_encode = msgspec.json.Encoder().encode


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode({"detail": detail}), status_code=status, media_type=_JSON, headers=headers)


def unexpected(exc: Exception, method: str, path: str) -> Response:
    """A 500 that names the kind of failure and nothing more; the stack trace goes to the log."""
    log.exception("unexpected error on %s %s", method, path, exc_info=exc)
    return error_response(500, f"internal error ({type(exc).__name__}); the server log has the details")


def install(app: FastAPI) -> None:
    @app.exception_handler(MltsError)
    async def _known(request: Request, exc: MltsError) -> Response:
        return error_response(exc.http_status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(422, validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}; see /docs for the endpoints"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}; see /docs"
        headers: Any = getattr(exc, "headers", None)
        return error_response(exc.status_code, detail, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return unexpected(exc, request.method, request.url.path)
