"""Keys in the pages: a key for shop A cannot open shop B (the service refuses, the page says so),
a bad key is refused, and the key lives only in the tab's session storage."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _login(page, url: str, key: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")


@pytest.mark.parametrize(("role", "path"), [("agent", "/ui/agent"), ("trainer", "/ui/trainer")])
def test_a_key_for_one_shop_cannot_open_another(
    page, service_url: str, make_key, role: str, path: str
) -> None:  # type: ignore[no-untyped-def]
    key = make_key(role, "demo-pdd")
    _login(page, f"{service_url}{path}?shop=demo-ks", key)
    page.wait_for_selector("body.authed")
    status = page.locator("#key-status")
    status.wait_for(state="visible")
    assert "demo-ks" in status.inner_text() and "无权" in status.inner_text()
    options = page.locator("#shop option").all()
    assert [o.get_attribute("value") for o in options] == ["demo-pdd"]
    # The page's own API client, used against shop B, is refused by the service.
    code = page.evaluate("Api.get('/v1/shops/demo-ks/kb/entries').then(() => 200, (e) => e.status)")
    assert code == 403


def test_a_wrong_key_is_refused_and_the_key_stays_in_the_tab(
    page, browser, service_url: str, make_key
) -> None:  # type: ignore[no-untyped-def]
    _login(page, f"{service_url}/ui/trainer", "cpk_not-a-key")
    page.wait_for_selector("#key-status.error")
    assert "API 密钥无效" in page.inner_text("#key-status")
    assert not page.is_visible("main")

    key = make_key("trainer", "demo-pdd")
    _login(page, f"{service_url}/ui/trainer", key)
    page.wait_for_selector("body.authed")
    page.reload()
    page.wait_for_selector("body.authed")  # same tab: still signed in
    other = browser.new_context()
    try:
        fresh = other.new_page()
        fresh.goto(f"{service_url}/ui/trainer")
        assert fresh.evaluate("sessionStorage.getItem('copilot.apiKey')") is None
        assert not fresh.is_visible("main")
    finally:
        other.close()
