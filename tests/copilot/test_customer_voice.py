"""Replies an agent can send without retyping, from a new shop's sheets: a rule written for
agents ("顾客可在订单详情页自己改") said to the customer; "h1多重" answered by the clause that
gives the weight (机身约340g) though no word is shared; "s3 pro续航" about the S3 Pro, not the
heads whose title says "(S1/S3 Pro通用)"; "50L那个" the 50L option; a trainer's "别乱说" never
read out; "哈喽 有人没👋" a greeting. Records built in code, no models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from copilot.grounding.catalog import Catalog, resolve_product
from copilot.grounding.customer_voice import in_customer_voice
from copilot.grounding.entry_answers import focus_answer, product_clauses
from copilot.grounding.focus import product_focus
from copilot.intents.rules import is_greeting
from copilot.types import Candidate, Conversation, Order, Source, Turn
from kb.types import Product, Variant

SHOP = "care"
DRYER = Product(
    SHOP, "PC12", "沐光 H1 高速负离子吹风机", Decimal(299), (Variant("月光银", Decimal(299)),),
    ("11万转高速电机；1600W；负离子；机身约340g",), "只支持220V；噪音分贝数厂家还没给，别乱说",
)  # fmt: skip
BRUSH = Product(
    SHOP, "PC06", "沐光 S3 Pro 声波电动牙刷", Decimal(229), (Variant("曜石黑", Decimal(229)),),
    ("5档模式；约3.5小时充满，续航约60天",),
)  # fmt: skip
HEADS = Product(
    SHOP, "PC07", "沐光 电动牙刷替换刷头（S1/S3 Pro通用）", Decimal(49),
    (Variant("清洁型 4支装", Decimal(49)),), ("杜邦软毛",),
)  # fmt: skip
SOIL = Product(
    SHOP, "GP-011", "通用营养土 多肉颗粒土", Decimal("12.9"),
    (Variant("通用营养土 10L", Decimal("12.9")), Variant("通用营养土 50L大包", Decimal("39.9"))),
)  # fmt: skip
CATALOG = Catalog.from_entries(SHOP, 1, [DRYER, BRUSH, HEADS, SOIL])


def said(text: str, order: Order | None = None) -> str:
    return in_customer_voice(Candidate(text, "answer", Source(), 1.0), order).text


def test_a_rule_for_agents_is_said_to_the_customer() -> None:
    rule = "亲，未发货：可以改，顾客可在订单详情页自己改，或发新地址给客服备注。"
    assert said(rule, Order("paid")) == (
        "亲，您的订单还没发货，可以改，您可以在订单详情页自己改，或发新地址给我们备注。"
    )
    shipped = "亲，已发货：不能改，客户可自行联系快递转寄，费用自理"
    assert said(shipped, Order("shipped")) == (
        "亲，您的订单已经发货了，不能改，您可以联系快递转寄，费用自理"
    )
    # the side an order is not on is not claimed for it; a new customer stays one
    assert said("亲，已发货：不能改", Order("paid")) == "亲，已发货：不能改"
    assert said("新客户可以领券，有问题联系客服哦") == "新客户可以领券，有问题联系客服哦"


def ask(text: str) -> str | None:
    conversation = Conversation(SHOP, (Turn("customer", text),))
    found = focus_answer(text, product_focus(conversation, CATALOG))
    return found.text if found else None


def test_a_weight_question_is_answered_by_the_weight() -> None:
    assert ask("h1多重啊 太重拿不动") == "亲，沐光 H1 高速负离子吹风机：机身约340g～"
    assert ask("h1功率多少瓦") == "亲，沐光 H1 高速负离子吹风机：1600W～"


def test_a_note_to_agents_is_never_a_clause_to_send() -> None:
    assert not any("别乱说" in clause for clause in product_clauses(DRYER))
    assert ask("h1噪音大吗") is None


def test_a_product_named_in_another_ones_brackets_is_the_one_meant() -> None:
    assert resolve_product("s3 pro续航多久", CATALOG) == (BRUSH, ())
    assert resolve_product("s3 pro的刷头", CATALOG) == (HEADS, ())
    assert ask("s3 pro续航多久") == "亲，沐光 S3 Pro 声波电动牙刷：约3.5小时充满，续航约60天～"


def test_an_amount_said_names_the_option_holding_it() -> None:
    chat = Conversation(SHOP, (Turn("customer", "买50L那个营养土 包邮不"),))
    assert product_focus(chat, CATALOG).variant == "通用营养土 50L大包"


@pytest.mark.parametrize("text", ["哈喽 有人没👋", "你好 在不", "有没有人啊", "人呢？"])
def test_are_you_there_as_customers_type_it_is_a_greeting(text: str) -> None:
    assert is_greeting(text)


def test_a_question_after_are_you_there_is_not_a_greeting() -> None:
    assert not is_greeting("在不 我想问下h1多重")
