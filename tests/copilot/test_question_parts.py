"""Two questions in one message get one reply carrying both answers, as an agent would send
it: "沐浴露哪个味好闻啊 留香久不久". Only answers that surely answer their part are joined: an FAQ
whose question shares what is asked, about the product under discussion, no apology, no dump.
A small shop built here; real embedder, Redis and FAISS for the grounder."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from copilot.clock import Clock
from copilot.grounding.catalog import Catalog
from copilot.grounding.grounder import Grounder
from copilot.grounding.question_parts import (
    QuestionPart,
    about_one_product,
    joined_answer,
    part_answer,
    question_parts,
)
from copilot.types import Candidate, Conversation, Intent, Source, Turn
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.types import FAQ, Product

SHOP = "suds"
DAY = date(2026, 12, 6)
ROWS: list[dict[str, Any]] = [
    {"kind": "product", "id": "G1", "title": "香氛沐浴露", "price": "49.9",
     "selling_points": ["白茶/小苍兰/海盐椰子三种香型"]},
    {"kind": "product", "id": "T1", "title": "电动牙刷", "price": "129",
     "selling_points": ["3档模式，续航约30天"]},
    {"kind": "faq", "id": "F1", "question": "沐浴露哪个味道好闻？",
     "answer": "白茶是清淡的茶香，小苍兰偏甜，海盐椰子清爽～喜欢淡一点的推荐白茶"},
    {"kind": "faq", "id": "F2", "question": "沐浴露留香多久？",
     "answer": "一般能留香4-6小时，因人而异哦"},
    {"kind": "faq", "id": "F3", "question": "从哪里发货？", "answer": "浙江义乌发货"},
]  # fmt: skip


def test_each_question_of_a_message_is_a_part_with_the_clauses_that_ask_nothing() -> None:
    assert question_parts("沐浴露哪个味好闻啊 留香久不久") == [
        QuestionPart("沐浴露哪个味好闻啊", "沐浴露哪个味好闻啊"),
        QuestionPart("留香久不久", "留香久不久"),
    ]
    parts = question_parts("磁力片62片跟100片 4岁男娃买哪个 磁铁会不会掉出来啊？")
    assert [p.text for p in parts] == [
        "磁力片62片跟100片，4岁男娃买哪个",
        "磁力片62片跟100片，磁铁会不会掉出来啊？",
    ]


def test_one_question_or_a_question_about_nothing_is_no_parts() -> None:
    assert question_parts("沐浴露留香久不久") == []
    assert question_parts("卡片机都寄回去好几天了 钱啥时候到") == []  # 好几天 asks nothing
    assert question_parts("绿萝中盆和绿萝柱差多少啊 哪个好") == []  # 哪个好 needs the rest


def _answer(text: str, entry: str, score: float = 0.8) -> Candidate:
    return Candidate(text, "answer", Source(kb_entry_ids=(entry,)), score, (text,))


def test_different_answers_are_joined_in_the_order_asked() -> None:
    joined = joined_answer(
        [_answer("白茶是清淡的茶香～", "F1", 0.7), _answer("亲，一般能留香4-6小时哦～", "F2")]
    )
    assert joined is not None
    assert joined.text == "白茶是清淡的茶香；一般能留香4-6小时哦～"
    assert joined.source.kb_entry_ids == ("F1", "F2")
    assert joined.score > 0.8  # before either answer alone


def test_answers_repeating_each_other_or_too_long_are_not_joined() -> None:
    same = "默认中通/韵达随机，不支持指定快递，不发顺丰。"
    assert joined_answer([_answer(same, "F1"), _answer(f"{same}电动童车走德邦。", "F2")]) is None
    assert joined_answer([_answer("浙江义乌发货", "F3"), _answer("浙江义乌发货～", "F3")]) is None
    long = [_answer("甲" * 100, "F1"), _answer("乙" * 100, "F2")]
    assert joined_answer(long) is None


CATALOG = Catalog.from_entries(
    SHOP,
    1,
    [
        Product(SHOP, "G1", "香氛沐浴露", Decimal("49.9")),
        Product(SHOP, "T1", "电动牙刷", Decimal(129)),
        FAQ(SHOP, "F3", "从哪里发货？", "浙江义乌发货"),
        FAQ(SHOP, "F4", "电动牙刷掉色吗？", "刷柄不会掉色"),
        FAQ(SHOP, "F5", "会掉色吗？", "沐浴露瓶身印刷不会掉色"),
    ],
)


def test_a_part_takes_only_an_answer_that_says_what_it_asks() -> None:
    shower_gel = CATALOG.products["G1"]
    where = _answer("浙江义乌发货", "F3")
    assert part_answer("筒到哪里", [where], CATALOG, shower_gel) is None  # 哪里 is any question
    assert part_answer("从哪里发货", [where], CATALOG, shower_gel) is where
    other_product = _answer("刷柄不会掉色", "F4")
    this_product = _answer("沐浴露瓶身印刷不会掉色", "F5")
    assert part_answer("会不会掉色", [other_product], CATALOG, shower_gel) is None
    assert part_answer("会不会掉色", [other_product, this_product], CATALOG, shower_gel) is (
        this_product
    )
    sorry = _answer("非常抱歉让您久等了，浙江义乌发货", "F3")
    unsure = _answer("浙江义乌发货", "F3", 0.3)
    assert part_answer("从哪里发货", [sorry, unsure], CATALOG, shower_gel) is None


def test_a_shipping_part_takes_the_answer_stating_what_it_asks_for() -> None:
    """ "今天拍啥时侯发 发啥快递" shares no word with "16:00前付款当天发" or "默认中通"."""
    when = _answer("16:00前付款当天发，16:00后次日发", "F3")
    courier = _answer("默认中通（偶尔韵达），需要顺丰补8元差价", "F3")
    days = _answer("江浙沪1-2天，其他地区2-4天", "F3")
    found = [courier, days, when]
    assert part_answer("今天拍啥时侯发", found, CATALOG, None) is when
    assert part_answer("发啥快递", [days, when, courier], CATALOG, None) is courier
    assert part_answer("明天能到不", found, CATALOG, None) is days
    assert part_answer("明天能到不", [courier, when], CATALOG, None) is None
    joined = joined_answer([when, courier])
    assert joined is not None and joined.text.startswith(when.text)


def test_answers_about_two_products_are_not_one_reply() -> None:
    shower_gel = _answer("亲，香氛沐浴露：三种香型～", "G1")  # the record's own clause
    brush = _answer("刷柄不会掉色", "F4")  # an FAQ asking about the toothbrush
    shipping = _answer("浙江义乌发货", "F3")  # about no product
    assert about_one_product([shower_gel, shipping], CATALOG)
    assert not about_one_product([shower_gel, brush], CATALOG)


@pytest.fixture()
def grounder(kb: KnowledgeBase, clock: Clock) -> Grounder:
    kb.add(SHOP, [entry_from_dict(SHOP, row) for row in ROWS])
    return Grounder(kb, clock=clock)


def _chat(text: str) -> Conversation:
    return Conversation(SHOP, (Turn("customer", text),))


def test_two_questions_get_one_reply_with_both_answers(grounder: Grounder) -> None:
    intent = Intent("product_question", 0.9, family="pre_sales")
    best = grounder.ground(_chat("沐浴露哪个味好闻啊 留香久不久"), intent, day=DAY).best
    assert best is not None
    assert best.text.index("白茶") < best.text.index("4-6小时")
    assert set(best.source.kb_entry_ids) == {"F1", "F2"}


def test_a_problem_told_with_questions_keeps_its_single_answers(grounder: Grounder) -> None:
    for intent in (
        Intent("complaint", 0.9, family="general"),
        Intent("return", 0.9, family="after_sales"),
    ):
        found = grounder.ground(_chat("沐浴露哪个味好闻啊 留香久不久"), intent, day=DAY)
        assert all(len(c.source.kb_entry_ids) <= 1 for c in found.candidates), intent
