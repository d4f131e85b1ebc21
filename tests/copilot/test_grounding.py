"""Grounded candidates from the demo shops with the real embedder and retrieval: computed
answers, slot filling, clarifying questions, and answers that pass their own guardrails."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from dates import demo_day

from copilot.clock import Clock
from copilot.grounding.catalog import Catalog
from copilot.grounding.focus import product_focus
from copilot.grounding.grounder import GroundedAnswer, Grounder
from copilot.grounding.slots import fill_slots
from copilot.guardrails.checks import apply_guardrails
from copilot.guardrails.facts import GuardrailFacts
from copilot.types import Conversation, Intent, Order, OrderItem, ShopPolicy, Turn
from kb.demo_shops import demo_shops
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase

pytestmark = pytest.mark.dates  # decides by the date: .ci/run runs it again a year ahead

D = Decimal
NOVEMBER, DECEMBER = demo_day(11, 15), demo_day(12, 5)
SHOP_NAMES = {shop.shop_id: shop.name for shop in demo_shops()}


@pytest.fixture()
def grounder(demo_kb: KnowledgeBase, clock: Clock) -> Grounder:
    return Grounder(demo_kb, shop_names=SHOP_NAMES, clock=clock)


@pytest.fixture()
def facts(demo_kb: KnowledgeBase) -> GuardrailFacts:
    return GuardrailFacts(demo_kb, SHOP_NAMES)


def conv(shop: str, *texts: str, order: Order | None = None) -> Conversation:
    """Customer and agent turns alternating, customer first."""
    roles = ("customer", "agent")
    return Conversation(shop, tuple(Turn(roles[i % 2], t) for i, t in enumerate(texts)), order)


def ground(
    grounder: Grounder, conversation: Conversation, label: str = "", day: date = NOVEMBER
) -> GroundedAnswer:
    intent = Intent(label, 0.9) if label else None
    return grounder.ground(conversation, intent, day=day)


def test_a_price_question_gets_the_product_record_with_variant_prices(grounder: Grounder) -> None:
    answer = ground(grounder, conv("demo-pdd", "焖烧杯多少钱"), day=DECEMBER)
    best = answer.best
    assert best is not None and best.role == "answer"
    assert answer.product_id == "pdd-p10"
    assert "800ml ¥89、1000ml ¥99" in best.text
    assert "立减10元到手¥79" in best.text  # 89 - 10, computed in code
    assert D(79) in answer.computed
    assert best.source.kb_entry_ids[:2] == ("pdd-p10", "pdd-promo-03")
    assert any("316不锈钢焖烧杯" in e for e in best.evidence)


def test_a_named_variant_narrows_the_price(grounder: Grounder) -> None:
    best = ground(grounder, conv("demo-pdd", "750ml的保温杯多少钱")).best
    assert best is not None and best.role == "answer"
    assert "750ml ¥89" in best.text and "¥59" not in best.text
    best = ground(grounder, conv("demo-ks", "加绒卫衣XXL多少钱")).best
    assert best is not None and "XXL ¥139" in best.text and "到手¥129" in best.text


def test_a_question_that_fits_several_products_gets_a_clarifying_question(
    grounder: Grounder,
) -> None:
    best = ground(grounder, conv("demo-pdd", "保温杯多少钱")).best
    assert best is not None and best.role == "clarify"
    assert best.text.startswith("亲，您问的是哪一款呢？")
    assert "316不锈钢经典直身保温杯" in best.text and "智能测温显示保温杯" in best.text
    assert "杯套" not in best.text  # a cup sleeve is not a cup
    assert not any(ch.isdigit() for ch in best.text.replace("316", ""))
    best = ground(grounder, conv("demo-ks", "卫衣多少钱")).best
    assert best is not None and best.role == "clarify"
    assert "加绒连帽卫衣" in best.text and "纯棉圆领卫衣" in best.text


def test_the_product_comes_from_earlier_turns_or_the_order(grounder: Grounder) -> None:
    earlier = conv("demo-pdd", "焖烧杯保温效果怎么样", "亲，焖6小时以上都很软糯哦", "这个多少钱")
    answer = ground(grounder, earlier, day=DECEMBER)
    assert answer.product_id == "pdd-p10" and answer.best is not None
    assert answer.best.role == "answer"
    ordered = conv("demo-ks", "这个多少钱", order=Order("unpaid", (OrderItem("ks-p07", 1),)))
    assert ground(grounder, ordered).product_id == "ks-p07"
    nothing = ground(grounder, conv("demo-pdd", "这个多少钱"))
    assert nothing.best is not None and nothing.best.role == "clarify"


def test_a_promotion_question_gets_the_computed_quote(grounder: Grounder) -> None:
    message = "买2个750ml的经典直身保温杯有优惠吗"
    answer = ground(grounder, conv("demo-pdd", message), "price_promotion")
    best = answer.best
    assert best is not None
    assert (
        best.text
        == "亲，316不锈钢经典直身保温杯（750ml）¥89×2，合计¥178；可享满99减10（减¥10），实付¥168～"
    )
    assert answer.quote is not None and answer.quote.payable == D(168)
    assert {D(178), D(168)} <= set(answer.computed)


def test_an_order_is_quoted_as_it_stands(grounder: Grounder) -> None:
    order = Order("unpaid", (OrderItem("ks-p03", 1), OrderItem("ks-p07", 1)))
    answer = ground(
        grounder, conv("demo-ks", "这两件有啥优惠", order=order), "price_promotion", DECEMBER
    )
    assert answer.best is not None
    assert "合计¥458" in answer.best.text and "实付¥418" in answer.best.text  # 399 + 59 - 40


def test_the_two_cups_nudge_reaches_the_candidate(kb: KnowledgeBase, clock: Clock) -> None:
    rows = [
        {"kind": "product", "id": "cup", "title": "钛杯", "price": "89"},
        {"kind": "promotion", "id": "m199", "title": "店庆满减", "rule": "满199减20"},
    ]
    kb.add("cups", [entry_from_dict("cups", r) for r in rows])
    answer = Grounder(kb, clock=clock).ground(conv("cups", "买两个钛杯有优惠吗"), day=NOVEMBER)
    assert answer.best is not None
    assert "钛杯¥89×2，合计¥178" in answer.best.text
    assert "再加¥21可享满199减20" in answer.best.text
    assert D(21) in answer.computed


def test_slots_are_filled_from_product_and_order_or_the_text_is_not_used() -> None:
    values = {"商品名": "钛杯", "价格": "¥89", "运单号": "YT123"}
    assert fill_slots("亲，{商品名}现在{价格}", values) == "亲，钛杯现在¥89"
    assert fill_slots("运单号【快递单号】已发出", values) == "运单号YT123已发出"
    assert fill_slots("【温馨提示】{商品名}有货", values) == "【温馨提示】钛杯有货"
    assert fill_slots("工单号【工单号】", values) is None
    assert fill_slots("因【地址错误/联系不上】无法派送", values) is None


def test_scripts_with_slots_use_the_order_and_drop_out_without_it(
    kb: KnowledgeBase, clock: Clock
) -> None:
    rows = [
        {"kind": "product", "id": "cup", "title": "钛杯", "price": "89"},
        {"kind": "script", "id": "s1", "intent": "logistics_tracking", "title": "查件",
         "text": "亲，您的{商品名}已发出，运单号【运单号】，请留意查收～"},
    ]  # fmt: skip
    kb.add("cups", [entry_from_dict("cups", r) for r in rows])
    grounder = Grounder(kb, clock=clock)
    shipped = Order("shipped", (OrderItem("cup", 1),), tracking_number="YT9988776655")
    answer = grounder.ground(
        conv("cups", "到哪了", order=shipped), Intent("logistics_tracking", 0.9)
    )
    scripts = [c for c in answer.candidates if c.role == "script"]
    assert [c.text for c in scripts] == ["亲，您的钛杯已发出，运单号YT9988776655，请留意查收～"]
    answer = grounder.ground(conv("cups", "到哪了"), Intent("logistics_tracking", 0.9))
    assert [c for c in answer.candidates if c.role == "script"] == []


def test_an_faq_question_gets_its_answer(grounder: Grounder) -> None:
    answer = ground(grounder, conv("demo-pdd", "保温杯能保温多久"), "product_question")
    assert answer.best is not None
    assert answer.best.source.kb_entry_ids == ("pdd-faq-01",)
    assert answer.best.text.startswith("亲，经典直身保温杯装满沸水并盖紧")


def test_a_stock_question_settled_by_an_faq_names_the_restock_date(grounder: Grounder) -> None:
    answer = ground(grounder, conv("demo-pdd", "替换杯盖有货吗"), "stock")
    assert answer.product_id == "pdd-p07"
    assert answer.best is not None and "暂时缺货" in answer.best.text
    assert f"预计{demo_day(12, 16).month}月{demo_day(12, 16).day}日左右补货" in answer.best.text


def test_a_greeting_gets_the_script_and_no_unrelated_faq(grounder: Grounder) -> None:
    answer = ground(grounder, conv("demo-pdd", "你好"), "greeting")
    assert [c.source.kb_entry_ids for c in answer.candidates] == [("pdd-s01",)]


def test_candidates_are_never_near_duplicates(grounder: Grounder) -> None:
    answer = ground(grounder, conv("demo-pdd", "有什么优惠"), "price_promotion")
    texts = [c.text for c in answer.candidates]
    assert len(texts) == len(set(texts)) >= 2


QUESTIONS = [
    ("demo-pdd", "焖烧杯多少钱", "", DECEMBER),
    ("demo-pdd", "750ml的保温杯多少钱", "", NOVEMBER),
    ("demo-pdd", "杯套有货吗", "stock", NOVEMBER),
    ("demo-pdd", "有什么优惠", "price_promotion", NOVEMBER),
    ("demo-pdd", "刻字礼盒有优惠吗", "price_promotion", demo_day(12, 28)),
    ("demo-pdd", "拍错地址了能改吗", "change_address", NOVEMBER),
    ("demo-ks", "加绒卫衣XXL多少钱", "", NOVEMBER),
    ("demo-ks", "羽绒服有优惠吗", "price_promotion", DECEMBER),
    ("demo-ks", "袜子买两件有折扣吗", "price_promotion", DECEMBER),
    ("demo-ks", "怎么退货", "return", NOVEMBER),
    ("demo-express", "寄快递多少钱", "product_question", NOVEMBER),
    ("demo-express", "纸箱有优惠吗", "price_promotion", DECEMBER),
    ("demo-express", "快件丢了怎么赔", "arbitration_claim", NOVEMBER),
]


@pytest.mark.parametrize(("shop", "message", "label", "day"), QUESTIONS)
def test_grounded_candidates_pass_their_own_guardrails(
    grounder: Grounder, facts: GuardrailFacts, shop: str, message: str, label: str, day: date
) -> None:
    answer = ground(grounder, conv(shop, message), label, day)
    assert answer.candidates
    checked = apply_guardrails(
        answer.candidates,
        shop_id=shop,
        kb_facts=facts.shop_facts(shop),
        order=None,
        policy=ShopPolicy(shop),
        other_shops=facts.other_shops(shop),
        day=day,
        computed=answer.computed,
        keep_blocked=True,
    )
    assert [(c.text, c.flags) for c in checked if c.blocked] == []


def test_the_product_focus_reads_head_nouns(demo_kb: KnowledgeBase) -> None:
    index = demo_kb.indexes.get("demo-pdd")
    catalog = Catalog.from_entries("demo-pdd", index.version, index.entries.values())
    focus = product_focus(conv("demo-pdd", "杯套多少钱"), catalog)
    assert focus.product is not None and focus.product.id == "pdd-p05"
    focus = product_focus(conv("demo-pdd", "买2个750ml的经典直身保温杯"), catalog)
    assert (focus.variant, focus.quantity) == ("750ml", 2)


def test_an_faq_about_another_product_than_the_one_discussed_becomes_a_question(
    grounder: Grounder,
) -> None:
    """The lunch box's microwave FAQ is no answer for the food jar in the order: the agent
    asks which one is meant; with the lunch box in the order, the FAQ answers."""
    asked = "能放微波炉加热吗"
    jar = ground(grounder, conv("demo-pdd", asked, order=Order("paid", (OrderItem("pdd-p10"),))))
    texts = [c.text for c in jar.candidates]
    assert "亲，您问的是「316不锈钢焖烧杯」还是「304不锈钢分格保温饭盒」呢？" in texts
    assert not any("会打火" in t for t in texts)
    box = ground(grounder, conv("demo-pdd", asked, order=Order("paid", (OrderItem("pdd-p11"),))))
    assert any("会打火" in c.text and c.role == "answer" for c in box.candidates)
