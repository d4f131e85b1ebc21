"""What the pipeline derives per shop leaves with the shop's index: with an index cache that
holds one shop, serving many keeps one shop's catalog, guardrail facts and adopted intents."""

from __future__ import annotations

from copilot.grounding.catalog import CatalogCache
from copilot.guardrails.facts import GuardrailFacts
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
