"""A shop's keyword tokens are computed at import and stored, so rebuilding its index (after an
eviction, in another process) tokenises nothing; a shop stored before that still loads, answers
the same, and has its tokens written back once. Real embedder, Redis, FAISS and bm25s."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kb import unit_tokens
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.storage.shop_cache import ShopCache
from kb.tokens import TOKENIZER_VERSION, tokenize
from kb.types import Entry
from kb.units import index_units

SHOP = "cups"
QUESTIONS = ["保温杯能用洗碗机洗吗", "保温杯多久能发货", "保温杯保修多久", "保问杯是什么材质的"]


def entries() -> list[Entry]:
    rows = [{"kind": "product", "id": "p1", "title": "316不锈钢保温杯", "price": "89",
             "selling_points": "保温12小时|包邮"}]  # fmt: skip
    rows += [
        {"kind": "faq", "id": f"f{i}", "question": q, "answer": f"亲，第{i}个问题这样处理哦",
         "alt_questions": f"{q}呀|请问{q}"}
        for i, q in enumerate(QUESTIONS)
    ]  # fmt: skip
    return [entry_from_dict(SHOP, row) for row in rows]


@pytest.fixture()
def shop(kb: KnowledgeBase) -> KnowledgeBase:
    kb.add(SHOP, entries())
    return kb


@pytest.fixture()
def tokenised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts tokenised for index units from now on (the real tokenizer still runs)."""
    seen: list[str] = []

    def spy(text: str) -> list[str]:
        seen.append(text)
        return tokenize(text)

    monkeypatch.setattr(unit_tokens, "tokenize", spy)
    return seen


def another_process(kb: KnowledgeBase) -> KnowledgeBase:
    return KnowledgeBase(kb.store, kb.embedder, index_cache=ShopCache())


def stored(kb: KnowledgeBase) -> dict[str, str]:
    raw = kb.store.client.hgetall(f"kb:{SHOP}:tokens")
    return {k.decode(): v.decode() for k, v in raw.items()}


def answers(kb: KnowledgeBase) -> list[list[tuple[str, float]]]:
    asked = ["保温杯能放洗碗机吗", "baowenbei 保修", "什么材质", "发货要多久"]
    return [[(h.entry.id, h.score) for h in kb.search(SHOP, q, k=3)] for q in asked]


def test_import_stores_each_units_tokens(shop: KnowledgeBase) -> None:
    tokens = stored(shop)
    assert set(tokens) == {e.id for e in entries()}
    for entry in entries():
        units = index_units(entry)
        assert unit_tokens.decode(tokens[entry.id], len(units)) == [tokenize(u.text) for u in units]


def test_a_rebuild_tokenises_nothing(shop: KnowledgeBase, tokenised: list[str]) -> None:
    before = answers(shop)
    elsewhere = another_process(shop)
    assert answers(elsewhere) == before
    assert elsewhere.indexes.builds == 1
    assert tokenised == []


def test_a_shop_stored_without_tokens_answers_the_same_and_gets_them_once(
    shop: KnowledgeBase, tokenised: list[str]
) -> None:
    with_tokens, expected = answers(another_process(shop)), stored(shop)
    shop.store.client.delete(f"kb:{SHOP}:tokens")  # as a shop imported before tokens were
    version = shop.store.version(SHOP)

    first = another_process(shop)
    assert answers(first) == with_tokens
    assert len(tokenised) == sum(len(index_units(e)) for e in entries())
    assert stored(shop) == expected
    assert shop.store.version(SHOP) == version  # derived data: nothing to rebuild elsewhere

    tokenised.clear()
    assert answers(another_process(shop)) == with_tokens
    assert tokenised == []


def test_tokens_of_another_tokenizer_version_are_computed_again(
    shop: KnowledgeBase, tokenised: list[str]
) -> None:
    expected = stored(shop)
    old = {entry_id: "0\n" + raw.partition("\n")[2] for entry_id, raw in expected.items()}
    shop.store.client.hset(f"kb:{SHOP}:tokens", mapping=old)
    another_process(shop).search(SHOP, "保温杯", k=3)
    assert tokenised
    assert stored(shop) == expected
    assert all(raw.startswith(f"{TOKENIZER_VERSION}\n") for raw in stored(shop).values())


def test_tokens_follow_their_entry_through_every_change(shop: KnowledgeBase) -> None:
    changed = entry_from_dict(SHOP, {"kind": "faq", "id": "f0", "question": "杯盖漏水怎么办",
                                     "answer": "亲，请拧紧杯盖哦"})  # fmt: skip
    shop.add(SHOP, [changed])
    assert stored(shop)["f0"] == unit_tokens.entry_tokens(changed)
    shop.delete(SHOP, ["f1"])
    assert "f1" not in stored(shop)
    shop.add(SHOP, entries()[:2], replace_all=True)
    assert set(stored(shop)) == {"p1", "f0"}
    assert stored(shop)["f0"] == unit_tokens.entry_tokens(entries()[1])


def test_tokens_computed_for_an_old_version_are_not_written(shop: KnowledgeBase) -> None:
    shop.store.client.delete(f"kb:{SHOP}:tokens")
    old_version = shop.store.version(SHOP)
    shop.delete(SHOP, ["f3"])
    computed = unit_tokens.missing(entries(), {})
    assert not shop.store.keep_tokens(SHOP, old_version, computed)
    assert stored(shop) == {}
    assert shop.store.keep_tokens(SHOP, shop.store.version(SHOP), computed)
    assert set(stored(shop)) == {e.id for e in entries()}


@pytest.mark.parametrize(
    "units", [[], [[]], [["保温杯", "保温", "温杯"], []], [["a"], ["baowen", "wenbei"], ["x1.5"]]]
)
def test_the_encoding_gives_back_what_it_was_given(units: list[list[str]]) -> None:
    decode: Callable[[str, int], list[list[str]] | None] = unit_tokens.decode
    assert decode(unit_tokens.encode(units), len(units)) == units
    # no units and one unit without tokens encode alike: the entry's unit count tells them apart
    assert decode(unit_tokens.encode(units), len(units) + 2) is None
    assert decode("0\n" + unit_tokens.encode(units).partition("\n")[2], len(units)) is None
