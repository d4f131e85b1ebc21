"""Shops' indexes are bounded by the bytes they hold: the least recently used go first, an
evicted shop is rebuilt from Redis on its next request with the same results, concurrent misses
build once, and a request holding an evicted index is still served by it. Real embedder, real
Redis, real FAISS and bm25s (the history banks: tests/copilot/test_history_cache.py)."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from concurrency import ask_at_once

from kb.files.codec import entry_from_dict
from kb.index import IndexCache, ShopIndex
from kb.knowledge import KnowledgeBase
from kb.storage.shop_cache import ShopCache
from kb.storage.store import ShopSnapshot
from kb.types import Entry, Hit

ITEMS = {"shop-a": "保温杯", "shop-b": "羽绒服", "shop-c": "折叠伞", "shop-big": "双肩背包"}
QUESTIONS = ["{item}能用洗碗机洗吗", "{item}多久能发货", "{item}保修多久", "{item}是什么材质的",
             "{item}可以开发票吗", "{item}怎么清洗", "{item}有赠品吗", "{item}会不会掉色"]  # fmt: skip


def shop_entries(shop_id: str, copies: int = 1) -> list[Entry]:
    """A product and an FAQ per question, `copies` times over (a bigger shop)."""
    item = ITEMS[shop_id]
    rows: list[dict[str, str]] = []
    for copy in range(copies):
        rows.append({"kind": "product", "id": f"p{copy}", "title": f"{item}{copy}号款",
                     "price": str(59 + copy), "selling_points": "包邮|七天无理由"})  # fmt: skip
        rows += [
            {"kind": "faq", "id": f"f{copy}-{i}", "question": f"{q.format(item=item)}{copy}号款",
             "answer": f"亲，{item}{copy}号款的第{i}个问题这样处理哦", "product_id": f"p{copy}"}
            for i, q in enumerate(QUESTIONS)
        ]  # fmt: skip
    return [entry_from_dict(shop_id, row) for row in rows]


@pytest.fixture()
def shops(kb: KnowledgeBase) -> KnowledgeBase:
    """Three small shops and one five times their size, in Redis."""
    for shop_id in ("shop-a", "shop-b", "shop-c"):
        kb.add(shop_id, shop_entries(shop_id))
    kb.add("shop-big", shop_entries("shop-big", copies=5))
    return kb


def bounded(kb: KnowledgeBase, max_bytes: int) -> KnowledgeBase:
    """Another process on the same Redis, its indexes bounded to `max_bytes`."""
    return KnowledgeBase(kb.store, kb.embedder, index_cache=ShopCache(max_bytes))


def sizes(kb: KnowledgeBase) -> dict[str, int]:
    return {shop: kb.indexes.get(shop).resident_bytes() for shop in ITEMS}


def answers(hits: list[Hit]) -> list[tuple[str, float, str]]:
    return [(hit.entry.id, hit.score, hit.matched_text) for hit in hits]


def test_the_least_recently_used_shops_go_once_their_bytes_are_spent(
    shops: KnowledgeBase,
) -> None:
    size = sizes(shops)
    small = max(size["shop-a"], size["shop-b"], size["shop-c"])
    assert size["shop-big"] > 3 * small  # the bound below holds three small or big and one
    knowledge = bounded(shops, size["shop-big"] + small)
    cache = knowledge.indexes.cache

    for shop in ("shop-a", "shop-b", "shop-big"):
        knowledge.search(shop, "多久能发货")
    assert set(knowledge.indexes.held()) == {"shop-b", "shop-big"}  # a was used least recently
    knowledge.search("shop-a", "多久能发货")  # built again; b is now the oldest
    assert set(knowledge.indexes.held()) == {"shop-big", "shop-a"}
    knowledge.search("shop-c", "多久能发货")
    knowledge.search("shop-b", "多久能发货")
    # the big shop gone, three small ones fit where two could not beside it
    assert set(knowledge.indexes.held()) == {"shop-a", "shop-b", "shop-c"}

    stats = cache.stats()
    assert knowledge.indexes.builds == 6 and stats.evictions == 3
    assert stats.bytes == sum(size[s] for s in ("shop-a", "shop-b", "shop-c"))
    assert stats.bytes <= stats.max_bytes


def test_cached_filters_count_and_can_push_a_shop_out(shops: KnowledgeBase) -> None:
    size = sizes(shops)
    knowledge = bounded(shops, size["shop-a"] + size["shop-b"])
    knowledge.search("shop-a", "多久能发货")
    knowledge.search("shop-b", "多久能发货")
    assert set(knowledge.indexes.held()) == {"shop-a", "shop-b"}
    before = knowledge.indexes.cache.stats().bytes
    units = len(knowledge.indexes.get("shop-b").units)
    for i in range(3):  # a filter per product: each a mask over b's units
        knowledge.search("shop-b", "多久能发货", product_id=f"p{i}")
    knowledge.search("shop-b", "多久能发货")  # measured again when used
    assert knowledge.indexes.cache.stats().bytes >= before + 3 * units * 4 - size["shop-a"]
    assert set(knowledge.indexes.held()) == {"shop-b"}  # b grew past the room a left


def test_a_shop_rebuilt_after_eviction_answers_as_before(shops: KnowledgeBase) -> None:
    knowledge = bounded(shops, 0)  # room for the last shop used only
    queries = ["保温杯多久能发货", "可以开发票吗", "怎么清洗"]
    before = [answers(knowledge.search("shop-a", q)) for q in queries]
    filtered = answers(knowledge.search("shop-a", "保修多久", kinds=["faq"], product_id="p0"))
    knowledge.search("shop-b", "多久能发货")
    assert set(knowledge.indexes.held()) == {"shop-b"}
    assert [answers(knowledge.search("shop-a", q)) for q in queries] == before
    assert (
        answers(knowledge.search("shop-a", "保修多久", kinds=["faq"], product_id="p0")) == filtered
    )
    assert knowledge.indexes.builds == 3
    assert before[0][0][0] == "f0-1"  # and they are the right answers, not merely equal ones


def slow(build: Callable[[ShopSnapshot], ShopIndex], seconds: float) -> Callable[..., ShopIndex]:
    def build_slowly(snapshot: ShopSnapshot) -> ShopIndex:
        time.sleep(seconds)  # a big shop: the window in which other requests miss too
        return build(snapshot)

    return build_slowly


def test_concurrent_misses_of_a_shop_build_it_once(shops: KnowledgeBase) -> None:
    indexes = IndexCache(shops.store, slow(ShopIndex.build, 0.3), ShopCache())
    got = ask_at_once(lambda: indexes.get("shop-a"))
    assert indexes.builds == 1
    assert all(index is got[0] for index in got)
    assert indexes.cache.stats().misses == 1


def test_a_failed_build_fails_its_waiters_and_the_next_request_builds_again(
    shops: KnowledgeBase,
) -> None:
    calls = 0

    def fails_first(snapshot: ShopSnapshot) -> ShopIndex:
        nonlocal calls
        calls += 1
        time.sleep(0.3)
        if calls == 1:
            raise RuntimeError("redis went away mid-build")
        return ShopIndex.build(snapshot)

    indexes = IndexCache(shops.store, fails_first, ShopCache())

    def get() -> object:
        try:
            return indexes.get("shop-a")
        except RuntimeError as exc:
            return exc

    got = ask_at_once(get)
    assert calls == 1 and all(isinstance(result, RuntimeError) for result in got)
    assert indexes.get("shop-a").shop_id == "shop-a" and calls == 2


def test_a_request_holding_an_evicted_index_is_still_served(shops: KnowledgeBase) -> None:
    knowledge = bounded(shops, 0)
    held = knowledge.indexes.get("shop-a")
    vector = knowledge.embedder.embed_batch(["保温杯多久能发货"], role="query")[0]
    dense, keyword = held.search_dense(vector, 5, None), held.search_keyword("多久能发货", 5, None)
    knowledge.search("shop-b", "多久能发货")
    assert not knowledge.indexes.holds("shop-a")
    assert held.search_dense(vector, 5, None) == dense
    assert held.search_keyword("多久能发货", 5, None) == keyword


def test_searches_racing_evictions_all_answer(shops: KnowledgeBase) -> None:
    """Two shops taking turns in a cache with room for one: every search meets evictions
    between its own index reads (KnowledgeBase.search and the retriever each get the index)."""
    knowledge = bounded(shops, 0)
    reference = {shop: answers(shops.search(shop, "多久能发货")) for shop in ("shop-a", "shop-b")}
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(
            lambda i: (shop := ("shop-a", "shop-b")[i % 2], answers(knowledge.search(shop, "多久能发货"))),
            range(40),
        ))  # fmt: skip
    assert all(result == reference[shop] for shop, result in found)
    assert knowledge.indexes.cache.stats().evictions > 0


def test_the_estimate_is_close_to_what_an_index_holds(shops: KnowledgeBase) -> None:
    """Python-side allocations (entries, units, keyword index) measured by tracemalloc, plus
    FAISS's vectors (allocated in C++, invisible to it): the estimate is within 30%."""
    knowledge = bounded(shops, 0)
    ShopIndex.build(shops.store.snapshot("shop-big"))  # tokenizer caches filled beforehand
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        index = knowledge.indexes.get("shop-big")
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    held = traced + index.dense.ntotal * index.dense.d * 4
    assert 0.7 < index.resident_bytes() / held < 1.3
