"""Our demo shops: complete, self-consistent, isolated, and retrievable at the quality we claim."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kb.demo_shops import demo_shops
from kb.knowledge import KnowledgeBase
from kb.types import FAQ, Product, Promotion
from kb.units import index_units

pytestmark = pytest.mark.dates  # decides by the date: .ci/run runs it again a year ahead

LABELLED = Path(__file__).resolve().parents[2] / "bench" / "data" / "kb_questions.jsonl"


def labelled() -> list[dict[str, object]]:
    return [
        json.loads(line)
        for line in LABELLED.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_three_shops_with_every_kind(demo_kb: KnowledgeBase) -> None:
    assert {s.shop_id for s in demo_shops()} == {"demo-pdd", "demo-ks", "demo-express"}
    products = 0
    for shop in demo_shops():
        counts = demo_kb.stats(shop.shop_id).counts
        assert counts["promotion"] >= 2 and counts["policy"] >= 1 and counts["script"] >= 1
        assert counts["faq"] >= 10
        products += counts["product"]
    assert products >= 30


def test_references_stay_inside_their_shop(demo_kb: KnowledgeBase) -> None:
    titles: dict[str, str] = {}
    checked: Counter[str] = Counter()
    for shop in demo_shops():
        entries = demo_kb.entries(shop.shop_id)
        assert entries, shop.shop_id
        product_ids = {e.id for e in entries if isinstance(e, Product)}
        for entry in entries:
            if isinstance(entry, Product):
                assert set(entry.related) <= product_ids, entry.id
                assert titles.setdefault(entry.title, shop.shop_id) == shop.shop_id
                checked["related"] += bool(entry.related)
            if isinstance(entry, FAQ) and entry.product_id:
                assert entry.product_id in product_ids, entry.id
                checked["faq"] += 1
            if isinstance(entry, Promotion):
                assert set(entry.product_ids) <= product_ids, entry.id
                checked["promotion"] += bool(entry.product_ids)
    # each kind of reference is there to check, or the loops above prove nothing
    assert checked["related"] and checked["faq"] and checked["promotion"], checked


def test_labelled_questions_are_held_out_and_resolve(demo_kb: KnowledgeBase) -> None:
    rows = labelled()
    assert len(rows) >= 150
    by_shop = {s.shop_id: demo_kb.entries(s.shop_id) for s in demo_shops()}
    indexed = {
        shop: {u.text for e in entries for u in index_units(e)} for shop, entries in by_shop.items()
    }
    for row in rows:
        shop = str(row["shop_id"])
        ids = {e.id for e in by_shop[shop]}
        assert row["expected"], row  # an empty expectation would hold for any KB
        assert set(row["expected"]) <= ids, row  # type: ignore[arg-type]
        assert row["question"] not in indexed[shop], row


def test_demo_chats_are_conversations_of_their_shop() -> None:
    for shop in demo_shops():
        lines = shop.chats_file.read_text(encoding="utf-8").splitlines()
        assert len(lines) >= 3
        for line in lines:
            chat = json.loads(line)
            assert chat["shop_id"] == shop.shop_id
            roles = Counter(turn["role"] for turn in chat["turns"])
            assert set(roles) <= {"customer", "agent"} and roles["customer"] and roles["agent"]


@pytest.mark.slow
def test_hybrid_retrieval_quality_on_the_labelled_set(demo_kb: KnowledgeBase) -> None:
    """The retrieval bar (recall@3 >= 0.95, MRR >= 0.85) as a regression guard; bench prints more."""
    rows = labelled()
    found_at_3 = reciprocal = 0.0
    for row in rows:
        hits = demo_kb.search(str(row["shop_id"]), str(row["question"]), k=10)
        ranked = [h.entry_id for h in hits]
        assert all(h.entry.shop_id == row["shop_id"] for h in hits)
        rank = next((i for i, e in enumerate(ranked, 1) if e in row["expected"]), None)  # type: ignore[operator]
        found_at_3 += bool(rank and rank <= 3)
        reciprocal += 1 / rank if rank else 0
    assert found_at_3 / len(rows) >= 0.95
    assert reciprocal / len(rows) >= 0.85
