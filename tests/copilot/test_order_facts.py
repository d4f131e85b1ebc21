"""What a phone-accessories shop's sheets say about the order and the product in question: the
product a price names among products sharing a noun, two products compared by their prices,
why a paid order has not shipped (its option is out), a payment reminder only for an unpaid
order, and the trainer's "!!" never in a reply. Real embedder, Redis and FAISS."""

from __future__ import annotations

from datetime import date

import pytest

from copilot.clock import Clock
from copilot.grounding.grounder import Grounder
from copilot.types import Conversation, Intent, Order, OrderItem, Turn
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase

SHOP = "gadgets"
DAY = date(2026, 12, 6)
ROWS = [
    {"kind": "product", "id": "E3", "title": "闪能Air3半入耳蓝牙耳机", "price": "69",
     "variants": [{"name": "白"}, {"name": "黑"}], "selling_points": ["单次约6小时"]},
    {"kind": "product", "id": "E5P", "title": "闪能E5 Pro主动降噪耳机", "price": "129",
     "variants": [{"name": "白"}, {"name": "黑"}], "selling_points": ["ANC主动降噪"],
     "usage_notes": "库存：白色缺货，预计12月18日到货"},
    {"kind": "product", "id": "P20", "title": "闪能自带线充电宝20000mAh", "price": "69"},
    {"kind": "product", "id": "G65", "title": "闪能65w氮化镓充电器", "price": "79",
     "variants": [{"name": "白色"}, {"name": "深空灰"}],
     "usage_notes": "不带线!!；库存：深空灰缺货!! 预计12.15补货"},
    {"kind": "product", "id": "CC", "title": "C to C快充线", "price": "14.9",
     "variants": [{"name": "1m", "price": "14.9"}, {"name": "2m", "price": "19.9"}],
     "usage_notes": "库存：2m白色缺货 12.10补"},
    {"kind": "policy", "id": "R1", "title": "发货时间", "topic": "other",
     "content": "16点前付款当天发，16点后次日发"},
    {"kind": "script", "id": "S1", "title": "催付款", "intent": "urge_delivery",
     "text": "亲，看到您拍下的宝贝还没付款哦～付款后尽快给您发出"},
]  # fmt: skip


@pytest.fixture()
def grounder(kb: KnowledgeBase, clock: Clock) -> Grounder:
    kb.add(SHOP, [entry_from_dict(SHOP, row) for row in ROWS])
    return Grounder(kb, clock=clock)


def ask(grounder: Grounder, text: str, label: str, order: Order | None = None) -> list[str]:
    family = "in_sales" if order else "pre_sales"
    conversation = Conversation(SHOP, (Turn("customer", text),), order)
    answer = grounder.ground(conversation, Intent(label, 0.9, family=family), day=DAY)
    return [c.text for c in answer.candidates]


def ordered(status: str, product: str, variant: str) -> Order:
    return Order(status, (OrderItem(product, 1, variant=variant),), order_id="2612020001")  # type: ignore[arg-type]


def test_a_price_says_which_of_two_products_sharing_a_noun(grounder: Grounder) -> None:
    first = ask(grounder, "那个129的降噪耳机白色还有吗", "stock")[0]
    assert "E5 Pro" in first and "缺货" in first and "Air3" not in first  # was Air3 "现在有货"


def test_two_products_compared_by_their_prices(grounder: Grounder) -> None:
    texts = ask(grounder, "69的和129的耳机有啥区别 主要坐地铁用", "product_question")
    assert any("Air3" in t and "E5 Pro" in t and "¥69" in t and "¥129" in t for t in texts), texts


def test_a_paid_order_not_shipped_gets_its_options_stock_line(grounder: Grounder) -> None:
    texts = ask(
        grounder, "拍了两天了怎么还不发货", "urge_delivery", ordered("paid", "G65", "深空灰")
    )
    assert texts[0] == "亲，闪能65w氮化镓充电器（深空灰）：深空灰缺货！预计12.15补货哦～"
    assert not any("还没付款" in t or "!!" in t for t in texts)  # it is paid
    assert not any("当天发" in t for t in texts)  # not while its option is out
    in_stock = ask(
        grounder, "拍了两天了怎么还不发货", "urge_delivery", ordered("paid", "G65", "白色")
    )
    assert any("当天发" in t for t in in_stock)
    shipped = ask(grounder, "怎么还没到", "urge_delivery", ordered("shipped", "G65", "深空灰"))
    assert not any("缺货" in t for t in shipped)


def test_switching_to_an_option_that_is_out_says_so(grounder: Grounder) -> None:
    texts = ask(grounder, "拍错颜色了 我要灰的", "order_note", ordered("paid", "G65", "白色"))
    assert "深空灰缺货" in texts[0]
    fine = ask(grounder, "我明白了 白色什么时候发", "urge_delivery", ordered("paid", "G65", "白色"))
    assert not any("缺货" in t for t in fine)


def test_an_option_is_out_only_when_every_word_of_it_is(grounder: Grounder) -> None:
    texts = ask(grounder, "线怎么还不发", "urge_delivery", ordered("paid", "CC", "白色 1m"))
    assert not any("缺货" in t for t in texts)  # the sheet says the 2m white is out


def test_a_payment_reminder_only_for_an_unpaid_order(grounder: Grounder) -> None:
    unpaid = ask(grounder, "什么时候发货", "urge_delivery", ordered("unpaid", "E3", "白"))
    assert any("还没付款" in t for t in unpaid)
    paid = ask(grounder, "什么时候发货", "urge_delivery", ordered("paid", "E3", "白"))
    assert not any("还没付款" in t for t in paid)


def test_the_wrong_item_sent_is_a_problem_with_what_arrived() -> None:
    from copilot.intents.rules import match_rules

    wrong = match_rules("我买的c to c 发来的是苹果那种头的线 发错了吧")
    assert [r.label for r in wrong] == ["missing_item"]
    assert [r.label for r in match_rules("错发了颜色 运费谁承担")] == ["missing_item"]
    assert not match_rules("发错了")  # their own message sent by mistake
