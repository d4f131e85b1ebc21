"""The tiers of one deal said as one deal. A trainer's 满49减5、满99减12 imports as two
promotions (the order gets the better one: kb.files.sheets.promotion_rows), titled
"双12年终狂欢（满49减5）" and "双12年终狂欢（满99减12）"; a reply listing them as two reads as
pasted from a table. Said together: "双12年终狂欢：满49减5、满99减12（到12月12日）"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from kb.types import Promotion

_TIER_TITLE = re.compile(r"^(?P<base>.+?)（满\d+(?:\.\d+)?减\d+(?:\.\d+)?）$")


def tiers_joined(promotions: Sequence[Promotion]) -> list[Promotion]:
    """The promotions with each deal's tiers (one base title, the same dates, scope and notes)
    joined into one, its rule the tiers' rules from the lowest threshold up; in first-seen
    order."""
    return [joined for joined, _ in deals(promotions)]


def deals(promotions: Sequence[Promotion]) -> list[tuple[Promotion, tuple[Promotion, ...]]]:
    """Each deal as said (see tiers_joined) with the promotions it stands for."""
    groups: dict[tuple[object, ...], list[Promotion]] = {}
    for promotion in promotions:
        groups.setdefault(_deal_of(promotion), []).append(promotion)
    out = []
    for members in groups.values():
        ordered = sorted(members, key=_threshold)
        if len(ordered) == 1:
            out.append((ordered[0], tuple(ordered)))
            continue
        base = _TIER_TITLE.match(ordered[0].title)
        title = base.group("base") if base else ordered[0].title
        rule = "、".join(p.rule_text for p in ordered)
        out.append((replace(ordered[0], title=title, rule_text=rule), tuple(ordered)))
    return out


def _deal_of(promotion: Promotion) -> tuple[object, ...]:
    tier = _TIER_TITLE.match(promotion.title)
    if tier is None:
        return ("one", promotion.id)
    return (tier.group("base"), promotion.starts, promotion.ends, promotion.description,
            promotion.product_ids)  # fmt: skip


def _threshold(promotion: Promotion) -> Decimal:
    return promotion.rule.threshold or Decimal(0)
