"""A past reply's slots filled from this conversation's order."""

from __future__ import annotations

from collections.abc import Sequence

from copilot.types import Conversation


def fill_order_slots(text: str, slots: Sequence[str], conversation: Conversation) -> str | None:
    """Fill {订单号}/{运单号} from the order; a reply with any other slot is not usable as is."""
    order = conversation.order
    values = {
        "{订单号}": order.order_id if order else None,
        "{运单号}": order.tracking_number if order else None,
    }
    for slot in slots:
        value = values.get(slot)
        if not value:
            return None
        text = text.replace(slot, value)
    return text
