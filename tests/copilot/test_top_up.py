"""凑单: what to add to reach a running spend threshold, from the customer's own figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from copilot.grounding.catalog import Catalog
from copilot.grounding.top_up import top_up_answer
from copilot.types import Conversation, Turn
from kb.files.codec import parse_rule
from kb.types import Product, Promotion, Variant

SHOP = "stationery"
DAY = date(2026, 12, 6)
PEN = Product(SHOP, "QJ-GP01", "按动中性笔0.5mm", Decimal("2.5"))
INK = Product(SHOP, "QJ-INK01", "钢笔墨水30ml", Decimal("9.9"))
PENCIL = Product(
    SHOP, "QJ-SC02", "2B考试涂卡铅笔", Decimal("8.8"),
    (Variant("1支装", Decimal("4.5")), Variant("3支装", Decimal("8.8"))),
    usage_notes="库存：1支装缺货",
)  # fmt: skip
NOTEBOOK = Product(
    SHOP, "QJ-NB01", "A5牛皮纸笔记本", Decimal("5.9"), usage_notes="价格：5.9（双12直降4.9）"
)
PAPER = Product(SHOP, "QJ-A4", "A4复印纸 整箱", Decimal(139))
FOUNTAIN = Product(SHOP, "QJ-FP01", "金属商务钢笔 礼盒装", Decimal(89))


def _deal(pid: str, rule: str, ends: date = date(2026, 12, 12)) -> Promotion:
    return Promotion(SHOP, pid, f"年终囤货节（{rule}）", rule, parse_rule(rule), (), None, ends)


CATALOG = Catalog.from_entries(
    SHOP,
    1,
    [
        PEN,
        INK,
        PENCIL,
        NOTEBOOK,
        PAPER,
        FOUNTAIN,
        _deal("p59", "满59减6"),
        _deal("p199", "满199减25"),
    ],
)


def _said(*texts: str) -> Conversation:
    turns = [Turn("customer", t) if i % 2 == 0 else Turn("agent", t) for i, t in enumerate(texts)]
    return Conversation(SHOP, tuple(turns))


def test_the_gap_to_the_next_threshold_is_closed_for_least_by_options_in_stock() -> None:
    found = top_up_answer(
        _said("我购物车55块", "亲，在的", "那差4块 有啥便宜的能凑一下"), CATALOG, DAY
    )
    assert found is not None
    candidate, numbers = found
    # two ¥2.5 pens add least; the 1支装 at ¥4.5 is out and the notebook's list price is not
    # what is paid, so the pencils' 3支装 comes next
    assert candidate.text == (
        "亲，现在¥55，还差¥4到满59减6～可以加按动中性笔0.5mm¥2.5×2，合计¥60，满59减6后实付¥54"
        "；或者加2B考试涂卡铅笔（3支装）¥8.8～"
    )
    assert {Decimal(55), Decimal(4), Decimal(60), Decimal(54), Decimal(2)} <= set(numbers)
    assert candidate.source.kb_entry_ids == ("p59", "QJ-GP01", "QJ-SC02")


def test_the_prices_listed_make_the_sum_and_the_threshold_named_is_the_deal() -> None:
    chat = _said("复印纸139 加个墨水9.9 凑不到199", "亲～", "还差多少啊 有啥推荐凑的")
    found = top_up_answer(chat, CATALOG, DAY)
    assert found is not None
    text = found[0].text
    assert text.startswith("亲，现在¥148.9，还差¥50.1到满199减25～可以加金属商务钢笔 礼盒装¥89")
    assert "复印纸" not in text.split("～", 1)[1] and "墨水" not in text  # named: already bought


def test_a_gap_said_with_its_threshold_is_enough() -> None:
    found = top_up_answer(_said("差一毛钱满59啊😂 有办法吗"), CATALOG, DAY)
    assert found is not None and found[0].text.startswith(
        "亲，现在¥58.9，还差¥0.1到满59减6～可以加按动中性笔"
    )


def test_nothing_without_the_customers_sum_a_running_threshold_or_a_question() -> None:
    assert top_up_answer(_said("满59减6怎么用"), CATALOG, DAY) is None
    assert top_up_answer(_said("有啥便宜的能凑单吗"), CATALOG, DAY) is None  # no sum said
    assert top_up_answer(_said("差10块满100 有办法吗"), CATALOG, DAY) is None  # no such deal
    assert top_up_answer(_said("我购物车55块 能凑单吗"), CATALOG, date(2026, 12, 13)) is None
    assert top_up_answer(_said("我购物车250块 还能凑啥"), CATALOG, DAY) is None  # all reached
    # the deal's own figures (满59, 减6) are no amount of the cart
    assert top_up_answer(_said("凑单满59减6怎么算 我买了2支"), CATALOG, DAY) is None
