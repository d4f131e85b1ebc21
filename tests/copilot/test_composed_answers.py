"""Answers composed from a new shop's records: which product fits a need, how two products
differ, what a basket costs with the promotions of the day, and the policy an after-sales turn
asks for. A small pet shop built here; real embedder, Redis and FAISS; every number checked
against the KB by the real guardrails."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from copilot.clock import Clock
from copilot.grounding.grounder import GroundedAnswer, Grounder
from copilot.guardrails.checks import apply_guardrails
from copilot.guardrails.facts import GuardrailFacts
from copilot.types import Conversation, Intent, Order, OrderItem, ShopPolicy, Turn
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase

SHOP = "paws"
DAY = date(2026, 12, 6)
ROWS = [
    {"kind": "product", "id": "K1", "title": "幼猫粮 鸡肉配方", "price": "59",
     "selling_points": ["小颗粒好咀嚼", "适用：2-12月龄幼猫"]},
    {"kind": "product", "id": "C1", "title": "成猫粮 三文鱼配方", "price": "69",
     "selling_points": ["三文鱼为主要蛋白，不添加鸡肉，美毛", "适用：1岁以上成猫"]},
    {"kind": "product", "id": "D1", "title": "幼犬粮 牛肉味", "price": "89",
     "selling_points": ["添加DHA", "适用：2-12月龄小型犬"]},
    {"kind": "product", "id": "F1", "title": "全价冻干猫粮", "price": "128",
     "selling_points": ["冻干颗粒占30%，适口性好", "适用：3月龄以上"]},
    {"kind": "product", "id": "L1", "title": "豆腐猫砂", "price": "19.9",
     "variants": [{"name": "6L×1", "price": "19.9"}, {"name": "6L×4", "price": "69.9"}],
     "selling_points": ["遇水3秒结团，可冲马桶"]},
    {"kind": "promotion", "id": "P1", "title": "冬季满减", "rule": "满199减20",
     "starts": "2026-12-01", "ends": "2027-01-31"},
    {"kind": "promotion", "id": "P2", "title": "店铺优惠券", "rule": "领券满150减10",
     "starts": "2026-12-01", "ends": "2027-01-31"},
    {"kind": "promotion", "id": "P3", "title": "猫砂秒杀", "rule": "满100减15",
     "product_ids": ["L1"], "starts": "2026-12-01", "ends": "2026-12-08",
     "description": "秒杀不与其他优惠同享"},
    {"kind": "policy", "id": "R1", "topic": "other", "title": "7天无理由",
     "content": "签收7天内未拆封可以退换；猫粮拆封后不支持无理由退货。"},
    {"kind": "policy", "id": "R2", "topic": "other", "title": "发货",
     "content": "下单48小时内发货。"},
]  # fmt: skip
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@pytest.fixture()
def shop(kb: KnowledgeBase, clock: Clock) -> tuple[Grounder, GuardrailFacts]:
    kb.add(SHOP, [entry_from_dict(SHOP, row) for row in ROWS])
    return Grounder(kb, clock=clock), GuardrailFacts(kb, {SHOP: "爪爪宠物"})


def ask(
    shop: tuple[Grounder, GuardrailFacts], *texts: str, label: str = "", order: Order | None = None
) -> GroundedAnswer:
    roles = ("customer", "agent")
    turns = tuple(Turn(roles[i % 2], t) for i, t in enumerate(texts))
    intent = Intent(label, 0.9, family="after_sales" if order else "pre_sales") if label else None
    answer = shop[0].ground(Conversation(SHOP, turns, order), intent, day=DAY)
    _assert_supported(shop[1], answer, order)
    return answer


def _assert_supported(facts: GuardrailFacts, answer: GroundedAnswer, order: Order | None) -> None:
    """No candidate carries a number the KB does not hold (or the code did not compute)."""
    checked = apply_guardrails(
        answer.candidates, shop_id=SHOP, kb_facts=facts.shop_facts(SHOP), order=order,
        policy=ShopPolicy(SHOP), other_shops=facts.other_shops(SHOP), day=DAY,
        computed=answer.computed, keep_blocked=True,
    )  # fmt: skip
    assert [(c.text, c.flags) for c in checked if c.blocked] == []
    kb_text = " ".join(str(v) for row in ROWS for v in row.values())
    computed = {format(n.normalize(), "f") for n in answer.computed}
    for candidate in answer.candidates:
        for number in NUMBER.findall(candidate.text):
            assert number in kb_text or number in computed, (number, candidate.text)


def texts(answer: GroundedAnswer) -> list[str]:
    return [c.text for c in answer.candidates]


def test_a_recommendation_names_the_product_whose_record_fits_the_need(shop) -> None:
    answer = ask(shop, "家里刚接回来一只小猫", "恭喜亲～宝宝多大啦？", "两个半月 吃哪个粮啊")
    best = answer.best
    assert best is not None and best.text.startswith("亲，推荐幼猫粮")
    assert "2-12月龄幼猫" in best.text and "¥59" in best.text
    assert "成猫粮" not in best.text and "幼犬粮" not in best.text  # 1岁以上; not for a cat
    assert best.source.kb_entry_ids == ("K1",)


def test_a_need_to_avoid_something_picks_the_record_without_it(shop) -> None:
    answer = ask(shop, "我家猫吃鸡肉的粮老是挠痒", "亲，可能是对鸡肉敏感哦", "那换啥粮好")
    assert answer.best is not None
    assert answer.best.text.startswith("亲，推荐成猫粮 三文鱼配方（不添加鸡肉")
    assert "¥69" in answer.best.text


def test_when_the_records_cannot_decide_the_customer_is_asked(shop) -> None:
    answer = ask(shop, "你家哪个粮好")
    clarify = [c for c in answer.candidates if c.role == "clarify"]
    assert clarify and "方便说一下具体情况吗" in clarify[0].text
    assert not any(t.startswith("亲，推荐") for t in texts(answer))


def test_a_comparison_sets_both_records_side_by_side(shop) -> None:
    answer = ask(shop, "全价冻干猫粮跟成猫粮有什么区别")
    best = answer.best
    assert best is not None
    assert best.text.startswith("亲，全价冻干猫粮¥128：冻干颗粒占30%")
    assert "成猫粮 三文鱼配方¥69：三文鱼为主要蛋白" in best.text
    assert set(best.source.kb_entry_ids) == {"F1", "C1"}


def test_a_comparison_of_two_variants_gives_both_prices(shop) -> None:
    answer = ask(shop, "猫砂6L×1和6L×4差在哪")
    assert "豆腐猫砂6L×1 ¥19.9、6L×4 ¥69.9" in texts(answer)[0]


def test_a_quantity_price_question_gets_the_stacked_quote(shop) -> None:
    """4 × ¥59 = ¥236: 满199减20 and the shop coupon 满150减10 stack (¥206)."""
    answer = ask(shop, "幼猫粮买4袋多少钱")
    assert answer.best is not None
    assert answer.best.text == (
        "亲，幼猫粮 鸡肉配方¥59×4，合计¥236；"
        "可享满199减20（减¥20）、领券满150减10（减¥10），实付¥206～"
    )
    assert {Decimal(236), Decimal(206)} <= set(answer.computed)


def test_a_promotion_that_does_not_stack_is_applied_alone(shop) -> None:
    """The 秒杀 says 不与其他优惠同享: the best single offer applies, never with the coupon."""
    answer = ask(shop, "猫砂6L×4买3个有优惠吗")
    assert answer.best is not None
    assert "6L×4）¥69.9×3，合计¥209.7" in answer.best.text
    assert "可享满199减20（减¥20）、领券满150减10（减¥10），实付¥179.7" in answer.best.text


def test_an_after_sales_turn_gets_the_shop_policy(shop) -> None:
    order = Order("delivered", (OrderItem("K1", 1),))
    answer = ask(shop, "猫不吃 开了一袋了 能退吗", label="return", order=order)
    assert "亲，签收7天内未拆封可以退换；猫粮拆封后不支持无理由退货。" in texts(answer)
