"""Conversations, orders and suggestions to and from plain JSON-able dicts (CLI files, eval
records). Validation names the field at fault."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Any, cast, get_args

from copilot.errors import InvalidInput
from copilot.types import Conversation, Order, OrderItem, OrderStatus, Suggestion, Turn


def turns_from_list(items: Any, field: str = "turns") -> tuple[Turn, ...]:
    if not isinstance(items, list):
        raise InvalidInput(field, "must be a list of {role, text}")
    turns = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if not isinstance(item, dict) or item.get("role") not in ("customer", "agent"):
            raise InvalidInput(f"{where}.role", "must be 'customer' or 'agent'")
        text = str(item.get("text") or "").strip()
        if not text:
            raise InvalidInput(f"{where}.text", "must not be empty")
        ts = item.get("ts")
        turns.append(Turn(item["role"], text, float(ts) if ts is not None else None))
    return tuple(turns)


def order_from_dict(data: Any, field: str = "order") -> Order:
    if not isinstance(data, dict):
        raise InvalidInput(field, "must be an object")
    status = data.get("status")
    if status not in get_args(OrderStatus):
        raise InvalidInput(f"{field}.status", f"must be one of {', '.join(get_args(OrderStatus))}")
    items = []
    for index, item in enumerate(data.get("items") or []):
        where = f"{field}.items[{index}]"
        if not isinstance(item, dict) or not item.get("product_id"):
            raise InvalidInput(f"{where}.product_id", "is required")
        quantity = item.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise InvalidInput(f"{where}.quantity", "must be a whole number >= 1")
        if quantity > MAX_QUANTITY:
            raise InvalidInput(f"{where}.quantity", f"must be at most {MAX_QUANTITY}")
        price = _money(item.get("unit_price"), f"{where}.unit_price")
        items.append(OrderItem(str(item["product_id"]), quantity, price, item.get("variant")))
    return Order(
        status=cast(OrderStatus, status),
        items=tuple(items),
        amount=_money(data.get("amount"), f"{field}.amount"),
        tracking_number=data.get("tracking_number"),
        order_id=data.get("order_id"),
    )


# No shop order comes near these; beyond them Decimal arithmetic (1e400 x 10**30) overflows.
MAX_MONEY = Decimal(10_000_000)
MAX_QUANTITY = 10_000


def _money(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        money = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(field, f"{value!r} is not a number") from None
    if not money.is_finite():
        raise InvalidInput(field, f"{value!r} is not a number (write e.g. 89.9)")
    if money < 0:
        raise InvalidInput(field, "must not be negative")
    if money > MAX_MONEY:
        raise InvalidInput(field, f"must be at most {MAX_MONEY} yuan")
    return money


def conversation_from_dict(data: dict[str, Any]) -> Conversation:
    order = data.get("order")
    return Conversation(
        shop_id=str(data.get("shop_id") or ""),
        turns=turns_from_list(data.get("turns")),
        order=order_from_dict(order) if order else None,
        notes=str(data.get("notes") or ""),
        conversation_id=data.get("conversation_id"),
    )


def suggestion_to_dict(suggestion: Suggestion) -> dict[str, Any]:
    """The output object: Decimals as strings, tuples as lists."""
    return _plain(asdict(suggestion))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value
