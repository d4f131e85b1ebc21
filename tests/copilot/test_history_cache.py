"""History banks' indexes in the byte-bounded shop cache (kb/storage/shop_cache.py): an evicted bank
is rebuilt from Redis with the same answers, and concurrent misses build it once."""

from __future__ import annotations

import time

import pytest
import redis
from concurrency import ask_at_once

from copilot.history.bank import ResponseBank
from copilot.history.index import BankIndex, neighbour_pick
from copilot.history.mining import HistoryConfig
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

    def build_slowly(*parts: object, **options: bool) -> BankIndex:
        time.sleep(0.3)
        return build(*parts, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(BankIndex, "build", build_slowly)
    bank = ResponseBank(redis_client, embedder)
    got = ask_at_once(lambda: bank.search("shop-a", "几天发货"))
    assert bank.builds == 1
    assert all(hits == got[0] for hits in got) and got[0]


def test_a_bank_for_the_neighbour_vote_holds_no_keyword_index_and_answers_the_same(
    redis_client: redis.Redis, embedder: Embedder
) -> None:
    replies = {"什么时候发货": "亲，付款后48小时内发货哦", "能开发票吗": "可以的亲，下单备注抬头",
               "保温多久": "亲，保温12小时左右哦", "有赠品吗": "亲，送杯刷一个"}  # fmt: skip
    conversations = [
        Conversation("shop-a", (Turn("customer", q), Turn("agent", a)), conversation_id=f"c{i}")
        for i, (q, a) in enumerate(replies.items())
    ]
    ResponseBank(redis_client, embedder).import_conversations("shop-a", conversations)
    cache = ShopCache()
    voting = ResponseBank(redis_client, embedder, cache=cache)
    scoring = ResponseBank(redis_client, embedder, HistoryConfig(selection="score"), cache=cache)
    first = voting.search("shop-a", "啥时候发货呀")[0]
    assert first.text == replies["什么时候发货"]
    lean, full = voting.index("shop-a"), scoring.index("shop-a")
    assert lean is not None and full is not None
    assert lean.keyword is None and not lean.unit_context
    assert full.keyword is not None and len(full.unit_context) == len(full.unit_reply)
    assert lean.resident_bytes() < full.resident_bytes()
    assert full.keyword_units("发票怎么开", 3)  # what rerank reads is there
    config = HistoryConfig()
    for asked in ["啥时候发货呀", "发票怎么开", "能保温几个小时"]:
        vector = embedder.embed_batch([asked], role="query")[0]
        assert neighbour_pick(lean, vector, None, None, 3, config) == neighbour_pick(
            full, vector, None, None, 3, config
        )
