"""What a trainer's own spreadsheet looks like, read the way a person reads it.

A shop's sheets arrive as the trainer keeps them, not as our template: a title row and a note
row above the header, section rows (【猫粮狗粮】) between the questions, a price cell that holds
one price per spec ("1.5kg ¥59\\n4kg ¥139", or "29.9\\n39.9" beside "5斤 中果\\n5斤 大果"), a
stock cell that says "奶白现货；黑色缺货，12月中旬补货", and columns we have no field for
(保质期, 功率, 产地) that still answer customers' questions. kb.files.importers calls these helpers;
everything here is pure text in, text out.

- header_row(): which of the first rows is the header (the one naming the most known fields);
- section_row(): a row that only labels the rows under it;
- product_cells(): a product row's spec, price and stock cells as the codec reads them, and the
  extra columns as selling points ("保质期：3年");
- promotion_rows(): a promotion's product scope, tiers and dates read as a person reads them
  (2026.12.9 23:59, 2026年12月12日, 12月12日 beside the sheet's other dates).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

HEADER_SCAN_ROWS = 12  # titles and notes above a header are a few rows at most

_SECTION = re.compile(r"^\s*(?:【[^】]*】|\[[^\]]*\]|〖[^〗]*〗|=+.*=+|-{2,}.*|#+\s*\S.*)\s*$")
_DIVIDER = re.compile(r"^\s*[—－\-=~*_·]{2,}|[—－\-=~*_·]{2,}\s*$")
_NOTE = re.compile(r"^\s*(?:注|备注|说明|提示|温馨提示|ps|PS|※|\*)\s*[:：]")
_SENTENCE_MARK = re.compile(r"[，。；！？,;!?]")
_NOTE_LENGTH = 30  # a lone cell this long, with a sentence's marks, is a note, not an entry
# "120g/袋" is a size per bag, not two specs: a slash before a lone counting word is a unit's
_PER_UNIT = r"(?![袋罐盒瓶包个件支片箱只套双条张桶听份斤饼提粒颗](?:$|[\s、,，;；|（(]))"
_SPEC_SPLIT = re.compile(
    r"\s*(?:\n|、|,|，|;|；|\||｜)\s*|\s+/\s+|(?<=[^\d\s])/" + _PER_UNIT + r"(?=\S)"
)
_PRICE = re.compile(r"(?:¥|￥)\s*(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s*元")
# one price, perhaps per unit or "from": ¥129, 129元, 139元/支, 99元起
_BARE_NUMBER = re.compile(
    r"^\s*[¥￥]?\s*(\d[\d,]*(?:\.\d+)?)\s*元?\s*(?:/\s*[\u4e00-\u9fff]{1,2}|起)?\s*$"
)
_OUT_OF_STOCK = re.compile(r"缺货|售罄|无货|下架|断货|没货")
_IN_STOCK = re.compile(r"现货|有货|充足|在售|正常")
_WHOLE_SHOP_LEAD = re.compile(r"^\s*(?:全店商品|全部商品|所有商品|全店|全部|全场|通用)")
_PERIOD_DATE = re.compile(
    r"(?<!\d)(?:(20\d\d)\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*[日号]?"
)
_RANGE_MARK = r"\s*(?:[-~～—–]+|至|到)\s*"
_DAY_ONLY = re.compile(_RANGE_MARK + r"(\d{1,2})\s*[日号]")
_MONTH_END = re.compile(_RANGE_MARK + r"(?:本月|当月)?月底")
_FROM = re.compile(r"\s*(?:起|开始|以后)")
_UNTIL = re.compile(r"\s*(?:前|之前|截止|为止)")
_TIER_REST = re.compile(r"^[\s、,，;；+]+|[\s、,，;；+]+$|(?<=[、,，;；])[\s、,，;；]+")
_REMARK_ONLY = re.compile(r"^\s*[（(][^（）()]*[）)]\s*$")
_EXCEPT = re.compile(r"除外|不参加|不参与|不含|除了?")
_QUALIFIERS = re.compile(r"早鸟价|秒杀价?|活动|商品|的|全规格|所有|系列")
_TIER = re.compile(r"满\s*(\d+(?:\.\d+)?)\s*元?\s*减\s*(\d+(?:\.\d+)?)")
_SCOPE_SPLIT = re.compile(r"[\s、,，;；|/（）()]+")  # 小福袋（坚果款、肉干款）: three names
_YEAR_DATE = re.compile(r"(20\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_LAST_NUMBER = re.compile(r"(?:^|\s|(?<=[\u4e00-\u9fff]))(\d[\d,]*(?:\.\d+)?)\s*$")  # 高清12.9
# "39.9（百亿补贴链接29.9）": the price, and a remark the agents need beside it
_REMARKED_PRICE = re.compile(r"^\s*[¥￥]?\s*(\d[\d,]*(?:\.\d+)?)\s*元?\s*[（(][^）)]+[）)]\s*$")
# Excel counts days from 1899-12-30; these are the years 2000 to 2099
_EXCEL_SERIALS = (36526, 73050)
_EXCEL_EPOCH = date(1899, 12, 30)
_MONTH_DATE = re.compile(r"(?<!\d)(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*[日号]?")


def header_row(rows: Sequence[Sequence[str]], known: Callable[[str], bool]) -> int:
    """Index (into `rows`) of the header: among the first non-blank rows, the one with the most
    cells that `known` recognises; the first non-blank row when none names two fields."""
    best, best_count, first = -1, 1, -1
    seen = 0
    for index, cells in enumerate(rows):
        if not any(c.strip() for c in cells):
            continue
        first = index if first < 0 else first
        count = sum(1 for c in cells if c.strip() and known(c))
        if count > best_count:
            best, best_count = index, count
        seen += 1
        if seen >= HEADER_SCAN_ROWS:
            break
    return best if best >= 0 else first


def section_row(cells: Sequence[str]) -> bool:
    """A row whose only text labels the rows under it (【猫粮狗粮】, == 售后 ==, ——以下12月新增——)
    or that is a note to the agents reading the sheet (注：… in its first cell, or one sentence
    longer than an id, name or question runs): nothing to import, and no error to stop the
    import on."""
    filled = [c.strip() for c in cells if c.strip()]
    if filled and _NOTE.match(filled[0]):  # "注：" and the note in the cells beside it
        return True
    if len(filled) != 1:
        return False
    text = filled[0]
    return bool(
        _SECTION.match(text)
        or _DIVIDER.match(text)
        or _NOTE.match(text)
        or (len(text) >= _NOTE_LENGTH and _SENTENCE_MARK.search(text))
    )


def split_specs(text: str) -> list[str]:
    """'5斤 中果\\n5斤 大果' / '奶白/曜石黑' / 'S、M、L' -> the spec names; what brackets hold
    is one spec's detail ("标准款（龙井50g+白牡丹50g，共4罐）" is one spec)."""
    specs, depth, start = [], 0, 0
    text = text.strip()
    for match in _SPEC_SPLIT.finditer(text):
        depth = _bracket_depth(text[: match.start()])
        if depth == 0:
            specs.append(text[start : match.start()])
            start = match.end()
    specs.append(text[start:])
    return [p.strip() for p in specs if p.strip()]


def _bracket_depth(text: str) -> int:
    return sum(text.count(o) for o in "（([【") - sum(text.count(c) for c in "）)]】")


def product_cells(values: Mapping[str, str], extras: Mapping[str, str]) -> dict[str, str]:
    """A product row's cells as the codec reads them (see the module docstring)."""
    shared, spec_note = _spec_and_price_cell(values)
    values = {**values, **shared}
    out = dict(values)
    if values.get("title"):  # "烟酰胺亮肤精华 *": the trainer's mark for a lead product
        out["title"] = _TITLE_MARK.sub("", values["title"]) or values["title"]
    specs = split_specs(values.get("variants", "") or "")
    price_text = (values.get("price") or "").strip()
    notes = [values.get("usage_notes", "").strip()]
    bare = _BARE_NUMBER.match(price_text) or _REMARKED_PRICE.match(price_text)
    if bare:
        out["price"] = bare.group(1).replace(",", "")
        if bare.re is _REMARKED_PRICE:
            notes.append(f"价格：{price_text}")
    priced = _priced_specs(price_text, specs)
    if priced is not None:
        out["variants"] = "|".join(f"{name}={price}" for name, price in priced)
        out["price"] = str(min(Decimal(p) for _, p in priced))
    elif specs:
        out["variants"] = "|".join(specs)
    stock = (values.get("in_stock") or "").strip()
    if stock and not stock.isdigit() and stock not in _PLAIN_STOCK:
        out["in_stock"] = "否" if _wholly_out(stock) else "是"
        notes.append(f"库存：{stock}")
    out["usage_notes"] = "；".join(n for n in notes if n)
    facts = [f"{header.strip()}：{' '.join(text.split())}" for header, text in extras.items()]
    points = [(values.get("selling_points") or "").strip()]  # already a |-list
    points += [fact.replace("|", "/") for fact in facts]
    if spec_note:
        facts.append(spec_note)
        points.append(f"规格：{spec_note}".replace("|", "/"))
    if facts:
        out["selling_points"] = "|".join(p for p in points if p)
    return out


def _spec_and_price_cell(values: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """One cell under 规格/颜色/价格 holding both: "立领款 ¥299｜连帽款 ¥329⏎男 M-3XL（黑/灰）".
    Parts that each name a spec and its price are the specs; the lowest price is the product's
    otherwise ("¥599（男女同价）", "¥49/双；3双装¥129"). What else the cell says (sizes, colours,
    a deal beside a price) is kept as a fact of its own."""
    cell = (values.get("price") or "").strip()
    if not cell or cell != (values.get("variants") or "").strip():
        return {}, ""
    parts = [p.strip() for p in re.split(r"\n|｜|\||；|;", cell) if p.strip()]
    pairs, remarked = [], []
    for part in parts:
        found = _PRICE.search(part)
        if found is not None:
            label = _PER_UNIT_LABEL.sub("", part[: found.start()]).strip(" ：:=-")
            pairs.append((label, found.group(1) or found.group(2)))
            if part[found.end() :].strip(" /") and not _PER_UNIT_LABEL.fullmatch(
                part[found.end() :]
            ):
                remarked.append(part)
    rest = [p for p in parts if not _PRICE.search(p)]
    if len(pairs) > 1 and all(label for label, _ in pairs):
        prices = "\n".join(f"{label} ¥{value}" for label, value in pairs)
        note = "；".join(rest + remarked)
        return {"price": prices, "variants": "\n".join(label for label, _ in pairs)}, note
    lowest = min((Decimal(v.replace(",", "")) for _, v in pairs), default=None)
    note = "；".join(parts) if len(parts) > 1 or remarked else ""
    return {"price": str(lowest) if lowest is not None else cell, "variants": ""}, note


_TITLE_MARK = re.compile(r"\s*[*★☆]+\s*$")
_PER_UNIT_LABEL = re.compile(r"^\s*/\s*[\u4e00-\u9fff]{1,2}\s*$")


def _wholly_out(stock: str) -> bool:
    """缺货，12月补货 is the product; "#05 缺货" or "L码 红色缺货" is one of its options, and the
    others sell (the note says which)."""
    out = _OUT_OF_STOCK.search(stock)
    if out is None or _IN_STOCK.search(stock):
        return False
    qualifier = _STOCK_FILLER.sub("", stock[: out.start()])
    return not qualifier


_STOCK_FILLER = re.compile(r"[\s，,：:；;、]|暂时|目前|现在|暂|已|全部|均|都|商品|产品|库存")
_PLAIN_STOCK = {"是", "否", "有", "无", "有货", "无货", "缺货", "现货", "在售", "售罄", "下架"}
_PLAIN_STOCK |= {
    "true",
    "false",
    "yes",
    "no",
    "1",
    "0",
    "y",
    "n",
    "√",
    "✓",
    "✔",
    "×",
    "✗",
    "✘",
    "x",
}


def _priced_specs(price: str, specs: list[str]) -> list[tuple[str, str]] | None:
    """(spec, price) pairs when the price cell holds one price per spec; None for one price.
    A part is '¥59', '59元', '1.5kg ¥59' or '30ml 159.00' (the last number is the price)."""
    if _BARE_NUMBER.match(price) or _REMARKED_PRICE.match(price) or not price:
        return None
    parts = [p.strip() for p in re.split(r"\n|；|;|、|\||/|，|,(?!\d{3})", price) if p.strip()]
    pairs: list[tuple[str, str]] = []
    for part in parts:
        marked = _PRICE.findall(part)
        if len(marked) > 1:
            return None
        if marked:
            value, label = marked[0][0] or marked[0][1], _PRICE.sub("", part)
        else:
            last = _LAST_NUMBER.search(part)
            if last is None:
                return None
            value, label = last.group(1), part[: last.start()]
        pairs.append((label.strip(" ：:=-"), value.replace(",", "")))
    if all(label for label, _ in pairs):
        return pairs
    if len(pairs) == len(specs):
        return [(spec, value) for spec, (_, value) in zip(specs, pairs, strict=True)]
    return None


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
    rest = text[whole.end() :] if whole else text
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
