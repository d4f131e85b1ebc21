"""Redis keys cannot collide, and keys of the old layout are moved to the new one, on a real
embedded Redis.

The old layout kept every shop's conversations at `copilot:conv:{id}` and a shop's own keys at
`copilot:{shop}:{name}`: a conversation called `policy` was shop `conv`'s policy, and an id
with ':' landed on another conversation's turns.
"""

from __future__ import annotations

import hashlib
import json
import threading

import redis

from copilot.clock import Clock, timestamp
from copilot.feedback.log import FeedbackEvent, FeedbackLog
from copilot.feedback.records import SuggestionLog
from copilot.policies import PolicyStore
from copilot.types import ShopPolicy, Turn
from kb.demo_shops import DEMO_DAYS_KEY, _loaded_days
from kb.storage.key_migration import KeyMigration, migrate_keys
from kb.storage.redis_keys import KEYS, escape, unescape
from service.conversations import ConversationStore
from service.keys import KeyStore

TRICKY_IDS = ["policy", "feedback", "conversations", "suggestions", "conv", "shop", "a",
              "a:turns", "a:gen", "x:y", "x%3Ay", "x%y", "{tag}", "a b", "a\nb", "*", ""]  # fmt: skip


def _store(client: redis.Redis, clock: Clock) -> ConversationStore:
    return ConversationStore(client, 3600, 50, clock=clock)


def test_escaping_is_injective_and_leaves_shop_ids_as_they_were() -> None:
    escaped = [escape(i) for i in TRICKY_IDS]
    assert len(set(escaped)) == len(TRICKY_IDS)
    assert all(":" not in e and " " not in e and "{" not in e for e in escaped)
    assert [unescape(e) for e in escaped] == TRICKY_IDS
    assert escape("demo-pdd_2") == "demo-pdd_2" and escape("s_3f9c2a") == "s_3f9c2a"


def test_no_two_things_share_a_key() -> None:
    keys = [KEYS.shop(shop, name) for shop in TRICKY_IDS
            for name in ("policy", "feedback", "conversations", "suggestions")]  # fmt: skip
    keys += [KEYS.conversation(shop, cid, part) for shop in TRICKY_IDS for cid in TRICKY_IDS
             for part in ("", "turns", "gen")]  # fmt: skip
    keys += [KEYS.suggestion(i) for i in TRICKY_IDS] + [KEYS.api_key(i) for i in TRICKY_IDS]
    assert len(set(keys)) == len(keys)


def test_ids_that_named_other_keys_are_conversations_of_their_own(
    redis_client: redis.Redis, clock: Clock
) -> None:
    store, policies = _store(redis_client, clock), PolicyStore(redis_client)
    policies.put(ShopPolicy("conv", shop_name="会话小店"))
    for cid in TRICKY_IDS[:-1]:
        store.write("conv", cid, [Turn("customer", f"我是{cid}")])
    for cid in TRICKY_IDS[:-1]:
        stored = store.get("conv", cid)
        assert stored is not None and [t.text for t in stored.turns] == [f"我是{cid}"], cid
    assert policies.get("conv").shop_name == "会话小店"
    assert redis_client.type(KEYS.shop("conv", "policy")) == b"string"
    # the same id in another shop is another conversation
    assert store.get("other", "policy") is None
    store.write("other", "policy", [Turn("customer", "别家的")])
    assert [t.text for t in store.get("conv", "policy").turns] == ["我是policy"]  # type: ignore[union-attr]


def _plant_old_layout(client: redis.Redis, now: float) -> None:
    """What the old code wrote: three conversations (`policy`, `a` and `a:b`), shop cups'
    policy, feedback, a suggestion and their indexes."""
    for cid, shop, texts in (("a", "demo-ks", ["在吗"]), ("a:b", "demo-ks", ["别的会话"]),
                             ("policy", "demo-pdd", ["包邮吗", "发货快吗"])):  # fmt: skip
        client.hset(f"copilot:conv:{cid}", mapping={"shop_id": shop, "updated": now,
                                                    "last_text": texts[-1]})  # fmt: skip
        client.rpush(f"copilot:conv:{cid}:turns",
                     *[json.dumps({"role": "customer", "text": t, "ts": now}) for t in texts])  # fmt: skip
        client.set(f"copilot:conv:{cid}:gen", 7)
        client.expire(f"copilot:conv:{cid}", 3600)
        client.zadd(f"copilot:{shop}:conversations", {cid: now})
    client.set("copilot:conv:policy:x", "not a conversation key: left alone")
    client.set("copilot:cups:policy", json.dumps({"shop_name": "杯子小店"}))
    record = {"suggestion_id": "s_old1", "shop_id": "cups", "conversation_id": "c-1", "ts": now,
              "customer_msg": "能开发票吗", "intent": "发票", "confidence": 0.9, "route": "assist",
              "queue": None, "retrieval_confident": True,
              "candidates": [{"id": "s_old1:1", "text": "可以的", "role": "answer",
                              "source": "kb", "kb_entry_ids": []}]}  # fmt: skip
    client.set("copilot:suggestion:s_old1", json.dumps(record))
    client.zadd("copilot:cups:suggestions", {"s_old1": now})
    client.xadd("copilot:cups:feedback", {"sid": "s_old1", "cid": "s_old1:1", "action": "sent",
                                          "text": "可以的", "ms": "", "ts": repr(now)})  # fmt: skip
    client.set("copilot:feedback_once:s_old1:s_old1:1:sent", 1, ex=3600)


def _check_new_layout(client: redis.Redis, clock: Clock, now: float) -> None:
    store = _store(client, clock)
    policy = store.get("demo-pdd", "policy")
    assert policy is not None and [t.text for t in policy.turns] == ["包邮吗", "发货快吗"]
    a, a_b = store.get("demo-ks", "a"), store.get("demo-ks", "a:b")
    assert a is not None and [t.text for t in a.turns] == ["在吗"]
    assert a_b is not None and [t.text for t in a_b.turns] == ["别的会话"]
    assert store.generation("demo-ks", "a") == 7
    assert client.ttl(KEYS.conversation("demo-ks", "a")) > 0  # the TTL moved with the key
    assert sorted(s.conversation_id for s in store.recent("demo-ks")) == ["a", "a:b"]
    assert PolicyStore(client).get("cups").shop_name == "杯子小店"
    records = SuggestionLog(client, clock=clock).recent("cups", now - 60)
    assert [r.suggestion_id for r in records] == ["s_old1"]
    feedback = FeedbackLog(client)
    assert [e.final_text for e in feedback.events("cups")] == ["可以的"]
    # the replay of an event stored before the upgrade still counts once
    assert feedback.append(FeedbackEvent("s_old1", "s_old1:1", "cups", "sent", "可以的")) == ""
    assert client.get("copilot:conv:policy:x") is not None
    assert not [k for k in client.scan_iter("copilot:conv:*") if not k.endswith(b"policy:x")]


def test_old_layout_keys_are_moved_once_and_read_as_before(
    redis_client: redis.Redis, clock: Clock
) -> None:
    now = timestamp(clock)
    _plant_old_layout(redis_client, now)
    outcomes = migrate_keys(redis_client)
    assert outcomes["moved"] == 9 and not outcomes["failed"], outcomes
    _check_new_layout(redis_client, clock, now)
    assert migrate_keys(redis_client) == {}  # done: later starts skip the scan
    redis_client.delete(KEYS.layout)
    assert not migrate_keys(redis_client)["moved"]  # and a second pass finds nothing to move
    _check_new_layout(redis_client, clock, now)


def test_two_replicas_migrating_at_once_move_each_key_once(
    redis_client: redis.Redis, clock: Clock
) -> None:
    now = timestamp(clock)
    _plant_old_layout(redis_client, now)
    results: list[object] = []
    runs = [threading.Thread(target=lambda: results.append(KeyMigration(redis_client).run()))
            for _ in range(2)]  # fmt: skip
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    assert sum(r["moved"] for r in results) == 9  # type: ignore[index]
    _check_new_layout(redis_client, clock, now)


def test_a_key_in_both_layouts_keeps_the_new_one_and_merges_indexes(
    redis_client: redis.Redis, clock: Clock
) -> None:
    redis_client.set("copilot:cups:policy", json.dumps({"shop_name": "旧名"}))
    redis_client.set(KEYS.shop("cups", "policy"), json.dumps({"shop_name": "新名"}))
    redis_client.zadd("copilot:cups:suggestions", {"s_a": 1.0})
    redis_client.zadd(KEYS.shop("cups", "suggestions"), {"s_b": 2.0})
    outcomes = migrate_keys(redis_client)
    assert outcomes["kept (both layouts)"] == 1 and outcomes["merged"] == 1
    assert PolicyStore(redis_client).get("cups").shop_name == "新名"
    assert redis_client.get("copilot:cups:policy") is not None  # nothing stored is lost
    assert redis_client.zrange(KEYS.shop("cups", "suggestions"), 0, -1) == [b"s_a", b"s_b"]


def test_damaged_keys_read_as_nothing_and_never_raise(redis_client: redis.Redis) -> None:
    redis_client.hset(KEYS.shop("conv", "policy"), "shop_name", "not a string")
    redis_client.set(KEYS.shop("junk", "policy"), "{not json")
    redis_client.set(KEYS.shop("list", "policy"), "[1, 2]")
    for shop in ("conv", "junk", "list"):
        assert PolicyStore(redis_client).get(shop).auto_reply is False  # the cautious defaults
    redis_client.set(DEMO_DAYS_KEY, "a string, not a hash")
    assert _loaded_days(redis_client) == {} and not redis_client.exists(DEMO_DAYS_KEY)
    redis_client.rpush(KEYS.layout, "a list")
    assert migrate_keys(redis_client) == {}  # the scan ran; the marker is rewritten
    assert redis_client.type(KEYS.layout) == b"string"
    # API key records that cannot be read grant nothing, and listing the keys still works
    redis_client.hset(KEYS.api_key("k_bad"), mapping={"role": "admin", "shops": "{oops",
                                                      "revoked": "0"})  # fmt: skip
    redis_client.rpush(KEYS.api_key("k_list"), "not a hash")
    for token, key_id in (("cpk_bad", "k_bad"), ("cpk_list", "k_list")):
        redis_client.set(KEYS.api_key_hash(hashlib.sha256(token.encode()).hexdigest()), key_id)
        redis_client.sadd(KEYS.api_keys, key_id)
    keys = KeyStore(redis_client)
    assert keys.lookup("cpk_bad") is None and keys.lookup("cpk_list") is None
    assert keys.list() == [] and keys.count() == 2
