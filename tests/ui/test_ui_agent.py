"""The agent sidebar in Chromium: a customer message arrives, suggestions appear, Alt+1 inserts,
the agent edits and sends with Enter, and the shop's stats count it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

CUSTOMER_MESSAGE = "这个保温杯能保温多久啊"


def _login(page, service_url: str, key: str, path: str = "/ui/agent") -> None:  # type: ignore[no-untyped-def]
    page.goto(service_url + path)
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("body.authed")


def _stats(service_url: str, key: str) -> dict:  # type: ignore[type-arg]
    response = httpx.get(
        f"{service_url}/v1/shops/demo-pdd/stats",
        params={"since": "7d"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_suggestion_is_inserted_edited_sent_and_counted(
    page, service_url: str, make_key, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    agent_key, trainer_key = make_key("agent", "demo-pdd"), make_key("trainer", "demo-pdd")
    before = _stats(service_url, trainer_key)
    page.set_viewport_size({"width": 360, "height": 900})
    _login(page, service_url, agent_key)
    assert page.input_value("#shop") == "demo-pdd"
    assert page.evaluate("sessionStorage.getItem('copilot.apiKey')") == agent_key
    page.select_option("#conversation", "")  # a new conversation
    conversation_id = page.get_attribute("#chat", "data-conversation-id")
    assert conversation_id

    # The chat tool posts the customer's message; the sidebar picks it up by itself.
    posted = httpx.post(
        f"{service_url}/v1/conversations/{conversation_id}/turns",
        json={"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": CUSTOMER_MESSAGE}]},
        headers={"Authorization": f"Bearer {agent_key}"},
    )
    assert posted.status_code == 200, posted.text
    page.wait_for_selector("#chat .turn.customer", timeout=15_000)
    first = page.locator("#suggestions .card.candidate").first
    first.wait_for(timeout=60_000)
    assert page.locator("#route-badge").inner_text()
    role_label = first.locator(".badge.role").inner_text()
    assert role_label in {"回答", "澄清", "话术", "推荐"}
    suggested = first.locator(".text").inner_text()
    assert suggested
    page.screenshot(path=str(screenshots / "agent-suggestions.png"), full_page=True)

    page.focus("#reply")
    page.keyboard.press("Alt+1")
    assert page.input_value("#reply") == suggested
    assert "inserted" in (first.get_attribute("class") or "")
    page.keyboard.press("End")
    page.keyboard.type("还有别的问题随时找我哦")
    edited = suggested + "还有别的问题随时找我哦"
    assert page.input_value("#reply") == edited
    page.keyboard.press("Enter")

    page.wait_for_selector("#chat .turn.agent", timeout=10_000)
    assert page.input_value("#reply") == ""
    assert page.locator("#suggestions .card").count() == 0
    page.screenshot(path=str(screenshots / "agent-sent.png"), full_page=True)
    stored = httpx.get(
        f"{service_url}/v1/conversations/{conversation_id}",
        headers={"Authorization": f"Bearer {agent_key}"},
    ).json()
    assert [t["role"] for t in stored["turns"]] == ["customer", "agent"]
    assert stored["turns"][1]["text"] == edited

    # Feedback goes out in the background: shown, inserted, edited and sent are all counted.
    deadline = time.monotonic() + 15
    after = _stats(service_url, trainer_key)
    while after["sent"] == before["sent"] and time.monotonic() < deadline:
        time.sleep(0.3)
        after = _stats(service_url, trainer_key)
    assert after["sent"] == before["sent"] + 1
    assert after["inserted"] == before["inserted"] + 1
    assert after["shown"] == before["shown"] + 1
    assert after["edited"] == before["edited"] + 1


def test_escape_dismisses_the_suggestions(page, service_url: str, make_key) -> None:  # type: ignore[no-untyped-def]
    agent_key = make_key("agent", "demo-pdd")
    _login(page, service_url, agent_key)
    page.select_option("#conversation", "")
    page.click("#simulate summary")
    page.fill("#customer-text", "你们发什么快递")
    page.click("#customer-form button")
    page.locator("#suggestions .card.candidate").first.wait_for(timeout=60_000)
    page.keyboard.press("Escape")
    assert page.locator("#suggestions .card").count() == 0
    assert page.input_value("#reply") == ""


def test_demo_mode_plays_a_demo_chat(page, service_url: str, make_key, screenshots: Path) -> None:  # type: ignore[no-untyped-def]
    agent_key = make_key("agent", "demo-pdd")
    _login(page, service_url, agent_key)
    page.click("#demo")
    # the demo conversation's own first message, not the last conversation's still on screen
    page.wait_for_selector('#chat[data-conversation-id^="demo-"] .turn.customer', timeout=15_000)
    first_message = page.locator("#chat .turn.customer").first.inner_text()
    chats = httpx.get(f"{service_url}/ui/demo-chats/demo-pdd").json()["chats"]
    assert first_message in {c["customer_messages"][0] for c in chats}
    page.locator("#suggestions .card.candidate").first.wait_for(timeout=60_000)
    page.keyboard.press("Alt+1")
    page.keyboard.press("Enter")
    # The next customer message of the same demo chat follows the agent's reply.
    # locator waits, not wait_for_function: the page's CSP forbids evaluating strings
    page.locator("#chat .turn.customer").nth(1).wait_for(timeout=15_000)
    page.screenshot(path=str(screenshots / "agent-demo.png"), full_page=True)
