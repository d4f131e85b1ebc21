"""Export entries to files that `kb.files.importers` reads back into equal entries.

    export_entries(entries, path) -> int   (format by extension; returns the count written)

.jsonl  one `kb.files.codec.entry_to_dict` object per line, UTF-8, Chinese kept readable.
.xlsx   one sheet per kind, named 商品/问答/政策/活动/话术, with Chinese headers (the first
        Chinese alias of each field in kb.files.headers.FIELD_ALIASES).
.csv    (.tsv) one table for all kinds: a 类型 column, then the union of the Chinese headers
        of the kinds present; UTF-8 with BOM so that Excel shows the Chinese correctly.

In the tables, lists are joined with '|', variants written as 'name=price|name', in_stock
as 是/否, dates ISO, missing values as empty cells. No cell is ever a formula: XLSX cells
starting with = + - @ are stored as text, CSV/TSV cells get a leading apostrophe (dropped on
import).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from kb.errors import KBError
from kb.files.codec import entry_to_dict
from kb.files.headers import (
    FIELD_ALIASES,
    IMPORT_ONLY_FIELDS,
    KIND_HEADERS,
    KIND_NAMES,
    display_name,
)
from kb.types import ENTRY_KINDS, Entry, EntryKind


def export_entries(entries: Sequence[Entry], path: Path) -> int:
    """Write entries to path in the format its extension names; return how many were written."""
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise KBError(f"cannot export to {path.name!r}; use one of {', '.join(_WRITERS)}")
    writer(entries, path)
    return len(entries)


def entry_cells(entry: Entry) -> dict[str, str]:
    """Canonical field -> the text of its spreadsheet cell, for every field of the kind."""
    data = entry_to_dict(entry)
    return {name: _cell(name, data.get(name)) for name in _exported_fields(entry.kind)}


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if name == "variants":
        return "|".join(
            v["name"] if v["price"] is None else f"{v['name']}={v['price']}" for v in value
        )
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    return str(value)


def _kinds(entries: Sequence[Entry]) -> list[EntryKind]:
    present = {entry.kind for entry in entries}
    return [kind for kind in ENTRY_KINDS if kind in present]


def _headers(kind: EntryKind) -> list[tuple[str, str]]:
    """(field, Chinese header) pairs of a kind, in FIELD_ALIASES order."""
    return [(name, display_name(kind, name)) for name in _exported_fields(kind)]


def _exported_fields(kind: EntryKind) -> list[str]:
    """A kind's fields in FIELD_ALIASES order, less those an import turns into others."""
    return [name for name in FIELD_ALIASES[kind] if name not in IMPORT_ONLY_FIELDS]


def _write_jsonl(entries: Sequence[Entry], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for entry in entries:
            out.write(json.dumps(entry_to_dict(entry), ensure_ascii=False) + "\n")


def _write_xlsx(entries: Sequence[Entry], path: Path) -> None:
    book = Workbook()
    default = book.active
    for kind in _kinds(entries):
        sheet = book.create_sheet(KIND_NAMES[kind])
        columns = _headers(kind)
        sheet.append([header for _, header in columns])
        for number, entry in enumerate((e for e in entries if e.kind == kind), start=2):
            cells = entry_cells(entry)
            for col, (name, _) in enumerate(columns, start=1):
                _put(sheet.cell(row=number, column=col), cells[name])
    if len(book.worksheets) > 1 and default is not None:
        book.remove(default)  # kept only when there is nothing to export: a book needs a sheet
    book.save(path)


# A spreadsheet reads a cell starting with one of these as a formula (=cmd|' /C calc'!A0).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _put(cell: Any, text: str) -> None:
    # Control characters make openpyxl refuse the whole file; they are never meaningful here.
    # Checked after removing them: "\x01=1+1" must not become a formula.
    clean = ILLEGAL_CHARACTERS_RE.sub("", text)
    cell.value = clean or None
    if clean.startswith(FORMULA_START):
        cell.data_type = "s"  # text, not a formula to evaluate


def _write_table(entries: Sequence[Entry], path: Path, delimiter: str) -> None:
    kinds = _kinds(entries)
    headers: list[str] = []
    for kind in kinds:
        headers += [h for _, h in _headers(kind) if h not in headers]
    # utf-8-sig: without the BOM, Excel on Chinese Windows reads UTF-8 as GBK (mojibake).
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow([KIND_HEADERS[0], *headers])
        for entry in entries:
            cells = entry_cells(entry)
            # Headers mean different fields per kind (商品ID: a product's id, an FAQ's
            # product), so each row fills only the columns of its own kind.
            by_header = {header: cells[name] for name, header in _headers(entry.kind)}
            row = [KIND_NAMES[entry.kind], *(by_header.get(h, "") for h in headers)]
            writer.writerow([csv_safe(cell) for cell in row])


def csv_safe(text: str) -> str:
    """A cell Excel would run as a formula gets a leading apostrophe (shown as text);
    kb.files.importers drops it again, so the file still imports as it was exported."""
    clean = ILLEGAL_CHARACTERS_RE.sub("", text)  # as in XLSX: never meaningful, and they hide =
    return f"'{clean}" if clean.startswith(FORMULA_START) else clean


_WRITERS: dict[str, Callable[[Sequence[Entry], Path], None]] = {
    ".jsonl": _write_jsonl,
    ".xlsx": _write_xlsx,
    ".csv": lambda entries, path: _write_table(entries, path, ","),
    ".tsv": lambda entries, path: _write_table(entries, path, "\t"),
}
