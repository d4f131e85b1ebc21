"""The pages and assets as the service serves them (plain HTTP, no browser)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from service.routes.ui import UI_DIR

# The service in its own process on the real models (tests/ui/conftest.py).
on_the_service = pytest.mark.slow


@on_the_service
def test_pages_and_assets_are_served(service_url: str) -> None:
    for path in ("/ui/agent", "/ui/trainer"):
        page = httpx.get(service_url + path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="zh-CN">' in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assets = re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page.text)
        assert assets, f"{path} links no asset: the checks below would check nothing"
        for asset in assets:
            served = httpx.get(service_url + asset)
            assert served.status_code == 200, asset
            assert served.headers["content-type"].split(";")[0] in {"text/css", "text/javascript"}
            assert served.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(service_url + "/ui").headers.get("location") == "/ui/agent"


@on_the_service
@pytest.mark.parametrize("name", [".hidden.js", "agent.html", "nothing.js", "..%2Fmain.py"])
def test_only_shipped_assets_are_served(service_url: str, name: str) -> None:
    response = httpx.get(f"{service_url}/ui/static/{name}")
    assert response.status_code == 404
    assert "create_app" not in response.text
    if "%2F" not in name:  # a path with a slash never reaches the route
        assert response.json()["error"]["field"] == "name"


@on_the_service
def test_demo_chats_give_customer_messages_of_demo_shops_only(service_url: str) -> None:
    chats = httpx.get(service_url + "/ui/demo-chats/demo-ks").json()["chats"]
    assert chats and all(c["customer_messages"] for c in chats)
    first = chats[0]["customer_messages"][0]
    chat_lines = (Path(UI_DIR).parent.parent / "kb/demo/demo-ks/chats.jsonl").read_text("utf-8")
    assert first in chat_lines
    missing = httpx.get(service_url + "/ui/demo-chats/no-such-shop")
    assert missing.status_code == 404
    assert "demo-pdd" in missing.json()["error"]["message"]


def test_the_pages_make_no_external_request() -> None:
    """Offline machines: every URL in the pages is relative to the service."""
    pages = sorted(UI_DIR.iterdir())
    assert {"agent.html", "trainer.html"} <= {p.name for p in pages}, pages
    for path in pages:
        text = path.read_text(encoding="utf-8")
        external = re.findall(r"https?://[^\s\"')]+", text)
        assert external == [] or set(external) == {"http://www.w3.org/2000/svg"}, path.name
