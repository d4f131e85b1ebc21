"""History banks' indexes in the byte-bounded shop cache (kb/storage/shop_cache.py): an evicted bank
is rebuilt from Redis with the same answers, and concurrent misses build it once."""

from __future__ import annotations

import time

import pytest
import redis
from concurrency import ask_at_once

from copilot.history.bank import ResponseBank
from copilot.history.index import BankIndex
from copilot.types import Conversation, Turn
from kb.models.embedder import Embedder
from kb.storage.shop_cache import ShopCache


def test_a_history_bank_rebuilt_after_eviction_answers_as_before(
    redis_client: redis.Redis, embedder: Embedder
) -> None:
    writer = ResponseBank(redis_client, embedder)
    for shop_id, reply in (
        ("shop-a", "亲，付款后48小时内发货哦"),
        ("shop-b", "您好，今天17点前下单当天发"),
    ):
        conversations = [
            Conversation(shop_id, (Turn("customer", q), Turn("agent", reply)), conversation_id=f"c{i}")
            for i, q in enumerate(["什么时候发货", "多久能发货", "几天发货啊"])
        ]  # fmt: skip
        writer.import_conversations(shop_id, conversations)
    bank = ResponseBank(redis_client, embedder, cache=ShopCache(0))
    before = bank.search("shop-a", "啥时候发货呀")
    assert [hit.text for hit in before] == ["亲，付款后48小时内发货哦"]
    bank.search("shop-b", "啥时候发货呀")
    assert set(bank.held()) == {"shop-b"}
    assert bank.search("shop-a", "啥时候发货呀") == before
    assert bank.builds == 3


def test_concurrent_misses_of_a_bank_build_it_once(
    redis_client: redis.Redis, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = Conversation(
        "shop-a", (Turn("customer", "什么时候发货"), Turn("agent", "亲，48小时内发货哦")), conversation_id="c"
    )  # fmt: skip
    ResponseBank(redis_client, embedder).import_conversations("shop-a", [conversation])
    build = BankIndex.build

    def build_slowly(*parts: object) -> BankIndex:
        time.sleep(0.3)
        return build(*parts)  # type: ignore[arg-type]

    monkeypatch.setattr(BankIndex, "build", build_slowly)
    bank = ResponseBank(redis_client, embedder)
    got = ask_at_once(lambda: bank.search("shop-a", "几天发货"))
    assert bank.builds == 1
    assert all(hits == got[0] for hits in got) and got[0]
