"""Rows of a trainer's workbook that belong together or apart. A 类别 merged down over five
policy rows is the category of each of them, though only the first row holds the text
(`filled_down`), and each row is a rule of its own (`rules_apart`); a 货号 merged down over
three spec rows makes them one product with three specs (`spec_rows_joined`).

openpyxl's read-only mode (kept so that a hostile upload is parsed in bounded memory) does not
report merges, so they are read from the sheet's XML here, streamed, up to a byte budget. Only
the vertical extent is filled: a section title merged across a row (【毛衣】) stays one cell, so
it still reads as a section and not as a product named 【毛衣】 at price 【毛衣】. A text alone in
its row and merged across it is a title or a note to the agents (元旦活动还没定，先别跟顾客说):
it reads as a blank row, never as an entry missing its other cells.
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.files.codec import derive_id
from kb.files.import_text import Record

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})"')
_CHUNK = 1 << 20
_OVERLAP = 128  # longer than any mergeCell element, so none is cut between two chunks
MAX_XML_BYTES = 64 << 20  # past this a sheet's merges are not looked for (a bomb, not a KB)
MAX_FILLED = 200_000  # cells filled per sheet at most
MAX_COLUMNS = 64  # the importer reads no further (kb.files.importers.MAX_COLUMNS)


def sheet_rows_filled(
    archive: zipfile.ZipFile, sheet: Any, rows: Iterable[list[str]]
) -> Iterable[list[str]]:
    """An openpyxl read-only sheet's rows with its cells merged down filled (`filled_down`)."""
    path = getattr(sheet, "_worksheet_path", None)  # where openpyxl read the sheet from
    return filled_down(archive, path, list(rows)) if path else rows


def filled_down(
    archive: zipfile.ZipFile, sheet_path: str, rows: Sequence[list[str]]
) -> Iterator[list[str]]:
    """`rows` (the sheet's, from row 1) with each cell merged down given its first row's text;
    a merge reaching past the last row is read as far as the rows go."""
    merges = _Merges.read(archive, sheet_path, len(rows))
    held: dict[tuple[int, int], str] = {}  # (first row, column) -> its text
    for number, cells in enumerate(rows, start=1):
        if _lone_across(cells, merges.across.get(number, ())):
            yield [""] * len(cells)
            continue
        for column, first in merges.below.get(number, ()):
            text = held.get((first, column), "")
            if text and not (column < len(cells) and cells[column]):
                cells.extend([""] * (column + 1 - len(cells)))
                cells[column] = text
        for column in merges.starts.get(number, ()):
            if column < len(cells) and cells[column]:
                held[(number, column)] = cells[column]
        yield cells


@dataclass
class _Merges:
    below: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # row -> (col, first)
    starts: dict[int, set[int]] = field(default_factory=dict)  # first row -> columns
    across: dict[int, set[int]] = field(default_factory=dict)  # row -> first columns

    @classmethod
    def read(cls, archive: zipfile.ZipFile, sheet_path: str, row_count: int) -> _Merges:
        merges, filled = cls(), 0
        for column, first, last in _merges(archive, sheet_path, merges.across, row_count):
            if first >= row_count or column >= MAX_COLUMNS:
                continue
            merges.starts.setdefault(first, set()).add(column)
            for row in range(first + 1, min(last, row_count) + 1):
                if filled >= MAX_FILLED:
                    return merges
                merges.below.setdefault(row, []).append((column, first))
                filled += 1
        return merges


def _merges(
    archive: zipfile.ZipFile, sheet_path: str, across: dict[int, set[int]], row_count: int
) -> Iterator[tuple[int, int, int]]:
    """(column index from 0, first row, last row) of each merge spanning more than one row;
    `across` gets the first row and column of each merge spanning more than one column."""
    for left, top, right, bottom in _merge_refs(archive, sheet_path):
        first, last = int(top), int(bottom)
        if right != left and first <= row_count and len(across) < MAX_FILLED:
            across.setdefault(first, set()).add(_column_index(left))
        if last > first:
            yield _column_index(left), first, last


def _lone_across(cells: Sequence[str], merged_from: Iterable[int]) -> bool:
    """The row's only text is in a cell merged across the row."""
    filled = [i for i, cell in enumerate(cells) if cell.strip()]
    return len(filled) == 1 and filled[0] in merged_from


def _merge_refs(archive: zipfile.ZipFile, sheet_path: str) -> Iterator[tuple[str, ...]]:
    try:
        stream = archive.open(sheet_path)
    except (KeyError, OSError, zipfile.BadZipFile):
        return
    with stream:
        tail, read = b"", 0
        while read < MAX_XML_BYTES and (chunk := stream.read(_CHUNK)):
            read += len(chunk)
            text = tail + chunk
            for match in _MERGE.finditer(text):
                if match.end() > len(tail):  # not already seen in the previous chunk's tail
                    yield tuple(group.decode() for group in match.groups())
            tail = text[-_OVERLAP:]


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def rules_apart(records: Sequence[Record]) -> list[Record]:
    """Several rows under one 类别 (merged down, or written out on each row) are several rules:
    each spreadsheet policy row without an id of its own gets one from its title and content,
    so 退款's three rows are three policies, not one policy and two duplicates; so are a
    promotion's rows under its merged name (双12: ①满减 ②送卡 ③直降), each with its own scope.
    A row repeated word for word is still a duplicate."""
    titles = Counter(
        (r.file, _cell(r, "title")) for r in records if _own_policy_row(r) and _cell(r, "title")
    )
    out = []
    for record in records:
        title = _cell(record, "title")
        if _own_policy_row(record) and title and titles[(record.file, title)] > 1:
            key = f"{title}\n{_cell(record, _CONTENT[record.kind])}"
            values = {**record.values, "id": derive_id(record.kind, key)}
            record = dataclasses.replace(record, values=values, columns={
                **record.columns, "id": record.column_of("title")})  # fmt: skip
        out.append(record)
    return out


_CONTENT = {"policy": "content", "promotion": "rule"}  # what tells one row's rule from another's


def _own_policy_row(record: Record) -> bool:
    return record.tabular and record.kind in _CONTENT and not _cell(record, "id")


def _cell(record: Record, name: str) -> str:
    return str(record.values.get(name) or "").strip()


def spec_rows_joined(records: Sequence[Record]) -> list[Record]:
    """A product kept on several rows, one per spec (its 货号 and 品名 merged down over them, or
    left blank below the first), is one product whose specs are those rows: "1.5kg 59 / 4kg
    139 / 10kg 299 缺货" reads as three priced variants, the 10kg out of stock, not as two
    duplicate ids or two rows missing their id."""
    groups: list[list[Record]] = []
    for record in records:
        if groups and _continues(groups[-1], record):
            groups[-1].append(record)
        else:
            groups.append([record])
    return [group[0] if len(group) == 1 else _joined(group) for group in groups]


def _continues(group: Sequence[Record], row: Record) -> bool:
    """The row is one more spec of the group's product: same id (or none) and name (or none),
    a spec of its own (a row written twice stays a duplicate)."""
    first, spec = group[0], _cell(row, "variants")
    if not (first.tabular and row.tabular and first.kind == row.kind == "product"):
        return False
    first_spec = _cell(first, "variants")
    if first.file != row.file or not spec or not first_spec:
        return False  # a product with no spec is whole
    if spec in {_cell(r, "variants") for r in group}:
        return False
    title = _cell(row, "title")
    same = _cell(row, "id") == _cell(first, "id") and title in ("", _cell(first, "title"))
    # specs in one cell ("黑白/全黑") are the whole product, unless its id goes on below
    return same or not ("|" in first_spec or _cell(row, "id") or title)


def _joined(rows: Sequence[Record]) -> Record:
    """The first row's product with every row's spec, price and stock as its variants."""
    first = rows[0]
    values = dict(first.values)
    values["variants"] = "|".join(_priced(row) for row in rows)
    prices = [price for row in rows if _NUMBER.fullmatch(price := _cell(row, "price"))]
    if prices:
        values["price"] = min(prices, key=float)
    out = [_cell(row, "variants") for row in rows if _sold_out(row)]
    notes = _cell(first, "usage_notes").split(_STOCK_LEAD)[0].strip("；; ")
    said = _stock_remarks(rows)  # 缺货（可预订，预计12月10日到货）, 仅剩少量: in the sheet's words
    if said and len(out) < len(rows):
        notes = "；".join(n for n in (notes, _STOCK_LEAD + "；".join(said)) if n)
    elif out and len(out) < len(rows):
        notes = "；".join(n for n in (notes, _STOCK_LEAD + "、".join(out) + "缺货") if n)
    values["usage_notes"] = notes
    values["in_stock"] = "否" if len(out) == len(rows) else "是"
    return dataclasses.replace(first, values=values)


def _priced(row: Record) -> str:
    """ "250g罐装=178"; a price in words stays with its spec: 企业定制款（团购询价）."""
    spec, price = _cell(row, "variants"), _cell(row, "price")
    if "=" in spec or not price:
        return spec
    priced = "={}" if _NUMBER.fullmatch(price) else "（{}）"
    return "|".join(name + priced.format(price) for name in spec.split("|"))


_STOCK_LEAD = "库存："


def _stock_remarks(rows: Sequence[Record]) -> list[str]:
    """Each spec's own stock note that says more than in stock ("库存：缺货（可预订…）" on its
    row), named by its spec."""
    notes = [_cell(row, "usage_notes").partition(_STOCK_LEAD) for row in rows]
    if len({note for _, _, note in notes}) == 1:  # one cell merged down over the specs: once
        notes = notes[:1]
        rows = rows[:1]
    remarks = []
    for row, (_, found, note) in zip(rows, notes, strict=True):
        note, spec = note.strip(), _cell(row, "variants").replace("|", "/")
        if found and _SAYS_MORE.search(note):
            # "灰蓝44码缺货" names its spec; a cell over all the specs names none
            named = len(notes) == 1 or any(name in note for name in spec.split("/"))
            remarks.append(note if named else f"{spec}{note}")
    return remarks


# a stock note worth the agent's eye: out, low, coming back, made or sold to order; not a
# plain 充足 or a count (约350, 300+)
_SAYS_MORE = re.compile(r"缺|售罄|断|无货|没货|补|到货|预计|少量|快没|仅剩|起订|预售|预订|现做")


def _sold_out(row: Record) -> bool:
    """Its stock cell says out, or its price cell does in a remark: "¥55（缺货）" (kept as the
    row's note 价格：¥55（缺货） once the price is read)."""
    priced = f"{_cell(row, 'price')} {''.join(_PRICE_NOTE.findall(_cell(row, 'usage_notes')))}"
    said_out = any(_SOLD_OUT_REMARK.search(remark) for remark in _PRICE_REMARK.findall(priced))
    return said_out or _cell(row, "in_stock").lower() in _OUT_WORDS


_PRICE_NOTE = re.compile(r"价格：[^；;]*")
_PRICE_REMARK = re.compile(r"[（(]([^）)]*)[）)]")
_SOLD_OUT_REMARK = re.compile(r"缺货|售罄|断货|无货|没货|卖完|补货中")


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OUT_WORDS = frozenset(
    {"否", "无", "无货", "缺货", "售罄", "下架", "断货", "false", "no", "n", "0"}
)
