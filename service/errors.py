"""Package errors to HTTP: every error body is {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from copilot.errors import CopilotError, HistoryUnavailable
from copilot.feedback import FeedbackUnavailable
from copilot.io import InvalidInput
from kb.errors import (
    EntryNotFound,
    InvalidEntry,
    KBError,
    KBImportError,
    ShopNotFound,
    StoreUnavailable,
)

_STATUS: tuple[tuple[type[KBError], int, str], ...] = (
    (ShopNotFound, 404, "shop_not_found"),
    (EntryNotFound, 404, "entry_not_found"),
    (InvalidEntry, 422, "invalid_entry"),
    (KBImportError, 422, "import_failed"),
    (StoreUnavailable, 503, "store_unavailable"),
)


class ServiceError(Exception):
    """An HTTP error raised by the service itself (auth, limits, missing conversations...)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.retry_after = retry_after  # seconds, sent as Retry-After (429: 60 unless given)


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": {"code": code, "message": message, "field": field}}
    )


log = logging.getLogger("copilot.service")
# What a client is told when the store is down; the detail (hosts, socket paths) goes to the log.
STORE_DOWN = "the store (Redis) is unavailable; retry shortly"


async def _kb_error(request: Request, exc: Exception) -> JSONResponse:
    status, code = 400, "kb_error"
    for error_type, error_status, error_code in _STATUS:
        if isinstance(exc, error_type):
            status, code = error_status, error_code
            break
    if isinstance(exc, StoreUnavailable):
        log.warning("store unavailable: %s", exc)
        return error_response(status, code, STORE_DOWN)
    return error_response(status, code, str(exc), getattr(exc, "field", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        where = f" at position {first['loc'][-1]}" if len(first.get("loc", ())) > 1 else ""
        return error_response(400, "invalid_json", f"the body is not valid JSON{where}")
    field = ".".join(str(part) for part in first["loc"] if part not in ("body", "query", "path"))
    return error_response(422, "invalid_request", f"{field}: {first['msg']}", field or None)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    response = error_response(exc.status, exc.code, exc.message, exc.field)
    retry_after = exc.retry_after or (60 if exc.status == 429 else None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _copilot_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InvalidInput):
        return error_response(422, "invalid_request", str(exc), exc.field)
    if isinstance(exc, HistoryUnavailable | FeedbackUnavailable):
        # their text quotes Redis's error, which names the server's socket path or host
        log.warning("store unavailable: %s", exc)
        return error_response(503, "store_unavailable", STORE_DOWN)
    return error_response(500, "copilot_error", str(exc))


async def _redis_error(request: Request, exc: Exception) -> JSONResponse:
    """Redis down where the route cannot do without it (reads and writes of state). Its
    error text (socket path, host, error class) goes to the log only."""
    log.warning("redis unavailable on %s: %r", request.url.path, exc)
    return error_response(503, "redis_unavailable", STORE_DOWN)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404/405 (no such path or method) in our error shape."""
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    defaults = {
        "Not Found": f"no such path: {request.url.path}",
        "Method Not Allowed": f"{request.method} is not allowed on {request.url.path}",
    }
    message = defaults.get(str(exc.detail), str(exc.detail))
    response = error_response(exc.status_code, codes.get(exc.status_code, "http_error"), message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(redis.RedisError, _redis_error)
    app.add_exception_handler(ConnectionError, _redis_error)
    app.add_exception_handler(CopilotError, _copilot_error)
    app.add_exception_handler(KBError, _kb_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
