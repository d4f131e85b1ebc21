"""POST /v1/suggest (JSON), conversations, shops, limits and the cache, through HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from copilot.types import Conversation, Turn
from service.cache import SuggestionCache, normalise
from service.limits import RateLimiter

Auth = Callable[..., dict[str, str]]


def _suggest(api: TestClient, headers: dict[str, str], **body: object) -> dict:
    response = api.post("/v1/suggest", json={"use_llm": False, **body}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_simplest_request_gets_intent_route_and_candidates(api: TestClient, auth: Auth) -> None:
    body = _suggest(
        api, auth(), shop_id="demo-pdd", conversation_id="sg-1",
        turns=[{"role": "customer", "text": "这个杯子能装开水吗？我电话13812345678"}],
    )  # fmt: skip
    assert body["shop_id"] == "demo-pdd" and body["conversation_id"] == "sg-1"
    assert body["intent"]["label"] and 0 <= body["intent"]["confidence"] <= 1
    assert body["route"]["action"] in ("assist", "auto", "handoff")
    assert 1 <= len(body["candidates"]) <= 3
    sid = body["suggestion_id"]
    for n, candidate in enumerate(body["candidates"], start=1):
        assert candidate["id"] == f"{sid}:{n}"
        assert candidate["source"]["kind"] in ("kb", "history", "template")
        assert len(candidate["source"]["kb_titles"]) == len(candidate["source"]["kb_entry_ids"])
    assert any(c["source"]["kb_entry_ids"] for c in body["candidates"])
    assert "retrieve" in body["timings_ms"] and body["degraded"] == []
    record = api.app.state.services.records.get(sid)  # type: ignore[attr-defined]
    assert record.shop_id == "demo-pdd" and record.conversation_id == "sg-1"
    assert "13812345678" not in record.customer_msg and "138****5678" in record.customer_msg
    assert [c.id for c in record.candidates] == [c["id"] for c in body["candidates"]]


def test_stored_turns_are_masked_and_used_when_none_are_sent(api: TestClient, auth: Auth) -> None:
    headers = auth()
    turns = [
        {"role": "customer", "text": "我买的杯子发货了吗"},
        {"role": "agent", "text": "亲，请提供一下收件人和电话哦"},
        {
            "role": "customer",
            "text": "收件人：王小明，电话13912345678，地址浙江省杭州市西湖区文三路100号",
        },
    ]
    _suggest(api, headers, shop_id="demo-pdd", conversation_id="sg-2", turns=turns)
    stored = api.get("/v1/conversations/sg-2", headers=headers).json()
    assert stored["shop_id"] == "demo-pdd" and len(stored["turns"]) == 3
    last = stored["turns"][-1]["text"]
    for secret in ("13912345678", "王小明", "文三路100号"):
        assert secret not in last
    assert "139****5678" in last
    again = _suggest(api, headers, shop_id="demo-pdd", conversation_id="sg-2")
    assert again["conversation_id"] == "sg-2" and again["suggestion_id"] != ""
    missing = api.post(
        "/v1/suggest", json={"shop_id": "demo-pdd", "conversation_id": "sg-none"}, headers=headers
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "conversation_not_found"


def test_turns_are_appended_and_conversations_listed_recent_first(
    api: TestClient, auth: Auth
) -> None:
    headers = auth(shops=["demo-ks"])
    for cid, text in (("ks-a", "在吗"), ("ks-b", "多久发货"), ("ks-a", "有优惠券吗")):
        response = api.post(
            f"/v1/conversations/{cid}/turns",
            json={"shop_id": "demo-ks", "turns": [{"role": "customer", "text": text}]},
            headers=headers,
        )
        assert response.status_code == 200, response.text
    assert response.json() == {"conversation_id": "ks-a", "shop_id": "demo-ks", "turns": 2}
    listed = api.get("/v1/shops/demo-ks/conversations", headers=headers).json()["conversations"]
    assert [c["conversation_id"] for c in listed][:2] == ["ks-a", "ks-b"]
    assert listed[0]["last_text"] == "有优惠券吗" and listed[0]["turns"] == 2


def test_keys_see_only_their_shops_and_roles(api: TestClient, auth: Auth) -> None:
    pdd = auth(shops=["demo-pdd"])
    ks = auth(shops=["demo-ks"])
    _suggest(api, pdd, shop_id="demo-pdd", conversation_id="scope-1",
             turns=[{"role": "customer", "text": "包邮吗"}])  # fmt: skip
    checks = [
        api.post(
            "/v1/suggest",
            json={"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": "在吗"}]},
            headers=ks,
        ),
        api.get("/v1/conversations/scope-1", params={"shop_id": "demo-pdd"}, headers=ks),
        api.get("/v1/shops/demo-pdd/conversations", headers=ks),
        api.post(
            "/v1/conversations/scope-1/turns",
            json={"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": "在吗"}]},
            headers=ks,
        ),
        api.post(
            "/v1/suggest",
            json={"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": "在吗"}]},
            headers=auth(role="trainer", shops=["demo-pdd"]),
        ),
    ]
    for response in checks:
        assert response.status_code == 403, response.request.url
        assert response.json()["error"]["code"] == "forbidden"
    # Conversation ids are the shop's own: another shop's id is unknown here, not forbidden.
    unknown = [
        api.get("/v1/conversations/scope-1", headers=ks),
        api.post(
            "/v1/suggest", json={"shop_id": "demo-ks", "conversation_id": "scope-1"}, headers=ks
        ),
    ]
    for response in unknown:
        assert response.status_code == 404, response.request.url
        assert response.json()["error"]["code"] == "conversation_not_found"
    both = auth(role="agent", shops=["demo-pdd", "demo-ks"])
    same_id = api.post("/v1/suggest", json={"shop_id": "demo-ks", "conversation_id": "scope-1",
                                            "turns": [{"role": "customer", "text": "在吗"}], "use_llm": False},
                       headers=both)  # fmt: skip
    assert same_id.status_code == 200, same_id.text
    texts = {shop: [t["text"] for t in api.get("/v1/conversations/scope-1", headers=both,
                                                params={"shop_id": shop}).json()["turns"]]
             for shop in ("demo-pdd", "demo-ks")}  # fmt: skip
    assert texts == {"demo-pdd": ["包邮吗"], "demo-ks": ["在吗"]}
    unsaid = api.get("/v1/conversations/scope-1", headers=both)
    assert unsaid.status_code == 422 and unsaid.json()["error"]["field"] == "shop_id"
    shops = api.get("/v1/shops", headers=ks).json()["shops"]
    assert [s["shop_id"] for s in shops] == ["demo-ks"]
    assert shops[0]["entries"] > 0 and shops[0]["version"] >= 1 and shops[0]["name"]
    admin = api.get("/v1/shops", headers=auth(role="admin", shops=[])).json()["shops"]
    assert {"demo-pdd", "demo-ks", "demo-express"} <= {s["shop_id"] for s in admin}


def test_bad_requests_name_the_field(api: TestClient, auth: Auth) -> None:
    headers = auth()
    settings = api.app.state.services.settings  # type: ignore[attr-defined]
    cases = [
        (
            {"shop_id": "demo-pdd", "turns": [{"role": "客服", "text": "在吗"}]},
            "invalid_request",
            "turns.0.role",
        ),
        ({"shop_id": "demo-pdd"}, "invalid_request", "turns"),
        (
            {
                "shop_id": "demo-pdd",
                "turns": [{"role": "customer", "text": "在吗"}] * (settings.max_turns + 1),
            },
            "too_many_turns",
            "turns",
        ),
        (
            {
                "shop_id": "demo-pdd",
                "turns": [{"role": "customer", "text": "啊" * (settings.max_turn_chars + 1)}],
            },
            "turn_too_long",
            "turns[0].text",
        ),
        (
            {
                "shop_id": "demo-pdd",
                "turns": [{"role": "customer", "text": "到哪了"}],
                "order": {"status": "lost"},
            },
            "invalid_request",
            "order.status",
        ),
        (
            {
                "shop_id": "demo-pdd",
                "conversation_id": "坏 id",
                "turns": [{"role": "customer", "text": "在吗"}],
            },
            "invalid_request",
            "conversation_id",
        ),
    ]
    for amount in ("NaN", "Infinity", 1e30):  # once a 500 (decimal.InvalidOperation)
        order = {"status": "unpaid", "amount": amount, "items": [{"product_id": "pdd-p01"}]}
        turns = [{"role": "customer", "text": "有优惠吗"}]
        cases.append(({"shop_id": "demo-pdd", "turns": turns, "order": order},
                      "invalid_request", "order.amount"))  # fmt: skip
    for body, code, field in cases:
        response = api.post("/v1/suggest", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == code, response.json()
        assert response.json()["error"]["field"] == field, response.json()
    huge = "啊" * (settings.max_body_bytes // 2)
    too_big = api.post("/v1/suggest", json={"shop_id": "demo-pdd", "notes": huge,
                                            "turns": [{"role": "customer", "text": "在吗"}]}, headers=headers)  # fmt: skip
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "body_too_large"
    broken = api.post(
        "/v1/suggest",
        content=b'{"shop_id": "demo-pdd", ',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    unknown = api.post("/v1/suggest", json={"shop_id": "no-such-shop", "turns": [{"role": "customer", "text": "在吗"}]},
                       headers=auth(role="admin", shops=[]))  # fmt: skip
    assert unknown.status_code == 200 and "no_knowledge_base" in unknown.json()["degraded"]
    nowhere = api.get("/v1/no-such-route", headers=headers)
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"
    wrong_method = api.delete("/v1/suggest", headers=headers)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_errors_come_in_the_order_fastapi_gives_them(api: TestClient, auth: Auth) -> None:
    """/v1/suggest resolves its key and body itself (one worker hop): same statuses, same
    precedence as FastAPI's handler: broken JSON, then the key, then the body's fields."""
    good = json.dumps({"shop_id": "demo-pdd", "use_llm": False,
                       "turns": [{"role": "customer", "text": "保温杯有几种颜色"}]}).encode()  # fmt: skip
    as_json = {"Content-Type": "application/json"}
    cases = [
        (b'{"shop_id": ', as_json, 400, "invalid_json"),
        (b'{"shop_id": 1}', {**as_json, **auth("cpk_unknown")}, 401, "unauthorized"),
        (b'{"shop_id": 1}', {**as_json, **auth(role="trainer")}, 403, "forbidden"),
        (b"", {**as_json, **auth()}, 422, "invalid_request"),
        (good, auth(), 422, "invalid_request"),  # no Content-Type: not read as JSON
        (good, {"Content-Type": "text/plain", **auth()}, 422, "invalid_request"),
        (b"[1]", {**as_json, **auth()}, 422, "invalid_request"),
        (good, {"Content-Type": "application/vnd.shop+json; charset=utf-8", **auth()}, 200, None),
    ]
    for content, headers, status, code in cases:
        response = api.post("/v1/suggest", content=content, headers=headers)
        assert response.status_code == status, (content, headers, response.text)
        assert code is None or response.json()["error"]["code"] == code, response.text


def test_repeated_questions_come_from_the_cache(api: TestClient, auth: Auth) -> None:
    headers = auth()
    cache: SuggestionCache = api.app.state.services.cache  # type: ignore[attr-defined]
    before = cache.stats()
    turns = [{"role": "customer", "text": "满多少包邮呀"}]
    first = _suggest(api, headers, shop_id="demo-pdd", turns=turns)
    second = _suggest(
        api, headers, shop_id="demo-pdd", turns=[{"role": "customer", "text": "满多少包邮呀？？"}]
    )
    assert not first["cached"] and second["cached"]
    assert second["suggestion_id"] != first["suggestion_id"]
    assert [c["text"] for c in second["candidates"]] == [c["text"] for c in first["candidates"]]
    assert second["candidates"][0]["id"] == f"{second['suggestion_id']}:1"
    assert api.app.state.services.records.get(second["suggestion_id"]) is not None  # type: ignore[attr-defined]
    other_context = _suggest(api, headers, shop_id="demo-pdd",
                             turns=[{"role": "agent", "text": "亲，在的"}, *turns])  # fmt: skip
    assert not other_context["cached"]
    with_llm_off_cache = cache.stats()
    assert with_llm_off_cache["hits"] == before["hits"] + 1
    assert with_llm_off_cache["misses"] == before["misses"] + 2
    conversation = Conversation("demo-pdd", (Turn("customer", "满多少包邮呀"),))
    assert cache.key(conversation, 1) != cache.key(conversation, 2)  # a KB change: a new key
    assert normalise(" 满多少包邮呀？ ") == normalise("满多少包邮呀")


def test_each_key_has_a_rate_limit(api: TestClient, auth: Auth) -> None:
    app = api.app
    saved = app.state.services.rate_limiter  # type: ignore[attr-defined]
    app.state.services.rate_limiter = RateLimiter(app.state.services.redis, per_minute=3)  # type: ignore[attr-defined]
    try:
        limited, other = auth(), auth()
        codes = [api.get("/v1/shops", headers=limited).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = api.get("/v1/shops", headers=limited)
        assert response.json()["error"]["code"] == "rate_limited"
        assert response.headers["Retry-After"]
        assert api.get("/v1/shops", headers=other).status_code == 200
    finally:
        app.state.services.rate_limiter = saved  # type: ignore[attr-defined]


@pytest.mark.slow  # reads the ONNX embedder's query cache and llama.cpp's saved prefixes
def test_a_pushed_agent_reply_is_embedded_before_the_customer_answers(
    api: TestClient, auth: Auth, service_app: FastAPI
) -> None:
    """POST .../turns with the agent's reply: the intent's context vector for the customer's
    next message, and the LLM prompt's rules and turns, are computed on a suggest thread at
    once, not when that message comes."""
    cache = service_app.state.services.suggester.kb.embedder.cache

    def cached() -> bool:
        return any("周末用还是工作日用" in text for text in list(cache._vectors))

    llm = service_app.state.services.suggester.generator

    def prefilled() -> bool:  # the draft prompt's rules and turns, evaluated and kept
        states = list(llm.prefix_cache._states)
        texts = [llm.llama.detokenize(list(k)).decode("utf-8", "replace") for k in states]
        # the whole stored conversation, not only the pushed reply: the customer's turn too
        return any("周末用还是工作日用" in t and "保温杯有货吗" in t for t in texts)

    headers = auth(shops=["demo-pdd"])
    turns = [{"role": "customer", "text": "保温杯有货吗"}]
    pushed = api.post("/v1/conversations/obs-1/turns", headers=headers,
                      json={"shop_id": "demo-pdd", "turns": turns})  # fmt: skip
    assert pushed.status_code == 200 and not cached() and not prefilled()  # nothing to prepare
    reply = [{"role": "agent", "text": "亲，有现货的，请问您是周末用还是工作日用呢"}]
    pushed = api.post("/v1/conversations/obs-1/turns", headers=headers,
                      json={"shop_id": "demo-pdd", "turns": reply})  # fmt: skip
    assert pushed.status_code == 200
    deadline = time.monotonic() + 60  # the LLM prefill runs after the embedding
    while not (cached() and prefilled()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cached() and prefilled()
