"""A problem the intent guess reads into a question asked before any purchase is not treated as
one: "多肉盲盒可以指定有熊童子吗" (read as missing_item) gets the shop's FAQ on the blind box first,
not the holding reply, and the FAQ about the blind box stays though the product in focus is the
熊童子 the message also names. Records built in code, no models."""

from __future__ import annotations

from decimal import Decimal

from copilot.agreement import a_check_comes_first
from copilot.grounding.catalog import Catalog
from copilot.grounding.faq_answers import focus_first
from copilot.grounding.focus import ProductFocus
from copilot.types import Candidate, Intent, Source
from kb.types import FAQ, Hit, Product, RetrieverScore

SHOP = "garden"
BOX = Product(SHOP, "GP-004", "多肉盲盒 10颗不重样", Decimal("29.9"))
BEAR = Product(SHOP, "GP-005", "熊童子多肉 小熊爪", Decimal("12.8"))
PICK = FAQ(SHOP, "f-pick", "多肉盲盒能指定品种吗？", "随机不重样，不能指定", product_id="GP-004")
CARE = FAQ(SHOP, "f-care", "熊童子怎么养？", "5℃以上，控水通风", product_id="GP-005")
CATALOG = Catalog.from_entries(SHOP, 1, [BOX, BEAR, PICK, CARE])


def hit(entry: FAQ, rank: int) -> Hit:
    ranks = {"dense": RetrieverScore(0.9, rank), "keyword": RetrieverScore(1.0, rank + 1)}
    return Hit(entry, 0.04, entry.question, "question", ranks)


def test_an_faq_about_a_product_the_message_names_stays_beside_the_focus() -> None:
    hits = [hit(PICK, 1), hit(CARE, 2)]
    focus = ProductFocus(BEAR)
    kept, _ = focus_first(hits, focus, CATALOG, "多肉盲盒可以指定有熊童子吗")
    assert [h.entry_id for h in kept] == ["f-pick", "f-care"]
    kept, _ = focus_first(hits, focus, CATALOG, "熊童子好养吗")
    assert [h.entry_id for h in kept] == ["f-care"]


def test_a_problem_only_the_guess_reads_gets_no_check_first() -> None:
    faq = Candidate("随机不重样，不能指定", "answer", Source(kb_entry_ids=("f-pick",)), 0.4)
    guessed = Intent("missing_item", 0.13, family="after_sales")
    assert not a_check_comes_first(guessed, faq, answered=False, bought=False)
    assert a_check_comes_first(guessed, faq, answered=False, bought=True)
    assert not a_check_comes_first(guessed, faq, answered=True, bought=True)
