"""POST /v1/suggest: JSON, or Server-Sent Events with `Accept: text/event-stream`.

The busiest route is served in one hop to a worker thread. FastAPI's own handler would run
the auth dependency in a worker thread, validate the body back on the event loop, then hop
again for the blocking work: every hop and FastAPI's generic dependency solving cost CPU on
each request, and under load each hop also waits for the GIL. So `_SuggestRoute` keeps
`suggest`'s signature for what FastAPI reads from it at startup (the OpenAPI operation: body
schema, security, responses) and resolves the same arguments itself, in FastAPI's order and
with its error shapes: the body read and parsed as JSON (400), the key checked (401, 403,
429), the body validated (422); then `suggest` runs, all of it in the one worker thread.
tests/service/test_suggest.py holds the order.
"""

from __future__ import annotations

import asyncio
import email.message
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from service.auth import ensure_shop, require
from service.errors import ServiceError, error_responses
from service.principals import Principal
from service.schemas import SuggestRequest, SuggestResponse
from service.services import Services, ServicesDep, services_of
from service.streaming import stream_response
from service.suggesting import answer, prepare

AGENT = require("agent")
_NO_BODY = object()  # no body at all: FastAPI says "Field required"
# 400: a body that is not JSON
_ERRORS = error_responses(400, 401, 403, 404, 413, 422, 429, 503)
_SSE_DOC = {
    "content": {
        "text/event-stream": {
            "example": 'event: suggestion\ndata: {"suggestion_id": "s_1a2b", ...}\n\n'
            'event: token\ndata: {"text": "亲，"}\n\n'
            'event: final\ndata: {"suggestion_id": "s_1a2b", ...}\n\n'
        }
    },
    "description": "with `Accept: text/event-stream`: suggestion, token..., final "
    "(or cancelled when a newer message for the conversation arrives)",
}


async def _handle(request: Request) -> Response:
    data = _parse(await request.body(), request.headers.get("content-type"))
    token = await AGENT.token(request)
    services = services_of(request.app)
    timeout = services.settings.suggest_timeout
    threads = _lane(request, services, data)
    try:
        async with asyncio.timeout(timeout):  # unlike wait_for, no extra task per request
            return await asyncio.get_running_loop().run_in_executor(
                threads, _serve, request, services, token, data
            )
    except TimeoutError:
        raise ServiceError(503, "timeout", f"no suggestion within {timeout:g} s") from None


def _lane(request: Request, services: Services, data: Any) -> ThreadPoolExecutor:
    """Where a request runs. Suggestions without the LLM (JSON, `use_llm: false`) queue for
    the `concurrent_retrievals` threads, one at a time by default: their work holds the GIL,
    so threads running several at once only hand it back and forth, and a request answered
    whole before the next starts is also answered sooner (bench/service_speed.py: 15% less
    CPU a request, p95 64 -> 39 ms). Drafts and streams, which wait seconds on the LLM, take
    the big pool so they never queue behind one another."""
    quick = isinstance(data, dict) and data.get("use_llm") is False and not _streams(request)
    return services.retrieval_threads if quick else services.suggest_threads


def _streams(request: Request) -> bool:
    """Server-Sent Events asked for: the answer is a stream, not one JSON body."""
    return "text/event-stream" in request.headers.get("accept", "")


def retrieval_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="suggest-retrieval")


def thread_pool() -> ThreadPoolExecutor:
    """The threads /v1/suggest runs in (one pool per app, shut down with it). A hop to an
    executor cost about half the CPU of anyio's run_in_threadpool (its capacity limiter and
    cancel scopes), and a request that times out gets its 503 at once rather than when its
    thread is done. As many threads as anyio's default limiter, so slow LLM drafts hold up
    quick requests no more than they did."""
    return ThreadPoolExecutor(max_workers=40, thread_name_prefix="suggest")


def _serve(request: Request, services: Services, token: str, data: Any) -> Response:
    principal = AGENT.check(request, token)
    if data is _NO_BODY:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:  # from_attributes: FastAPI's wording for a body that is not an object
        body = SuggestRequest.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    return suggest(request, services, body, principal)


def _parse(raw: bytes, content_type: str | None) -> Any:
    """The body as FastAPI reads it: JSON only when declared so (strict content type)."""
    if not raw:
        return _NO_BODY
    if not _declares_json(content_type):
        return raw  # fails validation, as FastAPI's handler would have it
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                 "input": {}, "ctx": {"error": exc.msg}}  # fmt: skip
        raise RequestValidationError([error]) from exc
    except Exception as exc:  # undecodable bytes, nesting too deep
        raise HTTPException(400, "There was an error parsing the body") from exc


@lru_cache(maxsize=64)
def _declares_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class _SuggestRoute(APIRoute):
    """FastAPI builds the docs from `suggest`; `_handle` serves the requests."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return _handle


router = APIRouter(prefix="/v1", tags=["suggest"], route_class=_SuggestRoute)


@router.post("/suggest", response_model=SuggestResponse, responses={**_ERRORS, 200: _SSE_DOC})
def suggest(
    request: Request,
    services: ServicesDep,
    body: SuggestRequest,
    principal: Annotated[Principal, Depends(AGENT)],
) -> Response:
    """What the agent could say next: intent, route, up to 3 candidates with sources, upsell.

    Inline `turns` win (and replace the stored turns of `conversation_id`); without them the
    stored turns are used. `use_llm: false` skips the LLM draft (tens of milliseconds).
    """
    ensure_shop(principal, body.shop_id)
    job = prepare(services, body)
    if _streams(request):
        return stream_response(request, services, job)
    result = answer(services, job)
    # As JSONResponse renders, but here in the worker thread rather than on the event loop.
    content = json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(content.encode(), media_type="application/json")
