"""Keys, roles and shops through HTTP: who may do what."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient

from service.errors import KeyNotFound
from service.keys import KeyStore
from service.principals import Principal

SUGGEST = {
    "shop_id": "demo-pdd",
    "turns": [{"role": "customer", "text": "这个杯子能装开水吗"}],
    "use_llm": False,
}


def test_keys_are_stored_hashed_and_resolve_to_their_scope(redis_client: redis.Redis) -> None:
    keys = KeyStore(redis_client)
    key_id, plaintext = keys.create("trainer", ["demo-pdd", "demo-ks"], "培训师小王")
    dump = b"".join(redis_client.dump(k) or b"" for k in redis_client.keys("copilot:*"))
    assert plaintext.encode() not in dump
    principal = keys.lookup(plaintext)
    assert principal == Principal(key_id, "trainer", frozenset({"demo-pdd", "demo-ks"}), False)
    assert principal.allows("demo-ks") and not principal.allows("demo-express")
    assert keys.lookup(plaintext + "x") is None
    admin_id, admin = keys.create("admin", [], "")
    assert keys.lookup(admin) == Principal(admin_id, "admin", frozenset(), True)
    assert [i.key_id for i in keys.list()] == [key_id, admin_id]
    keys.revoke(key_id)
    assert keys.lookup(plaintext) is None
    assert keys.list()[0].revoked
    with pytest.raises(KeyNotFound):
        keys.revoke("k_nope")
    with pytest.raises(ValueError, match="shop"):
        keys.create("agent", [], "")
    with pytest.raises(ValueError, match="role"):
        keys.create("boss", ["demo-pdd"], "")  # type: ignore[arg-type]


def test_a_key_revoked_elsewhere_is_refused_at_once(redis_client: redis.Redis) -> None:
    """A replica remembers a key's scope after its first use, never whether it is revoked."""
    replica, cli = KeyStore(redis_client), KeyStore(redis_client)
    key_id, plaintext = cli.create("agent", ["demo-pdd"], "revoked from the command line")
    assert replica.lookup(plaintext) is not None
    assert replica.lookup(plaintext) is not None  # now from what it remembers
    cli.revoke(key_id)
    assert replica.lookup(plaintext) is None
    redis_client.delete(f"copilot:key:{key_id}")  # a record gone altogether: refused as well
    assert replica.lookup(plaintext) is None


def test_missing_unknown_and_revoked_keys_get_401(
    api: TestClient, make_key: Callable[..., str], auth: Callable[..., dict[str, str]]
) -> None:
    for headers in ({}, auth("cpk_not-a-key"), {"Authorization": "Basic abc"}):
        response = api.post("/v1/suggest", json=SUGGEST, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
    key = make_key("agent", ["demo-pdd"])
    assert api.post("/v1/suggest", json=SUGGEST, headers=auth(key)).status_code == 200
    keys: KeyStore = api.app.state.services.keys  # type: ignore[attr-defined]
    principal = keys.lookup(key)
    assert principal is not None
    keys.revoke(principal.key_id)
    assert api.post("/v1/suggest", json=SUGGEST, headers=auth(key)).status_code == 401


# (method, path, body, roles that may call it) for shop demo-pdd; "{sid}" is a pdd suggestion.
ROUTES: list[tuple[str, str, dict[str, object] | None, set[str]]] = [
    ("POST", "/v1/suggest", SUGGEST, {"agent"}),
    ("POST", "/v1/conversations/mx-1/turns",
     {"shop_id": "demo-pdd", "turns": [{"role": "agent", "text": "亲，在的"}]}, {"agent"}),
    ("GET", "/v1/conversations/mx-1?shop_id=demo-pdd", None, {"agent"}),
    ("GET", "/v1/shops/demo-pdd/conversations", None, {"agent"}),
    ("POST", "/v1/feedback", {"suggestion_id": "{sid}", "action": "shown"}, {"agent"}),
    ("GET", "/v1/shops/demo-pdd/stats?since=7d", None, {"trainer"}),
    ("GET", "/v1/shops/demo-pdd/gaps?since=7d", None, {"trainer"}),
    ("GET", "/v1/shops/demo-pdd/kb/entries?limit=2", None, {"trainer"}),
    ("GET", "/v1/shops/demo-pdd/kb/search?q=包邮吗", None, {"trainer"}),
]  # fmt: skip


def test_the_role_and_shop_matrix(
    api: TestClient, make_key: Callable[..., str], auth: Callable[..., dict[str, str]]
) -> None:
    """Every key x every route: the right role on its own shop passes, anything else is 403."""
    admin = auth(role="admin", shops=[])
    made = api.post("/v1/suggest", json={**SUGGEST, "conversation_id": "mx-1"}, headers=admin)
    sid = made.json()["suggestion_id"]
    keys = {
        (role, shop): make_key(role, [shop])
        for role in ("agent", "trainer")
        for shop in ("demo-pdd", "demo-ks")
    }
    keys[("admin", "*")] = make_key("admin", [])
    for (role, shop), key in keys.items():
        for method, path, body, roles in ROUTES:
            payload = None if body is None else {
                k: (sid if v == "{sid}" else v) for k, v in body.items()
            }  # fmt: skip
            response = api.request(method, path, json=payload, headers=auth(key))
            allowed = role == "admin" or (role in roles and shop == "demo-pdd")
            where = f"{role}@{shop} {method} {path}: {response.status_code} {response.text[:200]}"
            if allowed:
                assert response.status_code < 400, where
            else:
                assert response.status_code == 403, where
                assert response.json()["error"]["code"] == "forbidden", where
        shops = api.get("/v1/shops", headers=auth(key)).json()["shops"]
        visible = {s["shop_id"] for s in shops}
        assert visible == ({"demo-pdd", "demo-ks", "demo-express"} if shop == "*" else {shop}) or (
            shop == "*" and {"demo-pdd", "demo-ks", "demo-express"} <= visible
        ), (role, shop, visible)
