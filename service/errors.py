"""Errors to HTTP: every error body is {"error": {"code", "message", "field"}}.

The service's own errors:

    ServiceError        status, code, message, field (auth, limits, missing conversations...)
    └── KeyNotFound     no API key with that id (404; `copilot keys` prints it)

Other packages' errors are mapped here, once each:

    kb.errors.StoreUnavailable (copilot's HistoryUnavailable and FeedbackUnavailable are one)
                                    503 store_unavailable, the detail to the log only
    redis.RedisError, ConnectionError   503 redis_unavailable
    kb.errors.KBError               404 shop/entry not found, 422 invalid entry or import
    copilot.errors.InvalidInput     422 invalid_request; any other CopilotError 500
    RequestValidationError          422 invalid_request naming the field (400 for bad JSON)
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from copilot.errors import CopilotError, InvalidInput
from kb.errors import (
    EntryNotFound,
    InvalidEntry,
    KBError,
    KBImportError,
    ShopNotFound,
    StoreUnavailable,
)
from service.schemas import ErrorResponse, ImportErrorResponse

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


class KeyNotFound(ServiceError):
    def __init__(self, key_id: str) -> None:
        super().__init__(
            404, "key_not_found", f"no API key {key_id!r} (see `copilot keys list`)", "key_id"
        )
        self.key_id = key_id


def error_response(
    status: int, code: str, message: str, field: str | None = None, request: Request | None = None
) -> JSONResponse:
    """The error body; with `request`, in the shape its route documents for this status."""
    content: dict[str, Any] = {"error": {"code": code, "message": message, "field": field}}
    if request is not None and _documented_model(request, status) is ImportErrorResponse:
        # The KB import documents its 422 with the row errors: a client reads them from every
        # 422 of the route, so an error that is not about a row (no file, a bad form field)
        # carries an empty list rather than a body of another shape.
        content["row_errors"] = []
    return JSONResponse(status_code=status, content=content)


def _documented_model(request: Request, status: int) -> Any:
    responses = getattr(request.scope.get("route"), "responses", None) or {}
    return (responses.get(status) or responses.get(str(status)) or {}).get("model")


# A 429 says when to come back (the rate limit's window is a minute).
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: these error statuses, each with the one error body."""
    return {
        status: {"model": ErrorResponse, **({"headers": _RETRY_AFTER} if status == 429 else {})}
        for status in statuses
    }


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
        return error_response(status, code, STORE_DOWN, request=request)
    return error_response(status, code, str(exc), getattr(exc, "field", None), request)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        where = f" at position {first['loc'][-1]}" if len(first.get("loc", ())) > 1 else ""
        return error_response(400, "invalid_json", f"the body is not valid JSON{where}")
    field = ".".join(str(part) for part in first["loc"] if part not in ("body", "query", "path"))
    return error_response(
        422, "invalid_request", f"{field}: {first['msg']}", field or None, request
    )


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    response = error_response(exc.status, exc.code, exc.message, exc.field, request)
    retry_after = exc.retry_after or (60 if exc.status == 429 else None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _copilot_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InvalidInput):
        return error_response(422, "invalid_request", str(exc), exc.field, request)
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
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


# What a path may answer to, in the order an Allow header lists them.
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method the path answers to. Starlette's 405 names only the methods of the first
    route that matched the path, so on a path served by several routes (GET and POST
    .../entries) it would leave the others out. Asked of the app's routes as routing asks them
    (a router included in the app answers for its own routes)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return ", ".join(allowed)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(redis.RedisError, _redis_error)
    app.add_exception_handler(ConnectionError, _redis_error)
    app.add_exception_handler(CopilotError, _copilot_error)
    app.add_exception_handler(KBError, _kb_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
