"""A rule on changing an order, said for the change the customer asks.

Shops write one rule for every change: "没发货：地址您可以在订单页自助修改；电话这边备注改；同价规格
（比如换颜色）这边备注改，不同价的要退款重拍". To "地址写错了 能改吗" the parts about the phone
and the option are noise: the judges graded such replies 1, and the part alone 2.

The reply keeps the rule's parts (cut at ；。) that name the change asked or no change at all
("您的订单还没发货"), and drops those naming only another change (改电话, 合并发货). Nothing is
reworded. A rule that names no other change, a message that names none ("能改吗" alone, with
no earlier words naming one), an order already received (its 换 is an exchange), or a cut that
would leave nothing past the opening, leaves the candidate whole.
"""

from __future__ import annotations

import re
from dataclasses import replace

from copilot.types import Candidate, Conversation

_KINDS = {
    "address": re.compile(r"地址|收货信息|收件信息|搬家|寄到|送到"),
    "phone": re.compile(r"电话|手机号|号码|联系方式"),  # not 手机 (手机壳 is a product)
    "option": re.compile(r"规格|颜色|尺码|码数|款式|口味|型号|尺寸"),
    "merge": re.compile(r"合并"),
}
_CHANGE = re.compile(r"改|换|修改|变更|写错|填错|搬家")
_CHANGES_ORDER = re.compile(r"改|变更")  # what a rule on changing an order says
# an order received is exchanged or returned, not changed: "收到了尺码小了能换吗" is after-sales
_RECEIVED = frozenset({"delivered", "after_sales"})
_PARTS = re.compile(r"(?<=[；;。\n])")
_CLAUSES = re.compile(r"(?<=[，,：:])")
_EARLIER = 60  # characters of the customer's earlier words read for the change they name


def asked_change(conversation: Conversation) -> frozenset[str]:
    """The changes the message asks (address, phone, option), else those of the customer's
    earlier words ("地址写错了" before "还没发吧 能改吗"); empty when it asks no change, or when
    the order has arrived (its 换 is an exchange)."""
    said, order = conversation.last_customer_text, conversation.order
    if not _CHANGE.search(said) or (order is not None and order.status in _RECEIVED):
        return frozenset()
    earlier = "，".join(conversation.earlier_customer_texts)
    return _kinds(said) or _kinds(earlier[-_EARLIER:])


def for_the_change(candidate: Candidate, asked: frozenset[str]) -> Candidate:
    """The candidate without the parts about only another change than `asked`."""
    # a product's 尺寸 is no change, and a return policy's 退换 no change to the order
    if not asked or not _CHANGES_ORDER.search(candidate.text):
        return candidate
    opening, parts = _parts(candidate.text)
    kinds = [_kinds(part) for part in parts]
    kept = [part for part, k in zip(parts, kinds, strict=True) if not k or k & asked]
    if len(kept) == len(parts) or not kept:
        return candidate
    return replace(candidate, text=(opening + "".join(kept)).rstrip("；;，, \n"))


def _kinds(text: str) -> frozenset[str]:
    if _KINDS["merge"].search(text):  # "同地址的订单可以合并发货" is about merging
        return frozenset({"merge"})
    return frozenset(kind for kind, words in _KINDS.items() if words.search(text))


def _parts(text: str) -> tuple[str, list[str]]:
    """The text's opening clauses that name no change ("没发货：", "亲，您的订单还没发货，"),
    which hold for every change, and the rest cut at ；。."""
    parts = [p for p in _PARTS.split(text) if p]
    if not parts or not _kinds(parts[0]):
        return "", parts
    clauses = [c for c in _CLAUSES.split(parts[0]) if c]
    opening = 0
    while opening < len(clauses) - 1 and not _kinds(clauses[opening]):
        opening += 1
    return "".join(clauses[:opening]), ["".join(clauses[opening:]), *parts[1:]]
