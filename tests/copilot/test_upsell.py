"""Upsell prompts on the demo shops: when they are suppressed, what each kind says and why,
and that nothing out of stock or from another shop is ever offered."""

from __future__ import annotations

from datetime import date

import pytest
from dates import demo_day

from copilot.grounding.upsell import NO_UPSELL_INTENTS, PAYMENT_REMINDER, suggest_upsell
from copilot.types import Conversation, Intent, Order, OrderItem, Route, Turn, Upsell
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.types import Product

pytestmark = pytest.mark.dates  # decides by the date: .ci/run runs it again a year ahead

NOVEMBER, DECEMBER = demo_day(11, 15), demo_day(12, 15)
ASSIST = Route("assist", None, ("auto_reply_off",))
ASKING = Intent("product_question", 0.9, family="pre_sales")


def upsell(
    kb: KnowledgeBase,
    shop: str,
    message: str,
    *,
    intent: Intent = ASKING,
    route: Route = ASSIST,
    order: Order | None = None,
    negative: bool = False,
    day: date = NOVEMBER,
) -> Upsell | None:
    conversation = Conversation(shop, (Turn("customer", message),), order)
    return suggest_upsell(conversation, intent, route, kb, order, negative, day=day)


def in_stock_products_of(kb: KnowledgeBase, shop: str) -> set[str]:
    return {e.id for e in kb.entries(shop) if isinstance(e, Product) and e.in_stock}


def test_a_product_short_of_a_threshold_gets_the_gap_and_a_filler(demo_kb: KnowledgeBase) -> None:
    found = upsell(demo_kb, "demo-pdd", "经典直身保温杯750ml多少钱")
    assert found is not None and found.kind == "threshold"
    assert found.text.startswith("亲，再加¥10可享满99减10")  # 89 -> 99
    assert found.reason == "当前¥89，差¥10可享满99减10"
    assert found.product_ids == ("pdd-p05",)  # the related cup sleeve, in stock, >= ¥10
    assert "硅胶防烫保温杯套（¥15）" in found.text


def test_an_item_count_rule_nudges_one_more_item(demo_kb: KnowledgeBase) -> None:
    found = upsell(demo_kb, "demo-pdd", "杯套多少钱")
    assert found is not None and found.kind == "threshold"
    assert "再买1件可享满2件9折" in found.text
    assert set(found.product_ids) <= {"pdd-p05", "pdd-p06", "pdd-p08", "pdd-p09"}


def test_an_unpaid_order_gets_the_shops_payment_script(demo_kb: KnowledgeBase) -> None:
    order = Order("unpaid", (OrderItem("pdd-p01", 1),))
    found = upsell(demo_kb, "demo-pdd", "我再看看", order=order)
    assert found is not None and found.kind == "payment_reminder"
    assert found.text.startswith("亲，看到您拍下的宝贝还没有付款哦")
    assert "催付" in found.reason and found.product_ids == ("pdd-p01",)


def test_a_payment_script_naming_a_finished_promotion_gives_way_to_the_template(
    demo_kb: KnowledgeBase,
) -> None:
    order = Order("unpaid", (OrderItem("exp-p01", 1),))
    november = upsell(demo_kb, "demo-express", "好的", order=order)
    assert november is not None and "满50元还可以自动减5元" in november.text
    december = upsell(demo_kb, "demo-express", "好的", order=order, day=DECEMBER)
    assert december is not None and december.text == PAYMENT_REMINDER
    assert not any(ch.isdigit() for ch in PAYMENT_REMINDER)


def test_related_products_skip_what_is_out_of_stock(demo_kb: KnowledgeBase) -> None:
    # The long down jacket's related products: the check scarf (out of stock), then the hat.
    order = Order("delivered", (OrderItem("ks-p04", 1),))
    thanks = Intent("thanks", 0.9, family="general")
    found = upsell(demo_kb, "demo-ks", "收到了，谢谢", intent=thanks, order=order)
    assert found is not None and found.kind == "related"
    assert found.product_ids == ("ks-p13",)
    assert "羊毛混纺针织毛线帽（¥45）" in found.text
    assert "关联商品" in found.reason


def test_suggestions_are_always_in_stock_and_from_this_shop(demo_kb: KnowledgeBase) -> None:
    messages = ["焖烧杯怎么样", "儿童吸管杯多少钱", "饭盒好用吗", "测温杯多少钱", "杯刷多少钱"]
    stocked = in_stock_products_of(demo_kb, "demo-pdd")
    seen = 0
    for message in messages:
        found = upsell(demo_kb, "demo-pdd", message)
        if found is not None:
            assert set(found.product_ids) <= stocked, (message, found)
            seen += 1
    assert seen >= 3


def test_related_ids_of_another_shop_are_ignored(kb: KnowledgeBase) -> None:
    rows = [
        {"kind": "product", "id": "board", "title": "竹制砧板", "price": "59",
         "related": "ks-p01|knife|oil"},
        {"kind": "product", "id": "knife", "title": "不锈钢菜刀", "price": "89", "in_stock": "缺货"},
        {"kind": "product", "id": "oil", "title": "砧板保养木蜡油", "price": "19.9"},
    ]  # fmt: skip
    kb.add("kitchen", [entry_from_dict("kitchen", r) for r in rows])
    order = Order("delivered", (OrderItem("board", 1),))
    found = upsell(
        kb, "kitchen", "收到了", intent=Intent("thanks", 0.9, family="general"), order=order
    )
    assert found is not None and found.product_ids == ("oil",)


def test_without_relations_the_nearest_product_by_embedding_is_offered(kb: KnowledgeBase) -> None:
    rows = [
        {"kind": "product", "id": "board", "title": "竹制砧板", "price": "59"},
        {"kind": "product", "id": "board2", "title": "加厚实木砧板", "price": "79", "in_stock": "缺货"},
        {"kind": "product", "id": "mat", "title": "硅胶案板垫", "price": "29"},
        {"kind": "product", "id": "socks", "title": "纯棉袜子", "price": "19"},
    ]  # fmt: skip
    kb.add("kitchen", [entry_from_dict("kitchen", r) for r in rows])
    order = Order("delivered", (OrderItem("board", 1),))
    found = upsell(
        kb, "kitchen", "收到了", intent=Intent("thanks", 0.9, family="general"), order=order
    )
    assert found is not None and found.kind == "related"
    assert found.product_ids == ("mat",)  # in stock and nearer than the socks
    assert "向量相似度" in found.reason


@pytest.mark.parametrize("label", sorted(NO_UPSELL_INTENTS))
def test_no_upsell_on_after_sales_claims_complaints_or_requests_for_a_person(
    demo_kb: KnowledgeBase, label: str
) -> None:
    order = Order("unpaid", (OrderItem("pdd-p01", 1),))
    intent = Intent(label, 0.9)
    assert upsell(demo_kb, "demo-pdd", "经典直身保温杯750ml", intent=intent, order=order) is None


def test_no_upsell_on_negative_sentiment_or_a_handoff(demo_kb: KnowledgeBase) -> None:
    message = "经典直身保温杯750ml多少钱"
    assert upsell(demo_kb, "demo-pdd", message) is not None
    assert upsell(demo_kb, "demo-pdd", message, negative=True) is None
    handoff = Route("handoff", "supervisor", ("threat:差评",))
    assert upsell(demo_kb, "demo-pdd", message, route=handoff) is None
    after_sales = Intent("warranty_question", 0.9, family="after_sales")
    assert upsell(demo_kb, "demo-pdd", message, intent=after_sales) is None


def test_nothing_to_offer_gives_none(demo_kb: KnowledgeBase) -> None:
    greeting = Intent("greeting", 0.9, family="general")
    assert upsell(demo_kb, "demo-pdd", "你好", intent=greeting) is None
