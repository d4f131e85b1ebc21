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
  extra columns as selling points ("保质期：3年").

A promotion row's scope, tiers and dates are kb.files.promotion_cells.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from kb.files.price_lines import (
    BARE_NUMBER,
    DIVIDER,
    REMARKED_PRICE,
    one_choice_of_options,
    priced_lines,
)

HEADER_SCAN_ROWS = 12  # titles and notes above a header are a few rows at most

_SECTION = re.compile(r"^\s*(?:【[^】]*】|\[[^\]]*\]|〖[^〗]*〗|=+.*=+|-{2,}.*|#+\s*\S.*)\s*$")
_NOTE = re.compile(r"^\s*(?:注|备注|说明|提示|温馨提示|ps|PS|※|\*)\s*[:：]")
# "（待补：男款高帮工装鞋 样品还没到，先别上）": a remark in brackets alone on its row
_ASIDE = re.compile(r"^\s*[（(][^）)]*[:：，,；;][^）)]*[）)]\s*$")
_SENTENCE_MARK = re.compile(r"[，。；！？,;!?]")
_NOTE_LENGTH = 30  # a lone cell this long, with a sentence's marks, is a note, not an entry
# "120g/袋" is a size per bag, not two specs: a slash before a lone counting word is a unit's
_PER_UNIT = r"(?![袋罐盒瓶包个件支片箱只套双条张桶听份斤饼提粒颗](?:$|[\s、,，;；|（(]))"
_BRACKETED_HEAD = re.compile(r"^(.+[）)]\s*)([^（(）)]+)$")
_SPEC_SPLIT = re.compile(
    r"\s*(?:\n|、|,|，|;|；|\||｜)\s*|\s+/\s+|(?<=[^\d\s])/" + _PER_UNIT + r"(?=\S)"
)
# 29.9块 is a price, 2块 (橡皮2块) a count: 块 only after a decimal
_PRICE = re.compile(
    r"(?:¥|￥)\s*(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s*(?:元|(?:(?<=\.\d)|(?<=\.\d\d))块)"
)
_OUT_OF_STOCK = re.compile(r"缺货|售罄|无货|下架|断货|没货")
_IN_STOCK = re.compile(r"现货|有货|充足|在售|正常")
_LAST_NUMBER = re.compile(r"(?:^|\s|(?<=[\u4e00-\u9fff]))(\d[\d,]*(?:\.\d+)?)\s*$")  # 高清12.9


def header_row(rows: Sequence[Sequence[str]], known: Callable[[str], bool]) -> int:
    """Index (into `rows`) of the header: among the first non-blank rows, the one with the most
    cells that `known` recognises; when none names two fields, the first row of two cells or
    more (a title alone on its row, 戒指尺码对照（港码）, heads no columns), else the first
    non-blank row."""
    best, best_count, first, lone = -1, 1, -1, -1
    seen = 0
    for index, cells in enumerate(rows):
        filled = sum(1 for c in cells if c.strip())
        if not filled:
            continue
        lone = index if lone < 0 else lone
        first = index if first < 0 and filled > 1 else first
        count = sum(1 for c in cells if c.strip() and known(c))
        if count > best_count:
            best, best_count = index, count
        seen += 1
        if seen >= HEADER_SCAN_ROWS:
            break
    if best >= 0:
        return best
    return first if first >= 0 else lone


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
        or DIVIDER.match(text)
        or _NOTE.match(text)
        or _ASIDE.match(text)
        or (len(text) >= _NOTE_LENGTH and _SENTENCE_MARK.search(text))
    )


def split_specs(text: str) -> list[str]:
    """'5斤 中果\\n5斤 大果' / '奶白/曜石黑' / 'S、M、L' -> the spec names; what brackets hold
    is one spec's detail ("标准款（龙井50g+白牡丹50g，共4罐）" is one spec)."""
    specs, depth, start = [], 0, 0
    text = text.strip()
    if (options := one_choice_of_options(text)) is not None:
        return options
    for match in _SPEC_SPLIT.finditer(text):
        depth = _bracket_depth(text[: match.start()])
        if depth == 0:
            specs.append(text[start : match.start()])
            start = match.end()
    specs.append(text[start:])
    return _bracketed_head_shared([p.strip() for p in specs if p.strip()])


def _bracketed_head_shared(specs: list[str]) -> list[str]:
    """'单盒（4合1：9/12/16/20片）动物/交通/恐龙': the bracketed head belongs to every short option
    after it (单盒（…）交通), not to the first alone."""
    head = _BRACKETED_HEAD.match(specs[0]) if len(specs) > 1 else None
    if head is None or len(head.group(2)) > 4:
        return specs
    rest = specs[1:]
    if any(len(p) > len(head.group(2)) + 2 or re.search(r"[（(）)]", p) for p in rest):
        return specs
    return [specs[0], *(head.group(1) + p for p in rest)]


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
    bare = BARE_NUMBER.match(price_text) or REMARKED_PRICE.match(price_text)
    if bare:
        out["price"] = bare.group(1).replace(",", "")
        if bare.re is REMARKED_PRICE:
            notes.append(f"价格：{price_text}")
    lined = priced_lines(values.get("variants", "") or "", price_text)
    priced, line_notes = lined if lined is not None else (_priced_specs(price_text, specs), [])
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
    for note in filter(None, [spec_note, *line_notes]):
        facts.append(note)
        points.append(f"规格：{note}".replace("|", "/"))
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
    parts = [piece for part in parts for piece in _one_price_each(part)]
    pairs, remarked = [], []
    for part in parts:
        found = _PRICE.search(part)
        if found is not None and _ADD_ON.search(part[: found.start()]):
            remarked.append(part)  # "刻字 +15元": an extra, not a spec or the product's price
        elif found is not None:
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


_LEAD = re.compile(r"[：:]")
_ADD_ON = re.compile(r"[+＋]\s*$")


def _one_price_each(part: str) -> list[str]:
    """'70g：单包500张 ¥24.9，整箱5包 ¥115' -> '70g 单包500张 ¥24.9', '70g 整箱5包 ¥115'."""
    if len(_PRICE.findall(part)) < 2:
        return [part]
    lead, rest = _LEAD.split(part, maxsplit=1) if _LEAD.search(part) else ("", part)
    pieces = [p.strip() for p in re.split(r"[，,](?!\d{3})", rest) if p.strip()]
    if not all(_PRICE.search(p) for p in pieces):
        return [part]
    return [f"{lead.strip()} {piece}".strip() for piece in pieces]


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


_ONE_NAME = re.compile(r"[^/\s]{1,12}")  # one spec's name, not a list of them


def _priced_specs(price: str, specs: list[str]) -> list[tuple[str, str]] | None:
    """(spec, price) pairs when the price cell holds one price per spec; None for one price.
    A part is '¥59', '59元', '1.5kg ¥59' or '30ml 159.00' (the last number is the price)."""
    if BARE_NUMBER.match(price) or REMARKED_PRICE.match(price) or not price:
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
        if len(specs) == 1 and len(pairs) > 1 and _ONE_NAME.fullmatch(specs[0]):
            # 低枕（约8cm） at "单只49 / 一对89": 低枕（约8cm） 单只, 低枕（约8cm） 一对
            return [(f"{specs[0]} {label}", value) for label, value in pairs]
        return pairs
    if len(pairs) == len(specs):
        return [(spec, value) for spec, (_, value) in zip(specs, pairs, strict=True)]
    return None
