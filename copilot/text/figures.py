"""Numbers in Chinese shop text: money, ratios, quantities, dates, times, ids; what a reply
states and what the KB and order support."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TypeAlias

from copilot.types import Order

# --- numbers in text: one extractor for KB texts and replies, so both sides read alike ---------

DateKey: TypeAlias = tuple[int | None, int | None, int | None]  # (year, month, day)
_NUM = r"(\d+(?:,\d{3})*(?:\.\d+)?)"
_RANGE = rf"{_NUM}(?:\s*[-~至到/]\s*{_NUM})?"
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGIT |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# the financial forms (大写, written on refunds and receipts) read the same: 伍佰元 = 500元
_CN_DIGIT |= {"零": 0, "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8}
_CN_DIGIT |= {"玖": 9, "幺": 1}  # 幺: the 1 of spoken phone numbers
_CN_POWER = {"十": 10, "百": 100, "千": 1000, "拾": 10, "佰": 100, "仟": 1000}
# unit -> (class, factor to the class's base: minutes, grams, ml, mm)
_UNITS: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("个工作日", "工作日"), ("workdays", 1)),
    **dict.fromkeys(("分钟",), ("minutes", 1)),
    **dict.fromkeys(("个小时", "小时", "钟头"), ("minutes", 60)),
    **dict.fromkeys(("天", "日"), ("minutes", 1440)),
    **dict.fromkeys(("个星期", "星期", "周"), ("minutes", 10080)),
    **dict.fromkeys(("个月",), ("minutes", 43200)),
    **dict.fromkeys(("年",), ("minutes", 525600)),
    **dict.fromkeys(("克", "g"), ("grams", 1)),
    **dict.fromkeys(("斤",), ("grams", 500)),
    **dict.fromkeys(("公斤", "千克", "kg"), ("grams", 1000)),
    **dict.fromkeys(("毫升", "ml"), ("ml", 1)),
    **dict.fromkeys(("升", "L"), ("ml", 1000)),
    **dict.fromkeys(("毫米", "mm"), ("mm", 1)),
    **dict.fromkeys(("厘米", "公分", "cm"), ("mm", 10)),
    **dict.fromkeys(("米", "m"), ("mm", 1000)),
    **dict.fromkeys(("°C", "度"), ("celsius", 1)),
    **dict.fromkeys(
        "件个双套只瓶盒包袋条张位次颗杯勺支台单笔岁字层份倍人款色码号片根粒对箱卷枚把", ("count", 1)
    ),
}
_ASCII_UNITS = {u for u in _UNITS if u.isascii() and u.isalpha()}
_UNIT_RE = "|".join(
    (
        rf"(?i:{re.escape(u)})(?![A-Za-z])"
        if u in ("ml", "kg", "cm", "mm")
        else rf"{re.escape(u)}(?![A-Za-z])"
        if u in _ASCII_UNITS
        else re.escape(u)
    )
    for u in sorted(_UNITS, key=len, reverse=True)
)
_CN_CHARS = "".join(dict.fromkeys([*_CN_DIGIT, *_CN_POWER]))
_CN_RUN = re.compile(
    rf"(?<![第\d])([{_CN_CHARS}][{_CN_CHARS}万]*)"
    rf"(?=\s*(?:{_UNIT_RE}|元|块|折|月|日|号))"
)
_CN_PERCENT = re.compile(r"百分之([零〇一二两三四五六七八九十百]+)")


@dataclass(frozen=True)
class Mention:
    """A number as a reply states it: kind, normalised value, and how it was written."""

    kind: str  # money | ratio | date | time | id | quantity | plain
    value: Decimal | str | DateKey
    text: str
    unit: str = ""  # quantity class: minutes, grams, ml, mm, celsius, workdays, count
    raw: Decimal | None = None  # the figure as written, before unit conversion


def normalize(text: str) -> str:
    """NFKC: full-width digits and letters, ￥ and ℃ read like their ASCII forms."""
    return unicodedata.normalize("NFKC", text)


def _dec(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _cn_number(run: str) -> int | None:
    """一百零五 -> 105, 十二 -> 12, 两 -> 2, 二〇二六 -> 2026; vague runs (一两, 三五) -> None."""
    if "万" in run:
        high, _, low = run.partition("万")
        h, lo = (_cn_number(high) if high else 1), (_cn_number(low) if low else 0)
        return None if h is None or lo is None else h * 10000 + lo
    if all(c in _CN_DIGIT for c in run):
        if len(run) == 1:
            return _CN_DIGIT[run]
        if len(run) >= 3 and "两" not in run:
            return int("".join(str(_CN_DIGIT[c]) for c in run))
        return None
    total, digit = 0, None
    for c in run:
        if c in "零〇":
            continue
        if c in _CN_DIGIT:
            if digit is not None:
                return None
            digit = _CN_DIGIT[c]
        else:
            total += (1 if digit is None else digit) * _CN_POWER[c]
            digit = None
    return total + (digit or 0)


_SPOKEN_DIGITS = re.compile(rf"[{''.join(_CN_DIGIT)}]{{7,}}")


def spoken_digits(text: str) -> str:
    """Long runs of Chinese digits as digits (一三八一二三四五六七八 -> 13812345678): how a
    phone number is written to slip past a digit pattern."""
    return _SPOKEN_DIGITS.sub(lambda m: "".join(str(_CN_DIGIT[c]) for c in m.group(0)), text)


def _cn_to_digits(text: str) -> str:
    def percent(m: re.Match[str]) -> str:
        value = _cn_number(m.group(1))
        return m.group(0) if value is None else f"{value}%"

    def run(m: re.Match[str]) -> str:
        value = _cn_number(m.group(1))
        return m.group(0) if value is None else str(value)

    return _CN_RUN.sub(run, _CN_PERCENT.sub(percent, text))


def _plain(*texts: str | None) -> list[Mention]:
    return [Mention("plain", v, t, raw=v) for t in texts if t and (v := _dec(t)) is not None]


def _money(m: re.Match[str]) -> list[Mention]:
    scale = Decimal(10000) if "万" in m.group(0) else Decimal(1)
    return [
        Mention("money", v * scale, m.group(0).strip(), raw=v)
        for g in m.groups()
        if g and g != "万" and (v := _dec(g)) is not None
    ]


def _ratio(m: re.Match[str]) -> list[Mention]:
    value = _dec(m.group(1))
    if value is None:
        return []
    if m.group(0).rstrip().endswith("%"):
        ratio = value / 100
    else:
        ratio = value / 100 if value > 10 else value / 10
    return [Mention("ratio", ratio.normalize(), m.group(0), raw=value)]


def _quantity(m: re.Match[str]) -> list[Mention]:
    unit = m.group(3)
    cls, factor = _UNITS.get(unit, _UNITS.get(unit.lower(), ("count", 1)))
    return [
        Mention("quantity", v * factor, m.group(0), unit=cls, raw=v)
        for g in (m.group(1), m.group(2))
        if g and (v := _dec(g)) is not None
    ]


def _date(year: str | None, month: str | None, day: str | None, text: str) -> list[Mention]:
    y, mo, d = (int(x) if x else None for x in (year, month, day))
    if (mo is not None and not 1 <= mo <= 12) or (d is not None and not 1 <= d <= 31):
        return _plain(year, month, day)
    return [Mention("date", (y, mo, d), text, raw=Decimal(x)) for x in (d or mo or y,) if x]


def _dates(m: re.Match[str]) -> list[Mention]:
    g = m.groupdict()
    found = _date(g.get("y"), g.get("m"), g.get("d"), m.group(0))
    if g.get("d2"):
        found += _date(g.get("y"), g.get("m"), g["d2"], m.group(0))
    return found


def _time(m: re.Match[str]) -> list[Mention]:
    hour, minute = int(m.group(1)), m.group(2) or "00"
    if m.group(0).endswith("半"):
        minute = "30"
    if hour > 24 or int(minute) > 59:
        return _plain(m.group(1), m.group(2))
    return [Mention("time", f"{hour}:{int(minute):02d}", m.group(0), raw=Decimal(hour))]


_Pass = tuple[re.Pattern[str], Callable[[re.Match[str]], list[Mention]]]
_PASSES: tuple[_Pass, ...] = (
    (re.compile(r"https?://\S+|www\.\S+", re.I), lambda m: []),
    (
        re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z]+(?:[-_][A-Za-z]+)*[-_]?\d[A-Za-z0-9_-]*|\d{8,})"),
        lambda m: [Mention("id", m.group(0).lower(), m.group(0))],
    ),
    (
        re.compile(
            r"(?<!\d)(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})"
            r"[日号]?(?!\d)|(?<!\d)(?P<y2>\d{4})年(?:(?P<m2>\d{1,2})月)?"
        ),
        lambda m: _date(m["y"] or m["y2"], m["m"] or m["m2"], m["d"], m.group(0)),
    ),
    (
        re.compile(
            r"(?<![\d.])(?P<m>\d{1,2})月(?:(?P<d>\d{1,2})[日号](?:\s*[-~至到]\s*(?P<d2>\d{1,2})"
            r"[日号](?!\d))?)?(?![\d])"
        ),
        _dates,
    ),
    (re.compile(r"(?<![\d.:])(\d{1,2}):(\d{2})(?![\d:])"), _time),
    (re.compile(r"(?<![\d.])(\d{1,2})点(?:(\d{1,2})分?|半)?"), _time),
    (re.compile(rf"¥\s*{_NUM}(?:\s*[-~至到/]\s*¥\s*{_NUM})?"), _money),
    (re.compile(rf"满{_NUM}\s*元?减{_NUM}\s*(?:元|块)?"), _money),
    (re.compile(rf"(?<![\d.]){_RANGE}\s*(万)?\s*(?:元(?!旦)|块钱|块|rmb)", re.I), _money),
    (
        re.compile(rf"(?:立减|直降|减|降价|便宜|优惠|补贴|红包)\s*{_NUM}(?![\d.]*\s*(?:%|折|件))"),
        _money,
    ),
    (re.compile(rf"满{_NUM}(?![\d.]*\s*(?:{_UNIT_RE}))"), _money),
    (re.compile(rf"(?<![\d.]){_NUM}\s*(?:%|折(?!叠|扣|算|合))"), _ratio),
    (re.compile(rf"(?<![\d.]){_RANGE}\s*({_UNIT_RE})"), _quantity),
    (re.compile(rf"[×xX*]\s*{_NUM}(?![\d.])"), lambda m: _quantity_count(m)),
    (re.compile(_NUM), lambda m: _plain(m.group(1))),
)


def _quantity_count(m: re.Match[str]) -> list[Mention]:
    value = _dec(m.group(1))
    return [] if value is None else [Mention("quantity", value, m.group(0), "count", value)]


def extract(text: str) -> tuple[Mention, ...]:
    """Every number a text states, each read once (a date's digits are not also a quantity).

    A reply's text is checked again and again (the same KB answers and bank replies come back
    for every customer who asks alike), so short texts are remembered: the answer depends on
    the text alone. A shop's whole KB, read once per version, is not."""
    if len(text) <= _REMEMBERED_CHARS:
        return _extract_remembered(text)
    return _extract(text)


_REMEMBERED_CHARS = 400


@lru_cache(maxsize=8192)
def _extract_remembered(text: str) -> tuple[Mention, ...]:
    return _extract(text)


def _extract(text: str) -> tuple[Mention, ...]:
    found: list[Mention] = []
    remaining = _cn_to_digits(normalize(text))

    for pattern, make in _PASSES:

        def take(m: re.Match[str], make: Callable[[re.Match[str]], list[Mention]] = make) -> str:
            found.extend(make(m))
            return " " * len(m.group(0))

        remaining = pattern.sub(take, remaining)
    return tuple(found)


def _same_date(said: DateKey, known: DateKey) -> bool:
    year_ok = said[0] is None or known[0] is None or said[0] == known[0]
    return year_ok and all(s is None or s == k for s, k in zip(said[1:], known[1:], strict=True))


@dataclass(frozen=True)
class NumberFacts:
    """The numbers a source supports: exact (kind, unit, value) keys, dates, and every figure
    as written (a bare figure or a count stands if the source states it anywhere)."""

    keys: frozenset[tuple[str, str, object]] = frozenset()
    values: frozenset[Decimal] = frozenset()
    dates: frozenset[DateKey] = frozenset()

    @classmethod
    def of(cls, mentions: Iterable[Mention]) -> NumberFacts:
        found = list(mentions)
        return cls(
            frozenset((m.kind, m.unit, m.value) for m in found if m.kind != "date"),
            frozenset(m.raw for m in found if m.raw is not None),
            frozenset(m.value for m in found if m.kind == "date"),  # type: ignore[misc]
        )

    def supports(self, m: Mention) -> bool:
        if m.kind == "date":
            return any(_same_date(m.value, d) for d in self.dates)  # type: ignore[arg-type]
        if (m.kind, m.unit, m.value) in self.keys:
            return True
        return m.kind in ("plain", "quantity") and m.unit in ("", "count") and m.raw in self.values

    @classmethod
    def from_order(cls, order: Order | None, computed: Collection[Decimal] = ()) -> NumberFacts:
        found = [money_mention(v) for v in computed]
        if order is not None:
            ids = [order.tracking_number, order.order_id, *(i.product_id for i in order.items)]
            found += [id_mention(i) for i in ids if i]
            if order.amount is not None:
                found.append(money_mention(order.amount))
            for item in order.items:
                found.append(
                    Mention("plain", Decimal(item.quantity), "", raw=Decimal(item.quantity))
                )
                if item.unit_price is not None:
                    found.append(money_mention(item.unit_price))
                    found.append(money_mention(item.unit_price * item.quantity))
        return cls.of(found)


def money_mention(value: Decimal) -> Mention:
    return Mention("money", value, "", raw=value)


def id_mention(value: str) -> Mention:
    return Mention("id", value.lower(), value)
