"""Ages, weights, head counts and lengths: what a customer says (两个半月, 12斤, 3个人, 手腕15.5cm)
and the ranges a product record states (2-12月龄, 1岁以上, 5kg以内, >1kg, 1-3人, 15-16cm), in
one unit per kind (months, kg, people, cm), so that a stated measure can be checked against a
record's range."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from copilot.text.figures import normalize

_UNITS = {"个月": "month", "月龄": "month", "月": "month", "岁": "month", "kg": "kg",
          "公斤": "kg", "斤": "kg", "人": "person", "cm": "cm", "厘米": "cm", "公分": "cm",
          "mm": "cm", "毫米": "cm"}  # fmt: skip
_SCALE = {"岁": 12.0, "斤": 0.5, "mm": 0.1, "毫米": 0.1}
_UNIT = r"(个月|月龄|月|岁|kg|公斤|斤|人|cm|厘米|公分|mm|毫米)"
_NUMBER = r"(\d+(?:\.\d+)?)"
_SPAN = re.compile(rf"{_NUMBER}\s*{_UNIT}?\s*[-~～至到]\s*{_NUMBER}\s*{_UNIT}")
_ABOVE = re.compile(rf"[>＞]\s*{_NUMBER}\s*{_UNIT}|{_NUMBER}\s*{_UNIT}\s*(?:以上|及以上|起|\+)")
_BELOW = re.compile(rf"[<＜]\s*{_NUMBER}\s*{_UNIT}|{_NUMBER}\s*{_UNIT}\s*(?:以下|以内|及以下)")
_SAID = re.compile(
    r"(\d+(?:\.\d+)?|[一二两三四五六七八九十]+)\s*(个半|个|岁半)?\s*"
    r"(月|岁|kg|公斤|斤|人|cm|厘米|公分|mm|毫米)"
)
_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九十")} | {"两": 2}
FIT = 3.0  # a stated age or weight inside a record's range
MISFIT = -3.0  # outside it


@dataclass(frozen=True)
class Measure:
    unit: str  # month, kg, person
    low: float
    high: float


# "3岁以下禁止" names whom the product is not for: it is no range the product fits
_FORBIDDEN = re.compile(
    rf"(?:[<>]\s*)?{_NUMBER}\s*{_UNIT}?\s*(?:[-~～至到]\s*{_NUMBER}\s*)?{_UNIT}\s*"
    r"(?:以下|以内|以上|及以下|及以上)?\s*(?:的?(?:儿童|宝宝|孩子|婴儿|人群))?\s*"
    r"(?:禁止|禁用|不宜|不适合|不建议|勿|慎用|不能用|不可)"
)
# "一岁8个月": one age, in years and months
_YEARS_MONTHS = re.compile(
    r"(\d+|[一二两三四五六七八九十]+)\s*岁\s*零?\s*(\d+|[一二两三四五六七八九十]+)\s*个?月"
)


def measures_said(text: str) -> list[Measure]:
    found = []
    for years, months in _YEARS_MONTHS.findall(text):
        value = _number(years) * 12 + _number(months)
        found.append(Measure("month", value, value))
    for number, half, unit in _SAID.findall(_YEARS_MONTHS.sub(" ", text)):
        value = _number(number) + (0.5 if half and "半" in half else 0.0)
        value *= _SCALE.get(unit, 1.0)
        found.append(Measure(_UNITS[unit], value, value))
    return found


def first_said(text: str) -> str:
    """The words of the first measure the text states ("12斤", "两个半月"), as written."""
    found = _YEARS_MONTHS.search(text) or _SAID.search(text)
    return found.group(0) if found else ""


def without_measures(text: str) -> str:
    """The text with the measures it states taken out: "娃4岁" is 娃."""
    return _SAID.sub(" ", _YEARS_MONTHS.sub(" ", text))


def ranges(text: str) -> list[Measure]:
    """The ranges a record states: 2-12月龄, 1岁以上, 5kg以内, >1kg, 1-3人."""
    text = _FORBIDDEN.sub(" ", normalize(text).lower())
    found = []
    for low, unit_a, high, unit in _SPAN.findall(text):
        scale = _SCALE.get(unit, 1.0)
        low_scale = _SCALE.get(unit_a, scale) if unit_a else scale
        found.append(Measure(_UNITS[unit], float(low) * low_scale, float(high) * scale))
    for pattern, above in ((_ABOVE, True), (_BELOW, False)):
        for m in pattern.finditer(text):
            number, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            value = float(number) * _SCALE.get(unit, 1.0)
            bounds = (value, math.inf) if above else (0.0, value)
            found.append(Measure(_UNITS[unit], *bounds))
    return found


def range_score(said: Sequence[Measure], ranges: Sequence[Measure]) -> float:
    score = 0.0
    for measure in said:
        same = [r for r in ranges if r.unit == measure.unit]
        if same:
            inside = any(r.low <= measure.low <= r.high for r in same)
            score += FIT if inside else MISFIT
    return score


def _number(text: str) -> float:
    if text[0].isdigit():
        return float(text)
    if text.startswith("十"):  # 十二 = 12
        return 10.0 + sum(_DIGITS.get(c, 0) for c in text[1:])
    if "十" in text:  # 二十 = 20, 二十四 = 24
        tens, _, ones = text.partition("十")
        return 10.0 * _DIGITS.get(tens, 1) + sum(_DIGITS.get(c, 0) for c in ones)
    return float(_DIGITS.get(text, 0))
