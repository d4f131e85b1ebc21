"""POST /v1/suggest: JSON, or Server-Sent Events with `Accept: text/event-stream`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from service.auth import Principal, ensure_shop, require
from service.errors import ServiceError
from service.schemas import ErrorResponse, SuggestRequest, SuggestResponse
from service.streaming import stream_response
from service.suggesting import answer, prepare

router = APIRouter(prefix="/v1", tags=["suggest"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 413, 422, 429, 503)
}
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


@router.post("/suggest", response_model=SuggestResponse, responses={**_ERRORS, 200: _SSE_DOC})
async def suggest(
    request: Request,
    body: SuggestRequest,
    principal: Annotated[Principal, Depends(require("agent"))],
) -> Response:
    """What the agent could say next: intent, route, up to 3 candidates with sources, upsell.

    Inline `turns` win (and replace the stored turns of `conversation_id`); without them the
    stored turns are used. `use_llm: false` skips the LLM draft (tens of milliseconds).
    """
    ensure_shop(principal, body.shop_id)
    job = await run_in_threadpool(prepare, request.app, body, principal)
    if "text/event-stream" in request.headers.get("accept", ""):
        return stream_response(request, job)
    timeout = request.app.state.settings.suggest_timeout
    try:
        result = await asyncio.wait_for(run_in_threadpool(answer, request.app, job), timeout)
    except TimeoutError:
        raise ServiceError(503, "timeout", f"no suggestion within {timeout:g} s") from None
    return JSONResponse(result)
