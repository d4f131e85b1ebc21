"""A quote of one product ("¥59×1，合计¥59；再加¥40可享满99减10") is offered where the customer asks
what it costs with the offers, and not where the quote answers something else: the offers asked
about only by the intent guess, options compared, a promotion named, a basket of more than the
product in focus. The judges graded those quotes 0 on unseen shops. Records built in code, no
models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import computed_answers
from copilot.grounding.focus import product_focus
from copilot.grounding.named_promotions import promotion_named
from copilot.types import Conversation, Order, OrderItem, Turn
from kb.files.codec import parse_rule
from kb.types import Product, Promotion

SHOP = "garden"
DAY = date(2026, 12, 6)
SOIL = Product(SHOP, "GP-301", "通用营养土 50L大包", Decimal(59))
POT = Product(SHOP, "GP-302", "北欧陶瓷花盆", Decimal(29))
DOUBLE12 = Promotion(
    SHOP, "p-12", "双12年终园艺季", "满99减10", parse_rule("满99减10"), (),
    date(2026, 12, 1), date(2026, 12, 12), "",
)  # fmt: skip
CATALOG = Catalog.from_entries(SHOP, 1, [SOIL, POT, DOUBLE12])


def quoted(text: str, *, label: str = "price_promotion", order: Order | None = None) -> bool:
    conversation = Conversation(SHOP, (Turn("customer", text),), order)
    focus = product_focus(conversation, CATALOG)
    found, _, the_quote = computed_answers(conversation, focus, CATALOG, label, DAY)
    assert (the_quote is not None) == any("合计" in c.text for c in found)
    return the_quote is not None


def test_a_question_of_what_the_product_costs_with_the_offers_is_quoted() -> None:
    assert quoted("营养土有优惠吗")
    assert quoted("营养土买两袋到手多少钱")
    assert quoted("营养土买两袋一共多少钱")


def test_the_intent_guess_alone_asks_no_quote() -> None:
    assert not quoted("营养土发新疆吗 包邮不")
    assert quoted("营养土发新疆吗 有优惠不")


def test_options_compared_are_not_quoted_as_one() -> None:
    assert not quoted("营养土买一袋还是两袋划算")


def test_a_promotion_named_is_answered_by_its_own_standing_not_a_quote() -> None:
    assert promotion_named("双12营养土有活动吗", CATALOG.promotions, DAY)
    assert not promotion_named("营养土有优惠吗", CATALOG.promotions, DAY)
    assert not quoted("双12营养土有活动吗")


def test_a_basket_of_more_than_the_product_in_focus_is_not_quoted_as_it() -> None:
    assert not quoted("营养土跟花盆一起买能便宜吗")
    assert not quoted("59的营养土加29的花盆 有优惠吗")
    assert not quoted("营养土加个花盆 一共多少钱")
    # "750的" of a size is no price in the catalog: the product is still quoted
    assert quoted("营养土50L的有优惠吗")


def test_an_attached_cart_is_quoted_whatever_is_asked_with_it() -> None:
    cart = Order("unpaid", (OrderItem("GP-301", 1), OrderItem("GP-302", 1)))
    assert quoted("这俩一起买能减多少 还是分开买划算", order=cart)


def test_the_price_slip_in_the_parcel_and_cheap_goods_told_of_ask_no_quote() -> None:
    assert not quoted("营养土送人的 包裹里会不会有价格单啊", label="")
    assert not quoted("包裹里会不会有价格啊 营养土送人的", label="")
    assert not quoted("用便宜营养土烂过根 你家营养土透气吗", label="")
    assert quoted("营养土能便宜点吗", label="")
    asked = Conversation(SHOP, (Turn("customer", "营养土价格多少"),))
    found, _, _ = computed_answers(asked, product_focus(asked, CATALOG), CATALOG, "", DAY)
    assert any("¥59" in c.text for c in found)


def test_an_attached_cart_asks_no_quote_of_its_shipping_fee() -> None:
    cart = Order("unpaid", (OrderItem("GP-301", 1),))
    assert not quoted("发新疆吗 包邮不", order=cart)
    assert quoted("还没付呢 有优惠吗", order=cart)


def test_a_festival_promotion_named_is_answered_by_its_standing() -> None:
    national_day = Promotion(
        SHOP, "p-10", "国庆多肉节", "买多肉送熊童子", parse_rule("买多肉送熊童子"), (),
        date(2026, 10, 1), date(2026, 10, 7), "",
    )  # fmt: skip
    promotions = [*CATALOG.promotions, national_day]
    assert promotion_named("国庆那会儿买营养土送花盆 现在还有木有", promotions, DAY)
    assert not promotion_named("营养土现在还有木有", promotions, DAY)
