"""A new shop's pre-sales questions as customers type them: "今天下单啥时候发" is a shipping
question (not the FAQ whose answer happens to say 下单); "一岁8个月" is one age, twenty months;
"6岁+" is six and up, and "3岁以下禁止" says whom a product is not for, no range it fits; "想买积木
哪款合适" weighs every 积木, not the one sharing a stray bigram with the question; a whole-shop
deal whose remark says "电动童车不参加满减" takes nothing off the electric car. Records built in
code, no models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from copilot.grounding.catalog import Catalog, tokens_of
from copilot.grounding.measures import Measure, measures_said, ranges
from copilot.grounding.order_stock import not_in_stock_said
from copilot.grounding.policy_answers import shipping_answer
from copilot.grounding.problem_replies import reports_problem
from copilot.grounding.promotions import quote
from copilot.grounding.rare_words import RareWordIndex
from copilot.grounding.recommendations import recommendation
from copilot.types import Conversation, Order, OrderItem, Turn
from kb.files.codec import parse_rule
from kb.types import FAQ, Policy, Product, Promotion, Variant

SHOP = "toys"
BIG = Product(
    SHOP, "BK-101", "大颗粒积木 收纳桶装", Decimal("39.9"), (Variant("80粒", Decimal("39.9")),),
    ("适用年龄：1.5岁+（18个月以上）", "单粒3.2cm大颗粒，不属于小零件"),
)  # fmt: skip
SMALL = Product(
    SHOP, "BK-102", "小颗粒拼装积木 城市系列", Decimal(79),
    (Variant("城市警察局 568片", Decimal(79)), Variant("两款合购", Decimal(158))),
    ("适用年龄：6岁+", "小零件/安全提示：含小零件，3岁以下禁止！"),
)  # fmt: skip
SHIPPING = Policy(SHOP, "p-ship", "other", "发货&快递", "16:00前付款当天发，16:00后次日发")
LIVE = FAQ(SHOP, "f-live", "直播间价格能用吗？", "直播价只在直播期间从直播间链接下单有效")
CATALOG = Catalog.from_entries(SHOP, 1, [BIG, SMALL, SHIPPING, LIVE])


def test_when_will_it_ship_as_customers_ask_it() -> None:
    for text in ("今天下单啥时候发啊 急用", "下单了几时发", "啥时候到"):
        found = shipping_answer(text, [], CATALOG)
        assert [c.source.kb_entry_ids for c in found] == [("p-ship",)], text


def test_a_purchase_word_is_no_rare_word() -> None:
    index = RareWordIndex.build([LIVE], tokens_of)
    assert index.best(tokens_of("今天下单啥时候发"), 0.1) is None
    assert index.best(tokens_of("直播间的价格"), 0.1) is not None


def test_an_age_in_years_and_months_is_one_age() -> None:
    assert measures_said("宝宝一岁8个月了") == [Measure("month", 20.0, 20.0)]
    assert measures_said("两岁零三个月") == [Measure("month", 27.0, 27.0)]


def test_a_plus_is_and_up_and_a_prohibition_is_no_range() -> None:
    assert ranges("适用年龄：6岁+") == [Measure("month", 72.0, float("inf"))]
    assert ranges("含小零件，3岁以下禁止！") == []
    assert ranges("适用1-3岁") == [Measure("month", 12.0, 36.0)]


def test_the_product_for_a_toddler_is_recommended_not_the_one_forbidden_to_them() -> None:
    chat = Conversation(SHOP, (Turn("customer", "保宝一岁8个月了 想买积木 哪款合适啊"),))
    found = recommendation(chat, CATALOG)
    assert found is not None and found.source.kb_entry_ids == ("BK-101",)
    assert "小颗粒" not in found.text


def test_no_usual_shipping_time_once_the_option_is_said_not_in_stock() -> None:
    presale = Conversation(SHOP, (
        Turn("customer", "h7白色有货吗"), Turn("agent", "亲，白色目前是预售的哦"),
        Turn("customer", "那现在拍啥时候发 赶着送人"),
    ))  # fmt: skip
    assert not_in_stock_said(presale)
    assert not not_in_stock_said(Conversation(SHOP, (Turn("customer", "今天下单啥时候发"),)))


def test_a_wrong_colour_received_is_a_problem_reported_and_a_good_one_is_not() -> None:
    order = Order("delivered", (OrderItem("BK-101", variant="80粒"),))

    def reported(text: str) -> bool:
        return reports_problem(Conversation(SHOP, (Turn("customer", text),), order), CATALOG)

    assert reported("我买的80粒 收到是120粒的？？")
    assert not reported("收到是好的 谢谢")


def test_a_product_a_whole_shop_deal_leaves_out_gets_nothing_off() -> None:
    car = Product(SHOP, "RD-502", "儿童电动汽车 四轮", Decimal(599))
    deal = Promotion(
        SHOP, "p-fest", "年终玩具节", "满199减40", parse_rule("满199减40"),
        description="（按商品原价算门槛）\n电动童车不参加满减，详情页可领50元童车专享券",
    )  # fmt: skip
    guarantee = Promotion(
        SHOP, "p-live", "直播间专享", "直播价109", parse_rule("直播价109"),
        description="直播价不参与价保",
    )  # fmt: skip
    catalog = Catalog.from_entries(SHOP, 1, [BIG, SMALL, car, deal, guarantee])
    scoped = {p.id: p.product_ids for p in catalog.promotions}
    assert scoped == {"p-fest": ("BK-101", "BK-102"), "p-live": ()}
    day = date(2026, 12, 6)
    on_car = quote(
        Order("unpaid", (OrderItem("RD-502"),)), catalog.products, catalog.promotions, day
    )
    assert on_car.discount == 0
    on_bricks = quote(
        Order("unpaid", (OrderItem("BK-102", quantity=3),)),
        catalog.products,
        catalog.promotions,
        day,
    )
    assert on_bricks.discount == Decimal(40)


def test_a_length_said_picks_the_range_it_falls_in_under_the_lists_label() -> None:
    assert measures_said("手腕15.5cm") == [Measure("cm", 15.5, 15.5)]
    assert ranges("桌板厚度10-85mm") == [Measure("cm", 1.0, 8.5)]
    bangle = Product(
        SHOP, "YX-B02", "S925银实心开口手镯", Decimal(299),
        (Variant("内径56mm", Decimal(299)), Variant("内径60mm", Decimal(299))),
        ("开口可微调；内径选择：手腕14-15cm选56，15-16cm选58，16-17cm选60",),
    )  # fmt: skip
    chat = Conversation(SHOP, (
        Turn("customer", "手镯"), Turn("agent", "是看S925银实心开口手镯吗？"),
        Turn("customer", "对 手腕15.5cm 选哪个内径啊"),
    ))  # fmt: skip
    found = recommendation(chat, Catalog.from_entries(SHOP, 1, [bangle, BIG]))
    assert found is not None and "内径选择：手腕15-16cm选58" in found.text
    assert "14-15cm" not in found.text and "16-17cm" not in found.text
