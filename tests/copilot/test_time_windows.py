"""A fault reported after some time gets the half of the shop's rule for that time: "15天内换新"
is not said to four months' use, nor "15天后保修" to five days'. Records built in code as trainers
write them, no models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from copilot.grounding.catalog import Catalog
from copilot.grounding.problem_replies import acknowledged
from copilot.grounding.time_windows import Span, fitting, time_had
from copilot.types import Candidate, Conversation, Order, OrderItem, Source, Turn
from kb.types import Policy, Product, Variant

SHOP = "peripherals"
MOUSE = Product(SHOP, "KA-M5", "无线办公鼠标", Decimal(99), (Variant("石墨黑"),))
QUALITY = Policy(
    SHOP, "pol-quality", "other", "质量问题",
    "签收15天内质量问题可退可换，运费我们承担，安排上门取件。15天后到质保期内，免费维修或换新"
    "（寄回检测），寄回运费买家出、寄出我们出。质保：鼠标1年，鼠标垫不保修。",
)  # fmt: skip
CATALOG = Catalog.from_entries(SHOP, 1, [MOUSE, QUALITY])
BOUGHT = Order("delivered", (OrderItem("KA-M5"),))


def rule_said_to(text: str) -> str:
    conversation = Conversation(SHOP, (Turn("customer", text),), BOUGHT)
    quoted = Candidate(f"亲，{QUALITY.content}", "answer", Source(kb_entry_ids=(QUALITY.id,)), 0.5)
    (reply,) = acknowledged(conversation, [quoted], CATALOG, MOUSE.id)
    return reply.text


@pytest.mark.parametrize(
    ("text", "least", "most"),
    [
        ("鼠标左键老是双击 才买两个月", 60, 60),
        ("充电宝买了两个多月 现在充不进电了", 60, 90),
        ("右边耳朵没声了 才到5天", 5, 5),
        ("破壁机用了4个月 突然不转了", 120, 120),
        ("一年多了 坏了", 365, 730),
        ("才用一个半月", 45, 45),
    ],
)
def test_the_time_a_customer_has_had_it_is_read_from_their_words(
    text: str, least: float, most: float
) -> None:
    assert time_had(text) == Span(least, most)


@pytest.mark.parametrize("text", ["签收7天内能退吗", "七天无理由可以吧", "用了十几天 坏了", "坏了"])
def test_a_window_asked_about_or_a_vague_time_is_no_time_had(text: str) -> None:
    assert time_had(text) is None


def test_a_fault_after_the_window_gets_the_repair_half_of_the_rule() -> None:
    reply = rule_said_to("鼠标左键老是双击 才买两个月")
    assert reply.startswith("非常抱歉给您添麻烦了，")
    assert "15天后到质保期内，免费维修或换新" in reply and "鼠标1年" in reply
    assert "15天内质量问题可退可换" not in reply


def test_a_fault_within_the_window_gets_the_exchange_half_of_the_rule() -> None:
    reply = rule_said_to("左键双击了 才到5天")
    assert "15天内质量问题可退可换" in reply
    assert "15天后" not in reply


@pytest.mark.parametrize("text", ["左键双击了", "买了半个月 左键双击了"])
def test_no_time_or_one_on_the_edge_keeps_the_whole_rule(text: str) -> None:
    reply = rule_said_to(text)
    assert "15天内质量问题可退可换" in reply and "15天后到质保期内" in reply


def test_a_rule_none_of_whose_windows_fits_is_kept_whole() -> None:
    clauses = ["签收7天内支持无理由退货", "15天内质量问题包换"]
    assert fitting(clauses, Span(60, 60)) == clauses
