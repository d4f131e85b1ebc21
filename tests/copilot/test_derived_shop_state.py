"""What the pipeline derives per shop leaves with the shop's index: with an index cache that
holds one shop, serving many keeps one shop's catalog, guardrail facts and adopted intents.
The other shops' names are one index for all shops, and the learned selectors' models live in
the byte-bounded cache themselves."""

from __future__ import annotations

import numpy as np
import redis

from copilot.grounding.catalog import CatalogCache
from copilot.guardrails.facts import GuardrailFacts
from copilot.history.selector import LearnedSelector, SelectorModel, SelectorStore
from copilot.intents.adoption import ScriptIntents
from copilot.types import Conversation, Intent
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.storage.shop_cache import ShopCache

SHOPS = ("shop-a", "shop-b", "shop-c")


class _Guess:
    def classify(self, conversation: Conversation) -> Intent:
        return Intent("greeting", 0.9)


def test_derived_state_follows_the_index_cache(kb: KnowledgeBase) -> None:
    for shop_id in SHOPS:
        rows = [
            {"kind": "faq", "id": f"{shop_id}-f1", "question": "发什么快递", "answer": "默认中通哦"},
            {"kind": "script", "id": f"{shop_id}-s1", "title": "进店欢迎", "text": "亲，在的～"},
        ]  # fmt: skip
        kb.add(shop_id, [entry_from_dict(shop_id, row) for row in rows])
    one_shop = KnowledgeBase(kb.store, kb.embedder, index_cache=ShopCache(0))
    catalogs, facts = CatalogCache(one_shop), GuardrailFacts(one_shop)
    adopted = ScriptIntents(one_shop, _Guess())
    for shop_id in SHOPS:
        catalogs.get(shop_id)
        facts.other_shops(shop_id)
        adopted.for_shop(shop_id)
    assert set(one_shop.indexes.held()) == {"shop-c"}
    assert set(catalogs._catalogs) == {"shop-c"}
    assert set(facts._facts) == set(facts._others) == {"shop-c"}
    assert set(adopted._held) == {"shop-c"}
    # an evicted shop is simply rebuilt
    assert catalogs.get("shop-a").shop_id == "shop-a" and set(catalogs._catalogs) == {"shop-a"}


def test_one_name_index_serves_every_shops_check(kb: KnowledgeBase) -> None:
    """Each held shop reads the one index of all shops' names (before, each held shop had its
    own index of every other shop's names: held shops x all shops)."""
    titles = {"shop-a": "316不锈钢保温杯", "shop-b": "加绒连帽卫衣", "shop-c": "碳纤维折叠伞"}
    for shop_id, title in titles.items():
        product = {"kind": "product", "id": f"{shop_id}-p1", "title": title, "price": "59"}
        kb.add(shop_id, [entry_from_dict(shop_id, product)])
    facts = GuardrailFacts(kb)
    views = {shop_id: facts.other_shops(shop_id) for shop_id in SHOPS}
    assert len({id(view.names) for view in views.values()}) == 1
    assert set(views["shop-a"].names.owners) >= {"加绒连帽卫衣", "shop-c-p1"}
    assert views["shop-a"].find("推荐加绒连帽卫衣和shop-c-p1") == [
        ("加绒连帽卫衣", "shop-b"), ("shop-c-p1", "shop-c"),
    ]  # fmt: skip
    assert views["shop-b"].find("推荐加绒连帽卫衣") == []  # its own product
    # a KB write anywhere: one new index, which every shop then reads
    kb.add("shop-c", [entry_from_dict("shop-c", {"kind": "product", "id": "shop-c-p2",
                                                 "title": "全自动晴雨伞", "price": "39"})])  # fmt: skip
    again = {shop_id: facts.other_shops(shop_id) for shop_id in SHOPS}
    assert len({id(view.names) for view in again.values()}) == 1
    assert again["shop-a"].names is not views["shop-a"].names
    assert again["shop-a"].find("全自动晴雨伞") == [("全自动晴雨伞", "shop-c")]


def test_a_name_this_shop_shares_with_another_is_still_the_others_unless_its_kb_says_it(
    kb: KnowledgeBase,
) -> None:
    shared = {"kind": "product", "id": "cup-1", "title": "经典款保温杯套装", "price": "59"}
    kb.add("shop-a", [entry_from_dict("shop-a", shared)])
    kb.add("shop-b", [entry_from_dict("shop-b", shared)])
    kb.add("shop-c", [entry_from_dict("shop-c", {"kind": "faq", "question": "有保温杯套装吗",
                                                 "answer": "有的，经典款保温杯套装"})])  # fmt: skip
    facts = GuardrailFacts(kb)
    assert facts.other_shops("shop-a").find("看看cup-1") == [("cup-1", "shop-b")]
    assert facts.other_shops("shop-b").find("看看cup-1") == [("cup-1", "shop-a")]
    assert facts.other_shops("shop-c").find("经典款保温杯套装") == []  # its KB says it too


def selector_model(seed: int, dim: int = 64, replies: int = 200) -> SelectorModel:
    rng = np.random.default_rng(seed)
    return SelectorModel(
        weights=rng.normal(size=(dim, 2 * dim)).astype(np.float32),
        bias=np.zeros(dim, dtype=np.float32), scale=10.0, blend=0.5,
        reply_ids=tuple(f"r{i}" for i in range(replies)),
        reply_vectors=rng.normal(size=(replies, dim)).astype(np.float32),
        bank_version=1, embedding_model="e5",
    )  # fmt: skip


def test_loaded_selector_models_are_bounded_by_the_cache(redis_client: redis.Redis) -> None:
    store = SelectorStore(redis_client)
    for n, shop_id in enumerate(SHOPS):
        store.save(shop_id, selector_model(n))
    one_model = selector_model(0)
    size = one_model.weights.nbytes + one_model.reply_vectors.nbytes
    cache = ShopCache(int(size * 1.5))  # room for one model
    selector = LearnedSelector(store, cache=cache)
    for shop_id in SHOPS:
        assert selector.model(shop_id, 1, "e5") is not None
    assert set(cache.held(selector.namespace)) == {"shop-c"}
    assert size <= cache.stats().bytes <= cache.max_bytes
    # an evicted model is read again, the same
    again = selector.model("shop-a", 1, "e5")
    assert again is not None and np.array_equal(again.weights, one_model.weights)
    assert set(cache.held(selector.namespace)) == {"shop-a"}
    assert selector.model("shop-a", 2, "e5") is None  # trained on another bank version
