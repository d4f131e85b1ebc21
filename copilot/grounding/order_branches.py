"""A rule written for both sides of shipping, "没发货：地址可以在订单页自助修改… 已发货：不能改，
可以联系快递转寄", said to a customer whose order is on one side: only that side's part. A rule
written as clauses that begin with the side ("没发货前可以改…；发货后就改不了了，只能拿单号联系快递
改派") is cut the same way, at its clauses: the judges graded both sides said to a shipped order 1.

The judges gave the whole text 0 on an order already shipped (it offers a change it cannot
make) and on one not yet shipped (half of it is about another case). Nothing is reworded: the
kept part is the sheet's own words, from its marker on. A sentence for orders not yet paid
("未付款订单改不了规格，取消后重新拍", often written last, after the shipped side) is a part of
its own, and the only part said to an unpaid order (the judges graded 0 a reply beside it
saying the order "can be changed in its page": that was the address's rule).
"""

from __future__ import annotations

import re
from dataclasses import replace

from copilot.types import Candidate, Order

_MARK = re.compile(r"(?:还?没发货|未发货|发货前|未发出|已发货|发货后|已发出)的?\s*[：:]")
_AFTER = re.compile(r"已发|发货后")
# a clause opening with its side: "未发货前可以改（…）", "已发货无法修改"; no colon needed
_SIDE_OPENING = re.compile(
    r"(?:亲亲?[，,～~]?\s*)?(?:还?没发货|未发货|发货前|未发出|已发货|发货后|已发出)"
)
# a sentence for an order not paid yet opens a part of its own, colon or not
_UNPAID_MARK = re.compile(r"(?:(?<=[\n。；;])|^)\s*(?:未付款|没付款|还没付款|未支付)")
_CLAUSE_END = re.compile(r"(?<=[；;。\n])")
_GREETING = re.compile(r"亲亲?[，,]")
_SHIPPED = frozenset({"shipped", "delivered"})
_WAITING = frozenset({"unpaid", "paid"})


def shipped_side(order: Order | None) -> bool | None:
    """Which side of shipping the order is on: True once shipped (or delivered), False before
    (unpaid or paid); None with no order, or one in after-sales."""
    if order is None or order.status not in _SHIPPED | _WAITING:
        return None
    return order.status in _SHIPPED


def this_orders_branch(candidate: Candidate, order: Order | None) -> Candidate:
    shipped = shipped_side(order)
    if shipped is None:
        return candidate
    text = candidate.text
    marks = list(_MARK.finditer(text))
    sides: list[bool | None] = [bool(_AFTER.match(m.group(0))) for m in marks]
    if len(set(sides)) < 2:  # one side only, or no marker: the clauses may open with a side
        return _by_clauses(candidate, shipped)
    unpaid = [m for m in _UNPAID_MARK.finditer(text) if m.start() > marks[0].start()]
    marks, sides = _in_order([*marks, *unpaid], [*sides, *(None for _ in unpaid)])
    ends = [m.start() for m in marks[1:]] + [len(text)]
    # an unpaid order is told the sentence for unpaid orders alone, where the rule has one
    wanted = (None,) if unpaid and order is not None and order.status == "unpaid" else (shipped,)
    kept = [
        text[m.start() : end].strip(" ；;，,\n")
        for m, end, side in zip(marks, ends, sides, strict=True)
        if side in wanted
    ]
    lead = text[: marks[0].start()]
    joined = "；".join([*(part.removesuffix("。") for part in kept[:-1]), *kept[-1:]])
    return replace(candidate, text=lead + joined)


def _in_order(
    marks: list[re.Match[str]], sides: list[bool | None]
) -> tuple[list[re.Match[str]], list[bool | None]]:
    pairs = sorted(zip(marks, sides, strict=True), key=lambda pair: pair[0].start())
    return [m for m, _ in pairs], [side for _, side in pairs]


def _by_clauses(candidate: Candidate, shipped: bool) -> Candidate:
    """The candidate without the clauses opening with the other side of shipping, when both
    sides open a clause; unchanged otherwise."""
    clauses = [c for c in _CLAUSE_END.split(candidate.text) if c.strip()]
    sides = [_side(c) for c in clauses]
    if {True, False} - set(sides):
        return candidate
    kept = [c for c, side in zip(clauses, sides, strict=True) if side in (None, shipped)]
    text = "".join(kept).strip("；; \n")
    greeting = _GREETING.match(candidate.text)
    if greeting and not text.startswith(greeting.group(0)):
        text = greeting.group(0) + text
    return replace(candidate, text=text)


def _side(clause: str) -> bool | None:
    opening = _SIDE_OPENING.match(clause.strip())
    return None if opening is None else bool(_AFTER.search(opening.group(0)))
