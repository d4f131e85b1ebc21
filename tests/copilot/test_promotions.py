"""Promotion math against sums done by hand: synthetic rules and the demo shops' real ones."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from dates import TEST_TODAY, demo_day

from copilot.grounding.promotions import PromotionQuote, quote, yuan
from copilot.types import Order, OrderItem
from kb.demo_shops import demo_shops
from kb.files.codec import parse_rule
from kb.types import Product, Promotion

pytestmark = pytest.mark.dates  # decides by the date: .ci/run runs it again a year ahead

D = Decimal
CUP = Product("s", "cup", "保温杯", D(89))
LID = Product("s", "lid", "杯盖", D("9.9"))
PRODUCTS = {p.id: p for p in (CUP, LID)}
Demo = dict[str, tuple[dict[str, Product], list[Promotion]]]


def promo(pid: str, rule: str, *, scope: tuple[str, ...] = (), description: str = "") -> Promotion:
    return Promotion("s", pid, rule, rule, parse_rule(rule), scope, description=description)


def order(*items: tuple[str, int]) -> Order:
    return Order("unpaid", tuple(OrderItem(pid, qty) for pid, qty in items))


@pytest.fixture(scope="module")
def demo() -> Demo:
    """Each demo shop's products and promotions, read from its files (no model needed)."""
    shops = {}
    for shop in demo_shops():
        entries = shop.entries(TEST_TODAY)
        products = {e.id: e for e in entries if isinstance(e, Product)}
        shops[shop.shop_id] = (products, [e for e in entries if isinstance(e, Promotion)])
    return shops


def demo_quote(demo: Demo, shop: str, items: list[OrderItem], day: date) -> PromotionQuote:
    products, promotions = demo[shop]
    return quote(Order("unpaid", tuple(items)), products, promotions, day)


@pytest.mark.parametrize(
    ("value", "text"),
    [("178", "¥178"), ("178.00", "¥178"), ("21.5", "¥21.5"), ("103.20", "¥103.2"), ("0", "¥0"),
     ("100", "¥100"), ("22.405", "¥22.41"), ("6.9", "¥6.9")],
)  # fmt: skip
def test_money_is_rendered_one_way(value: str, text: str) -> None:
    assert yuan(D(value)) == text


def test_two_cups_below_the_threshold_get_the_gap_as_a_nudge() -> None:
    q = quote(order(("cup", 2)), PRODUCTS, [promo("m199", "满199减20")], date(2026, 1, 1))
    assert (q.subtotal, q.discount, q.payable) == (D(178), D(0), D(178))
    assert q.applied == ()
    [nudge] = q.nudges
    assert (nudge.missing_amount, nudge.reward, nudge.text) == (
        D(21),
        D(20),
        "再加¥21可享满199减20",
    )
    assert q.sentences == (
        "保温杯¥89×2，合计¥178",
        "暂无可用优惠，实付¥178",
        "再加¥21可享满199减20",
    )
    assert D(21) in q.numbers() and D(178) in q.numbers()


def test_reaching_the_threshold_applies_it_once_not_per_multiple() -> None:
    q = quote(order(("cup", 5)), PRODUCTS, [promo("m199", "满199减20")], date(2026, 1, 1))
    assert (q.subtotal, q.discount, q.payable) == (D(445), D(20), D(425))
    assert q.nudges == ()


def test_the_threshold_itself_counts_as_reached() -> None:
    exact = Product("s", "exact", "礼盒", D(199))
    q = quote(order(("exact", 1)), {"exact": exact}, [promo("m199", "满199减20")], date(2026, 1, 1))
    assert q.payable == D(179)


def test_the_best_single_promotion_wins_when_several_apply() -> None:
    promotions = [promo("m100", "满100减10"), promo("p9", "9折"), promo("m150", "满150减25")]
    q = quote(order(("cup", 2)), PRODUCTS, promotions, date(2026, 1, 1))
    # 178: 满100减10 -> 10, 9折 -> 17.8, 满150减25 -> 25: only the best one applies.
    assert [a.promotion_id for a in q.applied] == ["m150"]
    assert {a.promotion_id: a.discount for a in q.applicable} == {
        "m100": D(10), "p9": D("17.80"), "m150": D(25),
    }  # fmt: skip
    assert q.payable == D(153)


def test_a_coupon_stacks_with_a_promotion_unless_either_says_otherwise() -> None:
    regular, coupon = promo("m100", "满100减10"), promo("c150", "店铺券满150减15")
    q = quote(order(("cup", 2)), PRODUCTS, [regular, coupon], date(2026, 1, 1))
    assert [a.promotion_id for a in q.applied] == ["m100", "c150"]
    assert q.payable == D(178 - 10 - 15)
    exclusive = promo("c150", "店铺券满150减15", description="不与全店满减叠加")
    q = quote(order(("cup", 2)), PRODUCTS, [regular, exclusive], date(2026, 1, 1))
    assert [a.promotion_id for a in q.applied] == ["c150"]
    assert q.payable == D(163)


def test_item_count_rules_only_count_items_in_scope_and_nudge_the_missing_ones() -> None:
    two_lids = promo("lids", "满2件9折", scope=("lid",))
    q = quote(order(("cup", 3), ("lid", 1)), PRODUCTS, [two_lids], date(2026, 1, 1))
    assert q.discount == D(0)
    assert [n.text for n in q.nudges] == ["再买1件可享满2件9折"]
    q = quote(order(("cup", 1), ("lid", 2)), PRODUCTS, [two_lids], date(2026, 1, 1))
    assert q.discount == D("1.98")  # 10% of 2 x 9.9, the cup is out of scope
    assert q.payable == D("106.82")  # 89 + 19.8 - 1.98


def test_direct_discounts_are_per_unit_and_never_below_zero() -> None:
    q = quote(order(("cup", 2), ("lid", 1)), PRODUCTS, [promo("d", "立减10元")], date(2026, 1, 1))
    assert q.discount == D("29.9")  # 10 + 10 + 9.9 (the lid costs less than 10)


def test_promotions_outside_their_dates_do_not_apply() -> None:
    dated = Promotion(
        "s",
        "dd",
        "双12",
        "满99减10",
        parse_rule("满99减10"),
        (),
        date(2026, 12, 1),
        date(2026, 12, 12),
    )
    assert quote(order(("cup", 2)), PRODUCTS, [dated], date(2026, 12, 12)).discount == D(10)
    assert quote(order(("cup", 2)), PRODUCTS, [dated], date(2026, 12, 13)).discount == D(0)
    assert quote(order(("cup", 2)), PRODUCTS, [dated], date(2026, 11, 30)).nudges == ()


def test_unit_prices_from_the_order_win_and_unknown_products_are_reported() -> None:
    items = (
        OrderItem("cup", 1, unit_price=D(80)),
        OrderItem("ghost", 1),
        OrderItem("gift", 1, D(5)),
    )
    q = quote(Order("unpaid", items), PRODUCTS, [], date(2026, 1, 1))
    assert q.subtotal == D(85)
    assert q.unknown_products == ("ghost",)


# The demo shops' own rules: each expectation is the sum the shop's KB text states.


def test_demo_pdd_two_750ml_cups_in_november(demo: Demo) -> None:
    q = demo_quote(demo, "demo-pdd", [OrderItem("pdd-p01", 2, variant="750ml")], demo_day(11, 15))
    assert (q.subtotal, q.payable) == (D(178), D(168))  # 满99减10
    assert [a.promotion_id for a in q.applied] == ["pdd-promo-01"]
    assert q.lines[0].label == "316不锈钢经典直身保温杯（750ml）"


def test_demo_pdd_accessories_nine_tenths_and_the_nudge_to_99(demo: Demo) -> None:
    items = [OrderItem("pdd-p05", 1), OrderItem("pdd-p06", 1)]  # 15 + 9.9
    q = demo_quote(demo, "demo-pdd", items, demo_day(11, 15))
    assert q.discount == D("2.49") and q.payable == D("22.41")
    assert [a.promotion_id for a in q.applied] == ["pdd-promo-02"]
    assert [n.text for n in q.nudges] == ["再加¥74.1可享满99减10"]


def test_demo_pdd_gift_box_at_eight_tenths_is_103_2(demo: Demo) -> None:
    q = demo_quote(demo, "demo-pdd", [OrderItem("pdd-p12", 1)], demo_day(12, 28))
    assert q.payable == D("103.2")  # the KB: 原价129元，到手103.2元


def test_demo_pdd_food_jar_direct_discount_by_variant(demo: Demo) -> None:
    q = demo_quote(demo, "demo-pdd", [OrderItem("pdd-p10", 1, variant="1000ml")], demo_day(12, 5))
    assert q.payable == D(89)  # the KB: 到手79元/89元


def test_demo_ks_down_jacket_coupon_does_not_stack_with_the_shop_discount(demo: Demo) -> None:
    q = demo_quote(demo, "demo-ks", [OrderItem("ks-p03", 1)], demo_day(12, 5))
    assert q.payable == D(359)  # the KB: 短款399元用券后到手359元
    assert [a.promotion_id for a in q.applied] == ["ks-promo-03"]
    assert {a.promotion_id for a in q.applicable} == {"ks-promo-01", "ks-promo-03"}


def test_demo_ks_live_room_hoodie_price_by_size(demo: Demo) -> None:
    for size, paid in (("M", 119), ("XXL", 129)):  # the KB: S-XL到手119元，XXL到手129元
        q = demo_quote(demo, "demo-ks", [OrderItem("ks-p01", 1, variant=size)], demo_day(11, 20))
        assert q.payable == D(paid)


def test_demo_express_packaging_needs_three_items(demo: Demo) -> None:
    two = demo_quote(demo, "demo-express", [OrderItem("exp-p06", 2)], demo_day(11, 15))
    assert two.discount == D(0)
    assert "再买1件可享满3件9折" in two.sentences
    three = demo_quote(demo, "demo-express", [OrderItem("exp-p06", 3)], demo_day(11, 15))
    assert three.discount == D("0.9") and three.payable == D("8.1")  # 3 x ¥3 at 9折


def test_a_running_cut_to_a_quoted_products_price_claims_no_payable() -> None:
    # "M1 4K套装直降30，到手219" sits in a shop-wide deal's note: the list price is not the price
    mouse = Product("s", "KA-M1", "键弧M1 无线游戏鼠标", D(249))
    sale = promo("p-1212", "满199减20", description="1. 全店可用；2. M1 4K套装直降30，到手219")
    q = quote(order(("KA-M1", 1)), {"KA-M1": mouse}, [sale], TEST_TODAY)
    assert q.price_cuts == ("M1 4K套装直降30，到手219",)
    text = "；".join(q.sentences)
    assert "到手价以下单页为准" in text and "实付" not in text and "直降30" in text
    # another product's cut is not this one's
    cup = quote(order(("cup", 1)), PRODUCTS, [sale], TEST_TODAY)
    assert cup.price_cuts == () and "实付" in "；".join(cup.sentences)
