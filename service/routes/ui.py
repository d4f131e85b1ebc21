"""The web pages (agent sidebar, trainer console) and the demo chats they can play.

Plain static files from the package (service/ui/): no build step and no external request, so the
pages work on offline machines. The pages call the /v1 API with the key the user types in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from kb.demo_shops import demo_shops
from service.errors import error_response

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
_MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The pages change with the code; a stale cached script against a newer API is worse than a
# re-download of a few kilobytes.
_NO_CACHE = {"Cache-Control": "no-cache"}
# The pages run only their own scripts, talk only to this service, and are never framed by
# another site (clickjacking); style attributes are the charts' own (charts.js).
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}
_PAGE_HEADERS = _NO_CACHE | {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(tags=["web UI"], include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(UI_DIR / name, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@router.get("/ui")
def ui_index() -> RedirectResponse:
    return RedirectResponse("/ui/agent")


@router.get("/ui/agent")
def agent_page() -> FileResponse:
    """The agent sidebar: suggestions beside the chat tool (360 px wide is enough)."""
    return _page("agent.html")


@router.get("/ui/trainer")
def trainer_page() -> FileResponse:
    """The trainer console: knowledge, imports, search preview, gaps, acceptance."""
    return _page("trainer.html")


@router.get("/ui/static/{name}", response_model=None)
def static_file(name: str) -> FileResponse | Any:
    # Only plain file names of the shipped assets: no sub-paths, so nothing outside UI_DIR.
    path = UI_DIR / name
    media_type = _MEDIA_TYPES.get(path.suffix)
    if "/" in name or name.startswith(".") or media_type is None or not path.is_file():
        return error_response(404, "not_found", f"no UI file named {name!r}", "name")
    return FileResponse(path, media_type=media_type, headers=_NO_CACHE | _NOSNIFF)


def _demo_chats(shop_id: str) -> list[dict[str, Any]] | None:
    for shop in demo_shops():
        if shop.shop_id == shop_id:
            lines = shop.chats_file.read_text(encoding="utf-8").splitlines()
            chats = [json.loads(line) for line in lines if line.strip()]
            return [
                {
                    "conversation_id": chat["conversation_id"],
                    "customer_messages": [
                        t["text"] for t in chat["turns"] if t.get("role") == "customer"
                    ],
                }
                for chat in chats
            ]
    return None


@router.get("/ui/demo-chats/{shop_id}", response_model=None)
async def demo_chats(shop_id: str) -> dict[str, Any] | Any:
    """The customer messages of a demo shop's chats (our own repo data), for the demo mode."""
    chats = await run_in_threadpool(_demo_chats, shop_id)
    if chats is None:
        names = ", ".join(s.shop_id for s in demo_shops())
        message = f"{shop_id!r} is not a demo shop (demo shops: {names})"
        return error_response(404, "shop_not_found", message, "shop_id")
    return {"shop_id": shop_id, "chats": chats}
