"""The security review's findings, replayed against the real app on real Redis.

Before: conversations of every shop shared `copilot:conv:{id}`, next to a shop's own keys at
`copilot:{shop}:{name}`. A demo-ks agent posting to conversation ids `policy`, `feedback` and
`conversations` broke shop `conv` (GET /v1/shops 503 for every admin key, and the next start
failed on the policy's WRONGTYPE); ids with ':' landed on another conversation's turns; and
the first shop to use an id owned it everywhere (403 for another shop's, 404 for unknown).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from copilot.clock import Clock, timestamp
from copilot.policies import PolicyStore
from copilot.types import ShopPolicy
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder
from kb.storage.redis_conn import RedisConfig, close, connect
from kb.storage.redis_keys import KEYS
from kb.storage.store import KBStore
from service.keys import KeyStore
from service.main import create_app
from service.settings import Settings

Auth = Callable[..., dict[str, str]]
FAQ = {
    "kind": "faq",
    "id": "conv-ship",
    "question": "什么时候发货",
    "answer": "亲，48小时内发货哦~",
}
HOSTILE_IDS = ["policy", "feedback", "conversations", "suggestions", "a", "a:turns", "a:gen",
               "x:y", "conv"]  # fmt: skip


def _say(text: str) -> list[dict[str, str]]:
    return [{"role": "customer", "text": text}]


def _turns(api: TestClient, cid: str, headers: dict[str, str], shop: str | None = None) -> object:
    params = {"shop_id": shop} if shop else None
    response = api.get(f"/v1/conversations/{cid}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [t["text"] for t in response.json()["turns"]]


def test_conversation_ids_that_name_other_keys_break_nothing(
    api: TestClient, auth: Auth, service_app: FastAPI
) -> None:
    admin = auth(role="admin", shops=[])
    assert api.post("/v1/shops/conv/kb/entries", json=FAQ, headers=admin).status_code == 201
    PolicyStore(service_app.state.services.redis).put(ShopPolicy("conv", shop_name="会话小店"))
    ks = auth(shops=["demo-ks"])
    for cid in HOSTILE_IDS:
        pushed = api.post(f"/v1/conversations/{cid}/turns",
                          json={"shop_id": "demo-ks", "turns": _say(f"我是{cid}")}, headers=ks)  # fmt: skip
        assert pushed.status_code == 200, (cid, pushed.text)
    for cid in HOSTILE_IDS:  # each id reads back its own turns, nobody else's
        assert _turns(api, cid, ks)[-1] == f"我是{cid}", cid  # type: ignore[index]
    answer = api.post("/v1/suggest", json={"shop_id": "demo-ks", "conversation_id": "a",
                                           "use_llm": False}, headers=ks)  # fmt: skip
    assert answer.status_code == 200, answer.text
    # shop conv is whole: listed by every admin key with its policy's name, its stats answer
    shops = api.get("/v1/shops", headers=admin)
    assert shops.status_code == 200, shops.text
    assert {s["shop_id"]: s["name"] for s in shops.json()["shops"]}["conv"] == "会话小店"
    assert api.get("/v1/shops/conv/stats", headers=admin).status_code == 200
    assert service_app.state.services.redis.type(KEYS.shop("conv", "policy")) == b"string"
    # an id outside the pattern ('%', spaces) is refused by name, never stored nor a 5xx
    for cid in ("x%25y", "x%3Ay%20z"):
        refused = api.post(f"/v1/conversations/{cid}/turns",
                           json={"shop_id": "demo-ks", "turns": _say("在吗")}, headers=ks)  # fmt: skip
        assert refused.status_code == 422, refused.text
        assert "conversation_id" in refused.text


def test_two_shops_using_the_same_id_have_two_conversations(
    api: TestClient, auth: Auth, service_app: FastAPI
) -> None:
    pdd, ks = auth(shops=["demo-pdd"]), auth(shops=["demo-ks"])
    made = {}
    for shop, headers, text in (("demo-pdd", pdd, "包邮吗"), ("demo-ks", ks, "有优惠券吗")):
        response = api.post("/v1/suggest", json={"shop_id": shop, "conversation_id": "c-1",
                                                 "turns": _say(text), "use_llm": False},
                            headers=headers)  # fmt: skip
        assert response.status_code == 200, response.text
        made[shop] = response.json()["suggestion_id"]
    assert _turns(api, "c-1", pdd) == ["包邮吗"] and _turns(api, "c-1", ks) == ["有优惠券吗"]
    # a new customer turn in one shop's c-1 supersedes no stream of the other's
    store = service_app.state.services.conversations
    before = store.generation("demo-ks", "c-1")
    api.post("/v1/conversations/c-1/turns", json={"shop_id": "demo-pdd", "turns": _say("在吗")},
             headers=pdd)  # fmt: skip
    assert store.generation("demo-ks", "c-1") == before
    # another shop's id is unknown here: 404, exactly as an id nobody uses
    api.post("/v1/conversations/ks-only-1/turns",
             json={"shop_id": "demo-ks", "turns": _say("在吗")}, headers=ks)  # fmt: skip
    for cid in ("ks-only-1", "nobody-uses-this-1"):
        response = api.get(f"/v1/conversations/{cid}", headers=pdd)
        assert (
            response.status_code == 404 and response.json()["error"]["field"] == "conversation_id"
        )
        response = api.post("/v1/suggest", json={"shop_id": "demo-pdd", "conversation_id": cid},
                            headers=pdd)  # fmt: skip
        assert response.status_code == 404, response.text
    # feedback on each shop's suggestion lands in that shop's stats
    sent = api.post("/v1/feedback", json={"suggestion_id": made["demo-ks"], "action": "shown"},
                    headers=ks)  # fmt: skip
    assert sent.status_code == 202, sent.text
    stats = api.get("/v1/shops/demo-ks/stats", headers=auth(role="trainer", shops=["demo-ks"]))
    assert stats.status_code == 200 and stats.json()["shown"] >= 1


def _plant(client: redis.Redis, embedder: Embedder, now: float) -> str:
    """What a live Redis held after the attack, in the old layout, plus damaged keys where
    start-up reads. -> an admin key."""
    knowledge = KnowledgeBase(KBStore(client), embedder)
    for shop in ("conv", "cups", "broken"):
        knowledge.add(shop, [entry_from_dict(shop, {**FAQ, "id": f"{shop}-ship"})])
    raw = client
    # demo-ks's conversation `policy` took shop conv's policy key (old start-up: WRONGTYPE)
    raw.hset("copilot:conv:policy", mapping={"shop_id": "demo-ks", "updated": now,
                                             "last_text": "我是policy"})  # fmt: skip
    raw.rpush("copilot:conv:policy:turns",
              json.dumps({"role": "customer", "text": "我是policy", "ts": now}))  # fmt: skip
    raw.zadd("copilot:demo-ks:conversations", {"policy": now})
    record = {"suggestion_id": "s_old1", "shop_id": "cups", "conversation_id": "c-1", "ts": now,
              "customer_msg": "什么时候发货", "intent": "物流", "confidence": 0.9,
              "route": "assist", "queue": None, "retrieval_confident": True,
              "candidates": [{"id": "s_old1:1", "text": "亲，48小时内发货哦~", "role": "answer",
                              "source": "kb", "kb_entry_ids": ["cups-ship"]}]}  # fmt: skip
    raw.set("copilot:suggestion:s_old1", json.dumps(record))
    raw.zadd("copilot:cups:suggestions", {"s_old1": now})
    raw.xadd("copilot:cups:feedback", {"sid": "s_old1", "cid": "s_old1:1", "action": "sent",
                                       "text": "亲，48小时内发货哦~", "ms": "", "ts": repr(now)})  # fmt: skip
    # damage where start-up reads: policies of the wrong type and garbage, an unreadable KB
    # entry, the layout marker and the demo-day hash of the wrong type
    raw.set(KEYS.shop("cups", "policy"), "{not json")
    raw.rpush(KEYS.shop("broken", "policy"), "not a string")
    raw.hset("kb:broken:entries", "broken-ship", "{garbage")
    raw.rpush(KEYS.layout, "not a marker")
    raw.set(KEYS.demo_days, "not a hash")
    return KeyStore(raw).create("admin", ["*"], "attack test")[1]


@pytest.mark.slow  # a second app: its own models
def test_a_restart_on_old_and_damaged_data_starts_and_keeps_everything(
    tmp_path: Path, embedder: Embedder, service_settings: Settings, clock: Clock
) -> None:
    client = connect(RedisConfig(data_dir=tmp_path))
    try:
        admin = {"Authorization": f"Bearer {_plant(client, embedder, timestamp(clock))}"}
        settings = service_settings.model_copy(update={
            "redis_url": f"unix://{client.socket_file}",  # type: ignore[attr-defined]
            "llm_backend": "none", "data_dir": tmp_path / "data",
        })  # fmt: skip
        with TestClient(create_app(settings)) as restarted:
            shops = restarted.get("/v1/shops", headers=admin)
            assert shops.status_code == 200, shops.text
            assert {"conv", "cups", "broken"} <= {s["shop_id"] for s in shops.json()["shops"]}
            assert _turns(restarted, "policy", admin, "demo-ks") == ["我是policy"]
            stats = restarted.get("/v1/shops/cups/stats", headers=admin).json()
            assert stats["shown"] == 1 and stats["accepted"] == 1, stats
            answer = restarted.post("/v1/suggest", headers=admin, json={
                "shop_id": "conv", "conversation_id": "policy", "turns": _say("什么时候发货"),
                "use_llm": False})  # fmt: skip
            assert answer.status_code == 200, answer.text
            assert not client.exists("copilot:conv:policy")  # moved, not copied
    finally:
        close(client)
