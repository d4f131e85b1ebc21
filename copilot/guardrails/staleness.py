"""Knowledge that is out of date on a given day: what must never reach a customer as current.

A text (an FAQ answer, a script, a bank reply, a draft) is stale on `day` when it
- names a promotion outside its validity: by its rule (满99减10), its title, or its threshold
  and amount in one clause (满99元可减10元). An ended one is stale however it is worded, unless
  the text says it has ended (已经结束了: true, and what the customer asking after it needs); one
  that has not started is stale unless the text also gives its start date (then it is presented
  as coming, which is true). A live promotion with the same rule explains the mention: a shop
  that runs 满99减10 again is quoting the live one;
- presents a date range or a deadline that has already ended (11月1日-30日, 截止11月30日,
  11月30日前, 到2027年1月31日).

Dates without a year are read in the year that puts them nearest to `day`, so "11月30日" read on
12-06 is six days ago; read half a year later it may look ahead again, and then only the
promotion check (whose dates are full) still catches a stale FAQ. `links` maps every FAQ and
script to the promotions it names, for the trainer's staleness report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from copilot.text.figures import normalize
from kb.types import FAQ, Entry, Promotion, Script

_CN_DATE = (
    r"(?:(?P<{p}y>20\d\d)\s*年\s*)?(?P<{p}m>1[0-2]|0?[1-9])\s*月\s*(?P<{p}d>3[01]|[12]\d|0?[1-9])"
    r"\s*[日号]?"
)
_ISO_DATE = r"(?P<{p}Y>20\d\d)[-/.](?P<{p}M>1[0-2]|0?[1-9])[-/.](?P<{p}D>3[01]|[12]\d|0?[1-9])"
_DATE_A = f"(?:{_CN_DATE.format(p='a')}|{_ISO_DATE.format(p='a')})"
_DATE_B = f"(?:{_CN_DATE.format(p='b')}|{_ISO_DATE.format(p='b')})"
_DASH = r"\s*(?:-|~|至|到|—|–)\s*"
# a range (the end may be a bare day: 11月1日-30日) or a deadline (截止11月30日, 11月30日前)
_RANGE = re.compile(rf"{_DATE_A}{_DASH}(?:{_DATE_B}|(?P<bare>3[01]|[12]\d|0?[1-9])\s*[日号])")
_DEADLINE_BEFORE = re.compile(
    rf"(?:截止到?|截至|有效期至|有效期到|活动至|活动到|[（(]\s*(?:到|至))\s*{_DATE_B}"
)
_DEADLINE_AFTER = re.compile(rf"{_DATE_B}\s*(?:前(?!后)|之前|为止|截止|截至|结束)")
_ANY_DATE = re.compile(_DATE_A)
_SAYS_ENDED = re.compile(r"已经?结束|结束了|已过期|已经过了")
_MIN_TITLE = 4  # shorter titles (秒杀, 包邮) are everyday words, not a promotion's name


@dataclass(frozen=True)
class StaleMention:
    text: str  # what the text says, for the flag shown to the agent
    reason: str  # "11月30日已结束" / "12月25日才开始" / "已过期" (an ended date)
    promotion_id: str | None = None

    def __str__(self) -> str:
        return f"{self.text}（{self.reason}）"


def stale_mentions(text: str, promotions: Sequence[Promotion], day: date) -> list[StaleMention]:
    """Everything in `text` that is out of date on `day` (see the module docstring)."""
    text = normalize(text)
    return [*_stale_promotions(text, promotions, day), *_ended_ranges(text, day)]


def names_promotion(
    text: str, promotion: Promotion, pairs: frozenset[tuple[Decimal, Decimal]] | None = None
) -> bool:
    """The text names this promotion by its rule, its title, or 满threshold……减amount."""
    text = normalize(text)
    if promotion.rule_text and normalize(promotion.rule_text) in text:
        return True
    title = normalize(promotion.title)
    if len(title) >= _MIN_TITLE and title in text:
        return True
    rule = promotion.rule
    if rule.threshold is None or rule.amount is None:
        return False
    stated = pairs if pairs is not None else _threshold_pairs(text)
    return (rule.threshold, rule.amount) in stated


def links(entries: Iterable[Entry], promotions: Sequence[Promotion]) -> dict[str, tuple[str, ...]]:
    """FAQ or script id -> the ids of the promotions its text names (only entries naming any)."""
    found = {}
    for entry in entries:
        said = _said(entry)
        if said is None:
            continue
        text = said[1]
        pairs = _threshold_pairs(normalize(text))
        named = tuple(p.id for p in promotions if names_promotion(text, p, pairs))
        if named:
            found[entry.id] = named
    return found


_THRESHOLD = re.compile(
    r"满\s*(\d+(?:\.\d+)?)\s*[元块]?[^，,。；;！!？?]{0,8}?减\s*(\d+(?:\.\d+)?)"
)


def _said(entry: Entry) -> tuple[str, str] | None:
    """(title, what it says to customers) of an FAQ or a script; None for other kinds."""
    if isinstance(entry, FAQ):
        return entry.question, entry.answer
    if isinstance(entry, Script):
        return entry.title, entry.text
    return None


def _threshold_pairs(text: str) -> frozenset[tuple[Decimal, Decimal]]:
    """(threshold, amount) of every 满X……减Y in the text, within one clause."""
    return frozenset((Decimal(m.group(1)), Decimal(m.group(2))) for m in _THRESHOLD.finditer(text))


def _same_rule(a: Promotion, b: Promotion) -> bool:
    return normalize(a.rule_text) == normalize(b.rule_text) or (
        a.rule.threshold == b.rule.threshold and a.rule.amount == b.rule.amount
        and a.rule.amount is not None
    )  # fmt: skip


def _stale_promotions(text: str, promotions: Sequence[Promotion], day: date) -> list[StaleMention]:
    pairs = _threshold_pairs(text)
    # Only promotions outside their dates can make a text stale; the live ones are read only
    # when one of those is named (a live one with the same rule explains the mention).
    named = [p for p in promotions if not p.active_on(day) and names_promotion(text, p, pairs)]
    if not named:
        return []
    live = [p for p in promotions if p.active_on(day) and names_promotion(text, p, pairs)]
    found = []
    for p in named:
        if any(_same_rule(p, q) for q in live):
            continue
        if p.ends is not None and p.ends < day:
            if _SAYS_ENDED.search(text):  # "双11那个已经结束了": true, and what to tell them
                continue
            found.append(StaleMention(p.title or p.rule_text, f"{month_day(p.ends)}已结束", p.id))
        elif p.starts is not None and p.starts > day and not _states(text, p.starts):
            found.append(StaleMention(p.title or p.rule_text, f"{month_day(p.starts)}才开始", p.id))
    return found


def _ended_ranges(text: str, day: date) -> list[StaleMention]:
    found = []
    for m in _RANGE.finditer(text):
        start = _resolve(m, "a", day)
        end = _resolve(m, "b", start or day, after=start)
        if end is None and start is not None and m.group("bare"):
            end = _safe_date(start.year, start.month, int(m.group("bare")))
        if end is not None and start is not None and end < start:
            end = _safe_date(end.year + 1, end.month, end.day)
        if end is not None and end < day:
            found.append(StaleMention(m.group(0).strip(), "已过期"))
    for pattern in (_DEADLINE_BEFORE, _DEADLINE_AFTER):
        for m in pattern.finditer(text):
            end = _resolve(m, "b", day)
            if end is not None and end < day and all(m.group(0) not in s.text for s in found):
                found.append(StaleMention(m.group(0).strip(), "已过期"))
    return found


def _parts(m: re.Match[str], p: str) -> tuple[int | None, int, int] | None:
    """(year or None, month, day) of the date a match's group set `p` holds, if it holds one."""
    if m.group(f"{p}m"):
        year = m.group(f"{p}y")
        return (int(year) if year else None), int(m.group(f"{p}m")), int(m.group(f"{p}d"))
    if m.group(f"{p}M"):
        return int(m.group(f"{p}Y")), int(m.group(f"{p}M")), int(m.group(f"{p}D"))
    return None


def _resolve(m: re.Match[str], p: str, near: date, *, after: date | None = None) -> date | None:
    """The date a match's group set `p` names; a missing year: the one nearest `near` (not
    before `after`)."""
    parts = _parts(m, p)
    if parts is None:
        return None
    year, month, dom = parts
    if year is not None:
        return _safe_date(year, month, dom)
    years = (near.year - 1, near.year, near.year + 1)
    options = [d for y in years if (d := _safe_date(y, month, dom))]
    if after is not None:
        options = [d for d in options if d >= after] or options
    return min(options, key=lambda d: abs((d - near).days)) if options else None


def _states(text: str, day: date) -> bool:
    """The text gives this day's date (with or without a year)."""
    for m in _ANY_DATE.finditer(text):
        parts = _parts(m, "a")
        if parts and parts[1:] == (day.month, day.day) and parts[0] in (None, day.year):
            return True
    return False


def _safe_date(year: int, month: int, dom: int) -> date | None:
    try:
        return date(year, month, dom)
    except ValueError:
        return None


def month_day(day: date) -> str:
    """12月6日: how replies and flags write a day."""
    return f"{day.month}月{day.day}日"


def ending_within(promotions: Iterable[Promotion], day: date, days: int) -> list[Promotion]:
    """Live promotions that end within `days` days of `day` (today included), soonest first."""
    horizon = day + timedelta(days=days)
    soon = [p for p in promotions if p.active_on(day) and p.ends is not None and p.ends <= horizon]
    return sorted(soon, key=lambda p: (p.ends, p.id))


@dataclass(frozen=True)
class StaleEntry:
    """An FAQ answer or script that is out of date, and why."""

    entry_id: str
    kind: str
    title: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class StalenessReport:
    """What a trainer should look at in one shop on `day`."""

    day: date
    within_days: int
    ending: tuple[Promotion, ...]  # live, ending within `within_days`, soonest first
    expired: tuple[Promotion, ...]  # ended, still in the KB
    stale: tuple[StaleEntry, ...]  # FAQ answers and scripts no longer true
    linked: dict[str, tuple[str, ...]]  # promotion id -> FAQ and script ids that name it

    @property
    def attention(self) -> int:
        """The badge's count: entries that are stale now and promotions about to end."""
        return len(self.stale) + len(self.ending)


def staleness_report(entries: Sequence[Entry], day: date, within_days: int) -> StalenessReport:
    promotions = [e for e in entries if isinstance(e, Promotion)]
    stale = []
    for entry in entries:
        said = _said(entry)
        found = stale_mentions(said[1], promotions, day) if said else []
        if said and found:
            stale.append(StaleEntry(entry.id, entry.kind, said[0], tuple(map(str, found))))
    linked: dict[str, list[str]] = {}
    for entry_id, promotion_ids in links(entries, promotions).items():
        for promotion_id in promotion_ids:
            linked.setdefault(promotion_id, []).append(entry_id)
    expired = sorted((p for p in promotions if p.ends is not None and p.ends < day),
                     key=lambda p: (p.ends, p.id))  # fmt: skip
    return StalenessReport(
        day, within_days, tuple(ending_within(promotions, day, within_days)), tuple(expired),
        tuple(stale), {k: tuple(v) for k, v in linked.items()},
    )  # fmt: skip
