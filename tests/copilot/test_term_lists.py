"""A warranty term the shop lists per product is said for the customer's product alone: "质保：
键盘/鼠标/耳机1年，支架3年" to a mouse owner is "质保：鼠标1年". Records built in code, no models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from copilot.grounding.catalog import Catalog
from copilot.grounding.problem_replies import acknowledged
from copilot.grounding.term_lists import own_terms
from copilot.types import Candidate, Conversation, Order, OrderItem, Source, Turn
from kb.types import Policy, Product

SHOP = "peripherals"
MOUSE = Product(SHOP, "KA-M5", "键弧M5 无线办公鼠标", Decimal(99))
PAD = Product(SHOP, "KA-P1", "加厚鼠标垫", Decimal(19))
BRUSH = Product(SHOP, "PC05", "沐光 S1 声波电动牙刷", Decimal(129))
LISTED = "质保：键盘/鼠标/耳机/扩展坞1年，支架3年，鼠标垫、轴体不保修（到货损坏除外）"
WARRANTY = Policy(
    SHOP,
    "pol-warranty",
    "other",
    "保修",
    f"非人为损坏免费维修，寄回运费先垫付，检测后补给客户。{LISTED}",
)
CATALOG = Catalog.from_entries(SHOP, 1, [MOUSE, PAD, BRUSH, WARRANTY])


@pytest.mark.parametrize(
    ("product", "said"),
    [
        (MOUSE, "质保：鼠标1年"),
        (PAD, "质保：鼠标垫不保修（到货损坏除外）"),  # the longer name, not 鼠标 in 鼠标垫
        (BRUSH, LISTED),  # named nowhere: the list stays whole
        (None, LISTED),
    ],
)
def test_a_term_list_is_cut_to_the_entry_naming_the_product(
    product: Product | None, said: str
) -> None:
    assert own_terms(LISTED, product) == said


def test_a_model_code_is_not_read_inside_a_longer_one() -> None:
    listed = "保修期内（S10、H1两年，S1、K1一年）"
    assert own_terms(listed, BRUSH) == "保修期内（S1一年）"
    ten = Product(SHOP, "PC10", "沐光 S10 声波电动牙刷", Decimal(299))
    assert own_terms(listed, ten) == "保修期内（S10两年）"


def test_terms_of_one_product_each_are_no_list_to_cut() -> None:
    assert own_terms("整机保修1年，电机保修5年", MOUSE) == "整机保修1年，电机保修5年"


def test_a_reported_fault_is_told_its_products_term_in_the_customers_voice() -> None:
    order = Order("delivered", (OrderItem("KA-M5"),))
    conversation = Conversation(SHOP, (Turn("customer", "鼠标左键老是双击 坏了"),), order)
    quoted = Candidate(
        f"亲，{WARRANTY.content}", "answer", Source(kb_entry_ids=("pol-warranty",)), 0.5
    )
    (reply,) = acknowledged(conversation, [quoted], CATALOG, MOUSE.id)
    assert reply.text.endswith("质保：鼠标1年") and "支架" not in reply.text
    assert "补给您" in reply.text and "客户" not in reply.text  # cut afresh from the sheet
