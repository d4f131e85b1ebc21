"""The next step when nothing fits, and a script's situation read as an intent: pure rules."""

from __future__ import annotations

from copilot.intents.adoption import situation_intent
from copilot.templates import (
    HOLDING_AFTER_PURCHASE,
    HOLDING_BEFORE_PURCHASE,
    asks_for_sent_photos,
    changes_contact,
    fallback,
    has_bought,
    holding,
    next_step,
    photos_sent,
    templates,
    unanswered_complaint,
)
from copilot.types import Candidate, Conversation, Intent, Order, OrderItem, Source, Turn

ALL_LABELS_BUT_OTHER = {
    "greeting", "thanks", "chitchat", "ask_human", "product_question", "spec_size", "stock",
    "price_promotion", "shipping_time", "change_address", "change_phone", "order_note",
    "logistics_tracking", "urge_delivery", "usage_question", "return", "exchange",
    "damaged_item", "missing_item", "price_difference", "reship", "refund_status",
    "problem_parcel", "work_order", "arbitration_claim", "complaint",
}  # fmt: skip


def said(text: str, order: Order | None = None) -> Conversation:
    return Conversation("s", (Turn("customer", text),), order)


def test_every_intent_but_other_has_a_template_with_no_number_or_product() -> None:
    assert {label.partition(":")[0] for label in templates()} == ALL_LABELS_BUT_OTHER
    assert not any(ch.isdigit() for text in templates().values() for ch in text)


def test_an_after_sales_guess_without_a_purchase_asks_which_product() -> None:
    worry = fallback(said("破壁机吵不吵 怕吵醒娃"), Intent("damaged_item", 0.4))
    assert [c.text for c in worry] == [templates()["product_question"]]
    broken = fallback(said("收到就坏了 不转"), Intent("damaged_item", 0.4))
    assert [c.text for c in broken] == [templates()["damaged_item"]]
    order = Order("shipped", (OrderItem("p1", 1),))
    assert has_bought(said("什么情况", order)) and not has_bought(said("会不会漏水"))
    assert fallback(said("开发票"), Intent("other", 0.9)) == []


def test_a_new_address_given_is_noted_not_asked_for_again() -> None:
    change = Intent("change_address", 0.8)
    asked = fallback(said("地址填错了 能改吗", Order("paid", ())), change)
    assert [c.text for c in asked] == [templates()["change_address"]]
    given = said("改成 上海市浦东新区张江镇xx路88弄3号502 王婷 138xxxx5521", Order("paid", ()))
    assert [c.text for c in fallback(given, change)] == [templates()["change_address:given"]]
    phone = said("新号码 13912345678", Order("unpaid", ()))
    assert [c.text for c in fallback(phone, Intent("change_phone", 0.8))] == [
        templates()["change_phone:given"]
    ]
    # on its way: the change is not a note on the order any more
    shipped = said("改成 上海市浦东新区张江镇xx路88弄3号502", Order("shipped", ()))
    assert [c.text for c in fallback(shipped, change)] == [templates()["change_address"]]


def test_a_holding_reply_fits_a_look_up_never_a_greeting_or_thanks() -> None:
    assert holding(said("在吗"), Intent("greeting", 0.9)) == []
    assert holding(said("谢谢啦"), Intent("thanks", 0.9)) == []
    assert holding(said("转人工"), Intent("ask_human", 0.9)) == []
    asked = holding(said("敏感肌用哪个水好"), Intent("product_question", 0.6))
    assert [c.text for c in asked] == [HOLDING_BEFORE_PURCHASE]
    # "checking your order" presumes an order: only when the customer has bought
    assert [c.text for c in holding(said("会漏吗"), Intent("damaged_item", 0.4))] == [
        HOLDING_BEFORE_PURCHASE
    ]
    chased = holding(said("买了三天还没到"), Intent("urge_delivery", 0.8))
    assert [c.text for c in chased] == [HOLDING_AFTER_PURCHASE]
    assert all(c.source.kind == "template" for c in [*asked, *chased])


def test_script_situations_name_their_intent() -> None:
    assert situation_intent("进店欢迎") == "greeting"
    assert situation_intent("坏果处理") == "damaged_item"
    assert situation_intent("催发货") == "urge_delivery"
    assert situation_intent("以旧换新介绍") is None


def test_every_template_passes_the_guardrails_of_a_shop_with_no_kb() -> None:
    from datetime import date

    from copilot.guardrails.checks import check
    from copilot.guardrails.facts import OtherShopNames, ShopFacts
    from copilot.types import ShopPolicy

    empty = ShopFacts.from_entries("s", ())
    for label, text in [
        *templates().items(),
        ("holding", HOLDING_BEFORE_PURCHASE),
        ("holding", HOLDING_AFTER_PURCHASE),
    ]:
        flags = check(text, shop_id="s", kb_facts=empty, order=None, policy=ShopPolicy("s"),
                      other_shops=OtherShopNames.build(empty, ()), day=date(2026, 12, 6))  # fmt: skip
        assert flags == (), (label, flags)


def test_a_template_never_asks_for_what_the_conversation_holds() -> None:
    which = Intent("product_question", 0.4)
    assert fallback(said("饮水机真的有用吗"), which)  # product unknown: asking is the step
    assert fallback(said("饮水机真的有用吗"), which, product_known=True) == []
    tracking = Intent("logistics_tracking", 0.9)
    assert fallback(said("到哪了"), tracking)
    attached = Order("shipped", (OrderItem("p1"),), tracking_number="YT123")
    assert fallback(said("到哪了", attached), tracking) == []


def test_a_problem_reported_after_a_purchase_gets_sorry_and_the_photos_first() -> None:
    from copilot.types import Source

    missing = Intent("missing_item", 0.9)
    attached = Order("delivered", (OrderItem("p1", 2),), order_id="2612030001")
    steps = [c.text for c in next_step(said("买了2袋只收到1袋？", attached), missing)]
    assert steps == [
        "非常抱歉！麻烦提供一下收到的包裹照片，这边马上为您核实～",
        HOLDING_AFTER_PURCHASE,
    ]
    unattached = [c.text for c in next_step(said("收到咖啡机 少了个手柄！"), missing)]
    assert unattached[0] == templates()["missing_item"]  # no order: its number is asked for
    shops_own = Candidate("实在抱歉！麻烦拍个照片给小鱼～", "script", Source(("script-1",)), 0.5)
    assert next_step(said("收到就坏了", attached), Intent("damaged_item", 0.9), [shops_own])[0] == (
        shops_own
    )
    # a trade-in question the KB answered, or no purchase at all: only the holding reply
    worry = said("旧电饭煲坏了不能通电 也收吗")
    assert next_step(worry, Intent("damaged_item", 0.8), answered=True) == holding(
        worry, Intent("damaged_item", 0.8)
    )
    assert [c.text for c in next_step(said("会不会漏水"), Intent("damaged_item", 0.5))] == [
        HOLDING_BEFORE_PURCHASE
    ]


def test_photos_the_customer_has_sent_are_not_asked_for_again() -> None:
    damaged = Intent("damaged_item", 0.9)
    attached = Order("delivered", (OrderItem("p1"),), order_id="2612030001")
    sent = Conversation(
        "s",
        (
            Turn("customer", "昨天到的龟背竹 今天叶子全黑了"),
            Turn("agent", "亲，麻烦您拍一下照片我们看一下"),
            Turn("customer", "[图片][图片]"),
            Turn("customer", "发了照片半天没人理？？"),
        ),
        attached,
    )
    shops_own = Candidate("实在抱歉！麻烦拍个照片给小鱼～", "script", Source(("script-1",)), 0.5)
    steps = [c.text for c in next_step(sent, damaged, [shops_own])]
    assert steps[0] == templates()["damaged_item:given"] and "照片收到" in steps[0]
    assert asks_for_sent_photos(shops_own.text, sent)
    told = said("图发你了 这么贵的衣服就这质量", attached)
    assert photos_sent(told) and fallback(told, damaged)[0].text == steps[0]
    # the order attached: its number is not asked for either
    missing = next_step(said("[图片] 少了一个", attached), Intent("missing_item", 0.9))
    assert "照片收到" in missing[0].text and "订单号" not in missing[0].text
    # no photo yet: asking for one is the step
    assert not photos_sent(said("收到就坏了", attached))
    assert next_step(said("收到就坏了", attached), damaged)[0].text == templates()["damaged_item"]


def test_a_complaint_is_met_with_sorry_before_anything_else() -> None:
    complaint = Intent("complaint", 0.9)
    paid = Order("paid", (OrderItem("p1"),), order_id="2612030001")
    angry = said("问半天没人回 下单3天了还不发货 什么垃圾店", paid)
    steps = [c.text for c in next_step(angry, complaint)]
    assert steps[0].startswith("非常抱歉") and "订单号" not in steps[0]  # the order is attached
    assert steps[1:] == [HOLDING_BEFORE_PURCHASE]  # then the holding reply
    unknown = next_step(said("买的东西坏了 什么破店 我要投诉"), complaint)[0].text
    assert unknown == templates()["complaint"]  # bought, order unknown: its number is asked
    assert "订单号" not in next_step(said("客服呢 问半天没人理"), complaint)[0].text
    shops_own = Candidate("真的非常抱歉让您不开心了，我马上跟进～", "script", Source(("s1",)), 0.5)
    # the shop's own apology is offered: the holding reply is the step left
    assert next_step(angry, complaint, [shops_own]) == holding(angry, complaint)
    blurb = Candidate("亲，膨润土猫砂：结团快，除臭强～", "answer", Source(("p1",)), 0.6)
    assert unanswered_complaint(complaint, [blurb])
    assert not unanswered_complaint(complaint, [blurb, shops_own])
    assert not unanswered_complaint(Intent("product_question", 0.9), [blurb])


def test_a_new_number_for_an_order_not_shipped_is_asked_for_first() -> None:
    phone = Intent("change_phone", 0.9, family="in_sales")
    paid = Order("paid", (OrderItem("P1"),))
    typo = said("手机号填错了 最后一位是8不是6", paid)
    off_topic = Candidate("默认中通或韵达随机发", "answer", Source(kb_entry_ids=("f1",)), 0.5)
    assert changes_contact(typo, phone, [off_topic])
    steps = next_step(said("手机号填错了 快递会打不通", paid), phone, [off_topic])
    assert steps[0].text == templates()["change_phone"]
    # the number, or the fix of its digit, is all the agent needs: noted, not asked for again
    for given in (typo, said("电话少写了一位 是13812345678", paid)):
        assert next_step(given, phone)[0].text == templates()["change_phone:given"]


def test_the_shops_own_word_on_changing_or_a_shipped_order_keeps_its_place() -> None:
    phone = Intent("change_phone", 0.9, family="in_sales")
    typo = "手机号填错了 最后一位是8不是6"
    own = Candidate(
        "没发货的话在订单详情页自己改，这边后台改不了", "answer", Source(kb_entry_ids=("f2",)), 0.5
    )
    assert not changes_contact(said(typo, Order("paid", (OrderItem("P1"),))), phone, [own])
    assert not changes_contact(said(typo, Order("shipped", (OrderItem("P1"),))), phone)
    assert not changes_contact(said(typo), phone)  # no order: a guess, not a change
    assert not changes_contact(
        said("发了没 什么快递", Order("paid", (OrderItem("P1"),))), phone
    )  # the intent guessed wrong: nothing about a number or address


def test_a_number_given_is_noted_where_the_shops_word_says_it_changes_it() -> None:
    phone = Intent("change_phone", 0.9, family="in_sales")
    typo = said("电话填错了 最后一位是8 不是6", Order("paid", (OrderItem("P1"),)))
    helps = Candidate(
        "亲，未发货前可以改（您自己在订单里改，或发给这边帮改）", "answer", Source(("f3",)), 0.5
    )
    assert changes_contact(typo, phone, [helps])
    assert next_step(typo, phone, [helps])[0].text == templates()["change_phone:given"]
    asked = said("电话填错了 能改吗", Order("paid", (OrderItem("P1"),)))
    assert not changes_contact(asked, phone, [helps])  # not given: the shop's word answers it
    address = Intent("change_address", 0.9, family="in_sales")
    moved = said("改成 上海市浦东新区张江镇xx路88弄3号502 王婷", Order("paid", (OrderItem("P1"),)))
    assert changes_contact(moved, address, [helps])  # the address itself, no word for it
