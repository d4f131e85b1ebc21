"""The sidebar's rendering of a full suggestion stream: the demo shops rarely hand off, flag or
upsell, so /v1/suggest is answered here with a contract-shaped stream (suggestion, tokens,
final) while everything else goes to the real service; /v1/feedback is captured to check what
the page reports."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow


def _candidate(n: int, text: str, role: str, kind: str, **extra: Any) -> dict[str, Any]:
    source = {"kind": kind, "kb_entry_ids": [], "kb_titles": [], "history_reply_ids": []}
    source["llm"] = kind == "llm"
    source |= extra.pop("source", {})
    return {"id": f"s_ui:{n}", "text": text, "role": role, "source": source,
            "evidence": [], "score": 0.5, "flags": [], **extra}  # fmt: skip


RETRIEVAL = {
    "suggestion_id": "s_ui",
    "shop_id": "demo-pdd",
    "conversation_id": "c",
    "intent": {"label": "refund", "confidence": 0.91, "top": [], "family": "after_sales", "reasons": []},
    "route": {"action": "handoff", "queue": "after_sales", "reasons": ["refund_over_limit"]},
    "candidates": [
        _candidate(1, "亲，非常抱歉给您带来不便，这边马上为您转接售后专员处理退款～", "script", "kb",
                   source={"kb_entry_ids": ["pdd-s01"], "kb_titles": ["退款转售后话术"]}),
        _candidate(2, "亲，加我微信 abc123 给您直接退款", "answer", "history",
                   flags=[{"code": "off_platform", "message": "引导站外交易", "severity": "block"}]),
    ],
    "upsell": {"kind": "threshold", "text": "再加一个杯套18元就满99减10啦", "reason": "差 8 元满 99 减 10",
               "product_ids": ["pdd-p02"]},
    "timings_ms": {}, "degraded": [],
}  # fmt: skip
FINAL = RETRIEVAL | {
    "candidates": [
        *RETRIEVAL["candidates"],
        _candidate(3, "亲，退款申请已收到，售后专员会在2小时内联系您～", "answer", "llm"),
    ]
}


def _sse(*events: tuple[str, Any]) -> str:
    return "".join(f"event: {e}\ndata: {json.dumps(d, ensure_ascii=False)}\n\n" for e, d in events)


def test_route_flags_upsell_and_the_drafted_candidate_render(
    page, service_url: str, make_key, screenshots
) -> None:  # type: ignore[no-untyped-def]
    key = make_key("agent", "demo-pdd")
    feedback: list[dict[str, Any]] = []
    stream = _sse(
        ("suggestion", RETRIEVAL),
        ("token", {"text": "亲，退款"}),
        ("token", {"text": "申请已收到"}),
        ("final", FINAL),
    )
    page.route(
        "**/v1/suggest",
        lambda route: route.fulfill(
            status=200, headers={"Content-Type": "text/event-stream"}, body=stream
        ),
    )

    def capture(route) -> None:  # type: ignore[no-untyped-def]
        feedback.append(json.loads(route.request.post_data))
        route.fulfill(status=202, headers={"Content-Type": "application/json"}, body="{}")

    page.route("**/v1/feedback", capture)
    page.set_viewport_size({"width": 360, "height": 900})
    page.goto(service_url + "/ui/agent")
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("body.authed")
    page.select_option("#conversation", "")
    conversation_id = page.get_attribute("#chat", "data-conversation-id")
    httpx.post(
        f"{service_url}/v1/conversations/{conversation_id}/turns",
        json={"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": "我要退款 299的"}]},
        headers={"Authorization": f"Bearer {key}"},
    ).raise_for_status()

    cards = page.locator("#suggestions .card.candidate")
    cards.nth(2).wait_for()  # not wait_for_function: the page's CSP forbids evaluating strings
    assert cards.count() == 3
    assert page.inner_text("#route-badge") == "转人工 · 售后组"
    assert "退款金额超过客服权限" in page.inner_text("#handoff-reason")
    assert cards.nth(0).locator(".badge.role").inner_text() == "话术"
    assert "来源：退款转售后话术" in cards.nth(0).inner_text()
    assert "blocked" in (cards.nth(1).get_attribute("class") or "")
    assert "拦截：引导站外交易" in cards.nth(1).inner_text()
    assert "AI 起草" in cards.nth(2).inner_text()
    assert page.locator(".card.drafting").count() == 0  # the final replaced the draft
    assert "差 8 元满 99 减 10" in page.inner_text("#upsell-card")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # docks at 360 px
    page.screenshot(path=str(screenshots / "agent-handoff-flags-upsell.png"), full_page=True)

    page.focus("#reply")
    page.keyboard.press("Alt+2")  # blocked: not inserted
    assert page.input_value("#reply") == ""
    page.keyboard.press("Alt+3")
    assert page.input_value("#reply") == FINAL["candidates"][2]["text"]
    page.keyboard.press("Enter")
    page.wait_for_selector("#chat .turn.agent")

    actions = [(f["action"], f.get("candidate_id")) for f in feedback]
    assert actions == [("shown", None), ("inserted", "s_ui:3"), ("sent", "s_ui:3")]
    sent = feedback[-1]
    assert sent["final_text"] == FINAL["candidates"][2]["text"]
    assert isinstance(sent["ms_to_send"], int) and sent["ms_to_send"] >= 0
