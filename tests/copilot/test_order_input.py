"""Orders from clients: hostile numbers are refused naming the field, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from copilot.errors import InvalidInput
from copilot.jsonable import order_from_dict


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"status": "unpaid", "amount": "NaN"}, "order.amount"),
        ({"status": "unpaid", "amount": "Infinity"}, "order.amount"),
        ({"status": "unpaid", "amount": 1e30}, "order.amount"),
        ({"status": "unpaid", "items": [{"product_id": "p", "unit_price": "1e400"}]},
         "order.items[0].unit_price"),
        ({"status": "unpaid", "items": [{"product_id": "p", "quantity": 10**30}]},
         "order.items[0].quantity"),
        ({"status": "unpaid", "items": [{"product_id": "p", "quantity": True}]},
         "order.items[0].quantity"),
    ],
)  # fmt: skip
def test_hostile_numbers_are_refused_naming_the_field(order: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        order_from_dict(order)
    assert caught.value.field == field


def test_an_ordinary_order_still_reads() -> None:
    order = order_from_dict({"status": "unpaid", "amount": "89.9",
                             "items": [{"product_id": "p", "quantity": 2, "unit_price": 44.95}]})  # fmt: skip
    assert str(order.amount) == "89.9" and order.items[0].quantity == 2
