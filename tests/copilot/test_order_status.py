"""Where the customer's own order stands, said from the order itself."""

from __future__ import annotations

from decimal import Decimal

import pytest

from copilot.grounding.catalog import Catalog
from copilot.grounding.order_status import order_status_answer
from copilot.types import Conversation, Order, OrderItem, Turn
from kb.types import Product

COAT = Product(
    "s", "coat", "羊毛大衣", Decimal(1299), usage_notes="库存：驼色M是预售，12月15日前发货"
)
CATALOG = Catalog.from_entries("s", 1, [COAT])

SHIPPED = Order("shipped", (OrderItem("p1"),), tracking_number="4312875509341")
PAID = Order("paid", (OrderItem("p1"),))


def answer(text: str, order: Order | None) -> str | None:
    found = order_status_answer(Conversation("s", (Turn("customer", text),), order), CATALOG)
    return found[0].text if found else None


@pytest.mark.parametrize(
    ("text", "order", "said"),
    [
        ("发货了没 单号多少", SHIPPED, "已经发出啦，运单号4312875509341"),
        ("物流三天没更新了 咋回事", SHIPPED, "马上帮您联系快递核实"),
        ("拍了两天了怎么还不发货", PAID, "还没发出，这边马上帮您催一下仓库"),
    ],
)
def test_the_order_says_where_it_stands(text: str, order: Order, said: str) -> None:
    reply = answer(text, order)
    assert reply is not None and said in reply, reply


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("地址填错了 能改吗 还没发吧", PAID),  # a change asked for, not where it is
        ("已经发货了？地址能改成公司的吗", SHIPPED),
        ("这个能用多久", SHIPPED),  # not about the parcel
        ("发货了没", None),  # no order to read
        ("发货了没", Order("shipped", (OrderItem("p1"),))),  # no tracking number to give
        ("怎么还不发货", Order("paid", (OrderItem("coat"),))),  # a pre-sale leaves when it says
    ],
)
def test_nothing_when_the_order_does_not_answer(text: str, order: Order | None) -> None:
    assert answer(text, order) is None
