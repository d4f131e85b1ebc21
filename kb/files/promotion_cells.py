"""A promotion row of a trainer's sheet, read as a person reads it: its product scope (全店（脐橙
除外）, GX01 赣南脐橙, 松果满堂标准款), its tiers (满59减5，满99减12: one promotion per tier) and
its dates (2026.12.9 23:59, 2026年12月12日, 12月12日 beside the sheet's other dates, one 时间 cell
for both). kb.files.importers and kb.files.built call these; pure text in, text out.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import NamedTuple

_WHOLE_SHOP_LEAD = re.compile(r"^\s*(?:全店商品|全部商品|所有商品|全店|全部|全场|通用)")
_PERIOD_DATE = re.compile(
    r"(?<!\d)(?:(20\d\d)\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*[日号]?"
)
_RANGE_MARK = r"\s*(?:[-~～—–]+|至|到)\s*"
_DAY_ONLY = re.compile(_RANGE_MARK + r"(\d{1,2})\s*[日号]")
_MONTH_END = re.compile(_RANGE_MARK + r"(?:本月|当月)?月底")
_FROM = re.compile(r"\s*(?:起|开始|以后)")
_UNTIL = re.compile(r"\s*(?:前|之前|截止|为止)")
# a date cell saying the offer has no dates (关注店铺券: 长期); 待定 is not one: it may not run
# a dash alone ("—", "/") is how a trainer leaves a cell blank on purpose: no date either
_STANDING = re.compile(
    r"^(?:长期(?:有效)?|常驻|常态化?|不限时?|永久(?:有效)?|一直有效|无期限|[-—–/\\~～]+)$"
)
_SENTENCE_END = re.compile(r"[。；;]")
_CLOCK_TIME = re.compile(r"\d{1,2}:\d{2}")  # "20:00 - 11.11": a time is not a month and a day
_TIER_REST = re.compile(r"^[\s、,，;；+]+|[\s、,，;；+]+$|(?<=[、,，;；])[\s、,，;；]+")
_REMARK_ONLY = re.compile(r"^\s*[（(][^（）()]*[）)]\s*$")
_EXCEPT = re.compile(r"除外|不参加|不参与|不含|除了?")
_QUALIFIERS = re.compile(r"早鸟价|秒杀价?|活动|商品|的|全规格|所有|系列")
_TIER = re.compile(r"满\s*(\d+(?:\.\d+)?)\s*元?\s*减\s*(\d+(?:\.\d+)?)")
_SCOPE_SPLIT = re.compile(r"[\s、,，;；|/（）()]+")  # 小福袋（坚果款、肉干款）: three names
_YEAR_DATE = re.compile(r"(20\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
# Excel counts days from 1899-12-30; these are the years 2000 to 2099
_EXCEL_SERIALS = (36526, 73050)
_EXCEL_EPOCH = date(1899, 12, 30)
_MONTH_DATE = re.compile(r"(?<!\d)(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*[日号]?")


def promotion_rows(
    values: Mapping[str, str], products: Mapping[str, ProductWords], sheet_dates: Sequence[date]
) -> list[dict[str, str]]:
    """A promotion row as the codec reads it (one row per tier: 满59减5，满99减12 is two
    promotions, of which the order gets the better one):
    - the scope as product ids: 全店 is the whole shop, 全店（车厘子除外） every product but the
      ones named, ids and names are read; names matching no product are kept as written, so
      the promotion applies to nothing rather than, wrongly, to the whole shop;
    - the dates with a year: a date without one takes the other date's year, else the year
      that puts it nearest the sheet's other dates (`sheet_dates`)."""
    out = dict(values)
    period = (out.pop("period", "") or "").strip()
    scope = (values.get("product_ids") or "").strip()
    if scope:
        out["product_ids"] = "|".join(_scope_ids(scope, products))
    starts, ends = (values.get("starts") or "").strip(), (values.get("ends") or "").strip()
    if period and not (starts or ends):
        starts, ends = split_period(period)
    if _STANDING.match(starts):
        starts = out["starts"] = ""
    if _STANDING.match(ends):
        ends = out["ends"] = ""
    if starts:
        out["starts"] = _iso_date(starts, _year_of(ends), sheet_dates)
    if ends:
        out["ends"] = _iso_date(ends, _year_of(starts), sheet_dates, after=out.get("starts"))
    rule = values.get("rule") or ""
    tiers = _TIER.findall(rule)
    if len(tiers) < 2:
        return [out]
    title = out.get("title") or ""
    # "满99减10、满199减25；买炒锅送锅铲": what the tiers leave of the rule stays with each
    rest = _TIER_REST.sub("", _TIER.sub("", _WHOLE_SHOP_LEAD.sub("", rule.strip()))).strip()
    described = "\n".join(p for p in (rest, out.get("description", "")) if p and p.strip())
    return [
        out | {"title": f"{title}（满{t}减{a}）", "rule": f"满{t}减{a}", "id": "",
               "description": described}
        for t, a in tiers
    ]  # fmt: skip


def split_period(text: str) -> tuple[str, str]:
    """One 活动时间 cell as its start and end, each as written: '2026.10.1-10.7',
    '11月27号-30号' (the end's month is the start's), '12月5号到月底', '12/1 ~ 12/12 23:59';
    one date alone is a one-day promotion, or its start (12.1起) or end (12.12前); ('', '')
    when it names no date (长期)."""
    text = _CLOCK_TIME.sub(lambda m: " " * len(m[0]), text)
    found = [m for m in _PERIOD_DATE.finditer(text) if _date(2000, int(m[2]), int(m[3]))]
    if not found:
        return "", ""
    first = found[0]
    if len(found) > 1:
        return first.group(0), found[1].group(0)
    month, rest = int(first.group(2)), text[first.end() :]
    if day := _DAY_ONLY.match(rest):
        return first.group(0), f"{month}月{day.group(1)}日"
    if _MONTH_END.match(rest):
        return first.group(0), f"{month}月{calendar.monthrange(2001, month)[1]}日"
    if _FROM.match(rest):
        return first.group(0), ""
    if _UNTIL.match(rest):
        return "", first.group(0)
    return first.group(0), first.group(0)


def full_dates(texts: Iterable[str]) -> list[date]:
    """Every date with a year among these cells (what yearless dates are read beside)."""
    found = []
    for text in texts:
        m = _YEAR_DATE.search(text or "")
        if m and (d := _date(int(m.group(1)), int(m.group(2)), int(m.group(3)))):
            found.append(d)
    return found


def _scope_ids(text: str, products: Mapping[str, ProductWords]) -> list[str]:
    whole = _WHOLE_SHOP_LEAD.match(text)
    # "全店（含鞋垫）。加绒款 = …": what follows the first sentence explains, it does not scope
    rest = _SENTENCE_END.split(text[whole.end() :])[0] if whole else text
    if whole and not _tokens(rest):
        return []
    if whole and _EXCEPT.search(rest):
        excluded = set(_named(_tokens(_EXCEPT.sub("", rest)), products))
        return [pid for pid in products if pid not in excluded] if excluded else []
    if whole and _REMARK_ONLY.match(rest):  # 全店（赠品只限炒锅）: the deal is the whole shop's
        return []
    return _named(_tokens(text), products) or _tokens(text)


class ProductWords(NamedTuple):
    """What names a product in a promotion's scope: its title, else its specs."""

    title: str
    specs: str = ""


def _named(tokens: Sequence[str], products: Mapping[str, ProductWords]) -> list[str]:
    """Product ids the tokens name, in the order written: an id, or a name inside a product's
    title or specs (车厘子 names 智利进口车厘子)."""
    found: dict[str, None] = {}
    for token in tokens:
        core = _QUALIFIERS.sub("", token)
        if core in products:
            found[core] = None
        elif core:
            titled = [pid for pid, words in products.items() if _names(core, words.title)]
            found |= dict.fromkeys(titled or _by_specs(core, products))
    return list(found)


def _by_specs(core: str, products: Mapping[str, ProductWords]) -> list[str]:
    """Products a token names only with their specs (松果满堂标准款), when no title holds it."""
    return [pid for pid, w in products.items() if _names(core, f"{w.title} {w.specs}")]


def _names(core: str, words: str) -> bool:
    """The token is in the product's words, or is two of them run together (松果满堂标准款:
    the title's 松果满堂 and the spec 标准款)."""
    if core in words:
        return True
    return any(core[:i] in words and core[i:] in words for i in range(2, len(core) - 1))


def _tokens(text: str) -> list[str]:
    return [t.strip("（）()") for t in _SCOPE_SPLIT.split(text) if t.strip("（）()")]


def _year_of(text: str) -> int | None:
    m = _YEAR_DATE.search(text)
    return int(m.group(1)) if m else None


def _iso_date(
    text: str, year: int | None, near: Sequence[date], *, after: str | None = None
) -> str:
    """'2026.12.9 23:59' -> '2026-12-09'; '12月12日' in `year`, else in the year nearest the
    dates `near`; otherwise the text as it was (the codec then names the field and the fix)."""
    m = _YEAR_DATE.search(text)
    if m:
        return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    serial = text.strip()
    if serial.isdigit() and _EXCEL_SERIALS[0] <= int(serial) <= _EXCEL_SERIALS[1]:
        return (_EXCEL_EPOCH + timedelta(days=int(serial))).isoformat()  # a date cell as 46357
    m = _MONTH_DATE.search(text)
    if m is None:
        return text
    month, dom = int(m.group(1)), int(m.group(2))
    years = [year] if year else sorted({d.year + k for d in near for k in (-1, 0, 1)})
    options = [d for y in years if (d := _date(y, month, dom))]
    if after:  # 12月25日 to 1月5日: the end is in the next year
        options = [d for d in options if d.isoformat() >= after] or [
            d for y in years if (d := _date(y + 1, month, dom))
        ]
    if not options:
        return text
    best = min(options, key=lambda d: min((abs((d - n).days) for n in near), default=0))
    return best.isoformat()


def _date(year: int, month: int, dom: int) -> date | None:
    try:
        return date(year, month, dom)
    except ValueError:
        return None
