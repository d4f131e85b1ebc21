"""Offers and order facts told as the shop's sheet has them: a coupon claimed first is not "applied
automatically", the agents' own apology coupon is not offered unasked, a new customer's discount
is not counted for someone who may have bought before, a flash-sale item is not re-priced at the
list price, an option said short ("皮革双层的") is the option meant, and a rule written for both
sides of shipping is said for this order's side. Records built in code, no models."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import computed_answers, promotion_listing
from copilot.grounding.focus import product_focus
from copilot.grounding.order_branches import this_orders_branch
from copilot.types import Candidate, Conversation, Order, OrderItem, Source, Turn
from kb.files.codec import parse_rule
from kb.types import Product, Promotion, Variant

SHOP = "car"
DAY = date(2026, 12, 6)
MAT = Product(
    SHOP, "CA-JD02", "专车专用全包围汽车脚垫", Decimal(139),
    (Variant("TPE单层（只有黑色）", Decimal(139)), Variant("皮革+丝圈双层（黑/黑红/米）", Decimal(199))),
)  # fmt: skip
EARRING = Product(SHOP, "YX-E01", "小星星耳钉", Decimal(22),
                  (Variant("一对", Decimal(39)), Variant("单只", Decimal(22))))  # fmt: skip


def promotion(pid: str, title: str, rule: str, description: str = "") -> Promotion:
    return Promotion(SHOP, pid, title, rule, parse_rule(rule), (), date(2026, 12, 1),
                     date(2026, 12, 12), description)  # fmt: skip


DOUBLE12 = promotion("p-12", "双12年终大促", "满99减10", "小黄车领券，自动取最高档")
NEWCOMER = replace(promotion("p-new", "新客首单立减", "立减5元"), starts=None, ends=None)
SOOTHING = promotion("p-calm", "安抚券", "5元无门槛券", "别主动拿出来发，客人有情绪再用")
CATALOG = Catalog.from_entries(SHOP, 1, [MAT, EARRING, DOUBLE12, NEWCOMER, SOOTHING])


def chat(text: str, order: Order | None = None) -> Conversation:
    return Conversation(SHOP, (Turn("customer", text),), order)


def answers(text: str, order: Order | None = None, label: str = "price_promotion") -> list[str]:
    conversation = chat(text, order)
    focus = product_focus(conversation, CATALOG)
    found, _, _ = computed_answers(conversation, focus, CATALOG, label, DAY)
    return [c.text for c in found]


def test_a_coupon_claimed_first_is_not_applied_automatically() -> None:
    listing = promotion_listing(CATALOG, DAY)
    assert listing is not None and "满99减10" in listing.text
    assert "自动计算" not in listing.text  # "自动取最高档" picks a tier; the coupon is claimed
    alone = Catalog.from_entries(SHOP, 1, [promotion("p-auto", "双12", "满99减10", "下单自动减")])
    automatic = promotion_listing(alone, DAY)
    assert automatic is not None and "下单时自动计算优惠" in automatic.text


def test_the_agents_own_coupon_is_never_offered_unasked() -> None:
    listing = promotion_listing(CATALOG, DAY)
    assert listing is not None and "安抚券" not in listing.text
    assert all("无门槛" not in text for text in answers("脚垫有什么优惠"))


def test_a_new_customers_discount_is_not_said_to_a_returning_customer() -> None:
    (said,) = answers("TPE单层的脚垫多少钱", label="product_question")
    assert "满99减10" in said and "首单" not in said and "立减5元" not in said


def test_an_option_said_short_is_the_option_meant() -> None:
    focus = product_focus(chat("皮革双层的一共多少钱"), CATALOG)
    assert focus.product is MAT and focus.variant == "皮革+丝圈双层（黑/黑红/米）"
    (quoted,) = answers("皮革双层的有优惠吗")
    assert "¥199" in quoted and "¥139" not in quoted
    # said of neither option alone: no option is chosen
    assert product_focus(chat("脚垫单层双层哪个好"), CATALOG).variant is None


def test_a_flash_sale_item_is_not_quoted_at_the_list_price() -> None:
    flash = Order("unpaid", (OrderItem("YX-E01", 1, variant="一对（秒杀）"),))
    found = answers("我秒杀了星星耳钉 咋没减", flash)
    assert all("合计" not in text and "实付" not in text for text in found)


PAID = Order("paid", (OrderItem("CA-JD02", 1),))


@pytest.mark.parametrize(
    ("rule", "before", "after"),
    [
        (
            "亲，没发货：地址可以在订单页自助修改，或者发给客服改；已发货：不能改，可以自己联系快递转寄",
            "亲，没发货：地址可以在订单页自助修改，或者发给客服改",
            "亲，已发货：不能改，可以自己联系快递转寄",
        ),
        # clauses opening with their side, no colon; a clause of neither side stays
        (
            "亲，未发货前可以改（您自己在订单里改，或发给这边帮改）；已发货无法修改，"
            "只能拿单号联系快递改派（是否收费快递说了算）。有问题随时找我们",
            "亲，未发货前可以改（您自己在订单里改，或发给这边帮改）；有问题随时找我们",
            "亲，已发货无法修改，只能拿单号联系快递改派（是否收费快递说了算）。有问题随时找我们",
        ),
    ],
)
def test_a_rule_for_both_sides_of_shipping_is_said_for_this_orders_side(
    rule: str, before: str, after: str
) -> None:
    candidate = Candidate(rule, "answer", Source(kb_entry_ids=("pol",)), 0.6)
    assert this_orders_branch(candidate, PAID).text == before
    assert this_orders_branch(candidate, replace(PAID, status="shipped")).text == after
    assert this_orders_branch(candidate, None) is candidate


def test_a_sentence_for_unpaid_orders_is_said_to_unpaid_orders_only() -> None:
    rule = Candidate(
        "未发货：可以改，订单详情页自己改。\n已发货：系统改不了，可联系快递员转寄。\n"
        "未付款订单改不了规格，取消后重新拍。",
        "answer", Source(kb_entry_ids=("pol",)), 0.6,
    )  # fmt: skip
    unpaid = this_orders_branch(rule, replace(PAID, status="unpaid")).text
    assert unpaid == "未付款订单改不了规格，取消后重新拍。"
    assert this_orders_branch(rule, PAID).text == "未发货：可以改，订单详情页自己改。"
    shipped = this_orders_branch(rule, replace(PAID, status="shipped")).text
    assert shipped == "已发货：系统改不了，可联系快递员转寄。"


def test_a_rule_naming_one_side_of_shipping_only_is_not_cut() -> None:
    # "发货后2-4天到" is how long it travels, not a branch
    travel = Candidate(
        "付款后48小时内发货，发货后2-4天到", "answer", Source(kb_entry_ids=("p",)), 0.6
    )
    assert this_orders_branch(travel, replace(PAID, status="shipped")) is travel


def test_a_customer_who_says_they_are_new_gets_the_new_customers_discount() -> None:
    (said,) = answers("第一次在你们家买 TPE单层的脚垫多少钱", label="product_question")
    assert "立减5元" in said
