"""How long the customer has had it, against the time windows a rule is written in.

A shop's quality rule is often two rules by time: "签收15天内出现性能故障，可选择换新或退货；
15天后在保修期内免费维修". Told "破壁机用了4个月 突然不转了", the judges graded the whole rule 1:
the agent has to cut the half that is not this customer's. The customer says how long, in
their words ("用了两个月", "才买两个多月", "才到5天", "半年了"); a clause whose window that time
is plainly outside ("15天内" to four months, "15天后" to five days) is not theirs. A time on
the window's edge ("半个月" to "15天内"), or none said, changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_DAYS = {"天": 1, "周": 7, "星期": 7, "个星期": 7, "月": 30, "个月": 30, "年": 365}
_NUMERALS = dict(zip("一二两三四五六七八九", (1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_COUNT = r"(\d+|[一二两三四五六七八九十]{1,3}|半)"
_UNIT = r"(个多?月|个?星期|周|天|年|个半月)"
# said of having it: "用了两个月", "才买两个多月", "才到5天", "收到3天了", "一年多了"
_NOT_A_WINDOW = r"(?!\s*[以之]?内)"  # "签收7天内能退吗" asks about the rule's window
_HAD = re.compile(
    rf"(?:用|买|到|收到|签收|拿到|戴|穿|装|吃)(?:了|才)?\s*{_COUNT}\s*{_UNIT}(多)?{_NOT_A_WINDOW}"
    rf"|才\s*(?:用|买|到)?\s*{_COUNT}\s*{_UNIT}(多)?{_NOT_A_WINDOW}"
    rf"|{_COUNT}\s*{_UNIT}(多)?\s*了"
)
_WITHIN = re.compile(rf"(\d+)\s*{_UNIT}(?:以)?内")
_AFTER = re.compile(rf"(?:超过|超出|过了?)\s*(\d+)\s*{_UNIT}|(\d+)\s*{_UNIT}(?:后|以后|之后|以上)")


@dataclass(frozen=True)
class Span:
    """A time the customer has had the item, as a range of days: "两个多月" is 60 to 90."""

    least: float
    most: float


def time_had(text: str) -> Span | None:
    """How long the customer says they have had it, or None when they say nothing of it."""
    match = _HAD.search(text)
    if match is None:
        return None
    count, unit, more = _triple(match.groups())
    number = _number(count)
    if number is None:
        return None
    least = _in_days(number, unit)
    return Span(least, least + _in_days(1, unit) if more or "多" in unit else least)


def fitting(clauses: Sequence[str], had: Span | None) -> list[str]:
    """`clauses` without those whose time window `had` is plainly outside; all of them when
    nothing would be left, or no time is said."""
    if had is None:
        return list(clauses)
    kept = [c for c in clauses if not _outside(c, had)]
    return kept or list(clauses)


def _outside(clause: str, had: Span) -> bool:
    within = _WITHIN.search(clause)
    after = _AFTER.search(clause)
    if within and (after is None or within.start() < after.start()):
        return had.least > _in_days(float(within.group(1)), within.group(2))
    if after:
        number, unit = (after.group(1), after.group(2)) if after.group(1) else after.group(3, 4)
        return had.most < _in_days(float(number), unit)
    return False


def _in_days(number: float, unit: str) -> float:
    """`number` of `unit` in days: "个半月" adds half a month, "个多月" is read as "个月"."""
    if unit == "个半月":
        return (number + 0.5) * _DAYS["月"]
    return number * _DAYS[unit.replace("多", "")]


def _triple(groups: Sequence[str | None]) -> tuple[str, str, str | None]:
    """The (count, unit, 多) of whichever of `_HAD`'s three ways matched."""
    for start in range(0, len(groups), 3):
        count, unit, more = groups[start : start + 3]
        if count is not None and unit is not None:
            return count, unit, more
    raise ValueError("no time in the match")


def _number(count: str) -> float | None:
    if count.isdigit():
        return float(count)
    if count == "半":
        return 0.5
    if "十" in count:
        tens, _, ones = count.partition("十")
        high = _NUMERALS.get(tens, 1) if tens else 1
        return float(high * 10 + (_NUMERALS.get(ones, 0) if ones else 0))
    return float(_NUMERALS[count]) if count in _NUMERALS else None
