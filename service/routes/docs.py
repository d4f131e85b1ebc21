"""The API's own description when it is not public (COPILOT_PUBLIC_DOCS=false, the default):
/openapi.json for any valid key (client generators fetch it with one), and /docs and /redoc,
which a browser cannot send a key to, answer what to do instead. With public docs FastAPI
serves all three itself and this router is not included.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from service.auth import require
from service.errors import ServiceError
from service.principals import Principal

ANY_KEY = require("agent", "trainer")  # admin passes every role check
router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi(request: Request, _: Annotated[Principal, Depends(ANY_KEY)]) -> dict[str, Any]:
    return request.app.openapi()


@router.get("/docs")
@router.get("/redoc")
def docs_pages() -> None:
    raise ServiceError(
        404, "docs_not_public",
        "the API docs pages are off on this service: fetch /openapi.json with "
        "`Authorization: Bearer KEY`, or set COPILOT_PUBLIC_DOCS=true",
    )  # fmt: skip
