"""A spec cell and a price cell written line by line beside each other.

    单前录                  | 199
    前后双录                | 299
    ——加购——                |
    64G内存卡 / 128G内存卡  | 35元 / 59元
    降压线（停车监控用）    | 39元

Each line of the price cell prices the spec on the same line: a line of options at as many
prices ("64G / 128G" at "35元 / 59元") is one spec each, one priced line of colours ("双口 黑/银")
is a spec per colour at that price. Lines that price nothing are kept as notes: a colour list
under the specs (颜色：黑/米), a remark in brackets. Extras sold beside the product (the lines
under a ——加购—— divider, or a price written "+59") are not its specs: the product's own price is
not an extra's, so they are kept as notes ("加购 后录2m延长线：15元") that agents can quote.
"""

from __future__ import annotations

import re

DIVIDER = re.compile(r"^\s*[—－\-=~*_·]{2,}|[—－\-=~*_·]{2,}\s*$")
# one price, perhaps per unit or "from": ¥129, 129元, 139元/支, 99元起
BARE_NUMBER = re.compile(
    r"^\s*[¥￥]?\s*(\d[\d,]*(?:\.\d+)?)\s*元?\s*(?:/\s*[\u4e00-\u9fff]{1,2}|起)?\s*$"
)
# "39.9（百亿补贴链接29.9）": the price, and a remark the agents need beside it
REMARKED_PRICE = re.compile(r"^\s*[¥￥]?\s*(\d[\d,]*(?:\.\d+)?)\s*元?\s*[（(][^）)]+[）)]\s*$")

_OPTIONS = re.compile(r"[^\s/\d()（）]+(?:/[^\s/\d()（）]+)+")  # 黑/白, 红轴/茶轴/青轴
_LIST_MARK = re.compile(r"\n|、|,|，|;|；|\||｜|\s/\s")  # specs listed, not one spec's words
_EXTRAS = re.compile(r"加购|加价购|配件|选购|另购")
_OPTION_SPLIT = re.compile(r"\s*/\s*")
# a line that describes the specs rather than being one: 颜色：黑/米, （颜色：琥珀/奶白/黑）
_ATTRIBUTE = re.compile(r"[：:]|^[（(].*[）)]$")


def priced_lines(spec_cell: str, price_cell: str) -> tuple[list[tuple[str, str]], list[str]] | None:
    """(spec, price) pairs and notes, or None when the two cells are not written line by line
    (then the single-line readings of kb.files.sheets apply)."""
    specs = [line.strip() for line in spec_cell.strip().split("\n")]
    prices = [line.strip() for line in price_cell.strip().split("\n")]
    if len(prices) < 2 or len(specs) < len(prices):
        return None
    pairs: list[tuple[str, str]] = []
    notes: list[str] = []
    extras = False
    for spec, price in zip(specs, prices + [""] * (len(specs) - len(prices)), strict=True):
        if DIVIDER.search(spec) and not price:
            extras = extras or bool(_EXTRAS.search(spec))
            continue
        if not price:
            if _ATTRIBUTE.search(spec):
                notes.append(spec)
            elif spec:  # "S⏎M⏎L" at "59⏎69": which size costs what is not written
                return None
            continue
        priced = _line(spec, price)
        if not spec or priced is None:
            return None
        if extras or price.startswith("+") or _EXTRAS.match(spec):
            lead = "" if _EXTRAS.match(spec) else "加购 "
            notes.append(f"{lead}{spec}：{price.lstrip('+')}")
            continue
        pairs += priced
        if REMARKED_PRICE.match(price):
            notes.append(f"{spec}：{price}")
    return (pairs, notes) if pairs else None


def _line(spec: str, price: str) -> list[tuple[str, str]] | None:
    """One line's specs at their prices: "64G内存卡 / 128G内存卡" at "35元 / 59元" is two;
    "39元/支" is one price per piece."""
    value = _value(price)
    if value is not None:
        return [(name, value) for name in one_choice_of_options(spec) or [spec]]
    values = [_value(p) for p in _OPTION_SPLIT.split(price)]
    names = _OPTION_SPLIT.split(spec)
    if len(values) < 2 or len(names) != len(values) or None in values:
        return None
    return [(name, value) for name, value in zip(names, values, strict=True) if value]


def _value(price: str) -> str | None:
    found = BARE_NUMBER.match(price.lstrip("+")) or REMARKED_PRICE.match(price)
    return found.group(1).replace(",", "") if found else None


def one_choice_of_options(text: str) -> list[str] | None:
    """'黑色/棕色  加绒款', '标准版(1K接收器) 黑/白': words apart, one of them a choice of
    options: a spec per option, the other words kept (黑色 加绒款, 棕色 加绒款). Two choices in
    one cell ('有线版 黑/白 红轴/茶轴') stay one spec; None when the cell is not written so."""
    groups = text.split()
    if len(groups) < 2 or _LIST_MARK.search(text):
        return None
    choices = [i for i, group in enumerate(groups) if _OPTIONS.fullmatch(group)]
    if len(choices) != 1:
        return [" ".join(groups)] if choices else None
    i = choices[0]
    return [" ".join([*groups[:i], option, *groups[i + 1 :]]) for option in groups[i].split("/")]
