"""Import knowledge-base entries from trainer files: CSV, TSV, XLSX, JSONL, Markdown FAQ.

    load_files(shop_id, paths, kind=None) -> list[Entry]
    load_bytes(shop_id, filename, data, kind=None) -> list[Entry]   (uploaded files)
    read_files / read_bytes: the same, as Loaded(entries, left_out)

All or nothing: every file and row is checked, every problem is collected, and one
KBImportError carrying all RowError(file, row, column, message) is raised; entries are only
returned when there is none. Nothing here touches Redis. The format is chosen by extension.
One row is not an error: a spreadsheet question whose answer cell is empty is the trainer's
to-do (a customer asked it, no one has answered it yet). It is left out, and Loaded.left_out
says where, so that the rest of the shop's sheets import.

Text files (CSV, TSV, JSONL, Markdown): the encoding is sniffed: a BOM (UTF-8, or UTF-16
from Excel's "Unicode text"), else strict UTF-8, else GB18030 (covers GBK exports of Chinese
Excel), else the error "unknown encoding; save as UTF-8".

CSV / TSV (.csv, .tsv)
    The first non-blank row is the header; fully blank rows are skipped; rows are numbered as
    a spreadsheet shows them (header = 1, first data row = 2).
XLSX (.xlsx)
    Every sheet with a header row is read (sheets without data rows are skipped); errors name
    the file as "book.xlsx:sheet". Numeric cells become plain text (89.9 -> "89.9",
    1001 -> "1001"), date cells ISO dates.
Headers (CSV/TSV/XLSX)
    Chinese or English, case and full-width insensitive; see kb.files.headers.FIELD_ALIASES (e.g. a
    product's 商品ID/名称/价格, an FAQ's 问题/答案/相似问法). Unknown columns are ignored. A
    numeric 库存 (stock count) means in stock when above 0. Required columns: product
    商品ID+名称+价格, faq 问题+答案, policy 标题+内容, promotion 活动名称+规则, script 话术.
    Kind of a row: the `kind` argument; else a 类型/kind column (商品/问答/政策/活动/话术 or
    product/faq/policy/promotion/script; a blank cell falls back to what follows); else the
    sheet name (商品, 问答/FAQ, 政策, 活动/促销, 话术); else the headers (问题 or 答案 -> faq,
    价格 or 商品ID+名称 -> product, 规则 -> promotion, 话术 -> script, 内容 -> policy).
JSONL (.jsonl)
    One object per line in the kb.files.codec dict form with a "kind" key (the kind argument, when
    given, overrides it); blank lines skipped; rows are line numbers, columns field names.
Markdown (.md, .markdown), FAQ only::

    # 任意标题（忽略）
    ## 这个杯子能装开水吗？
    相似问法: 能不能装热水 | 可以倒开水吗
    商品ID: pdd-p01
    可以的亲，杯身是316不锈钢……（答案，可多行，直到下一个 ## 标题）

    A "## " heading, or a line starting "Q:" / "问:", starts a question. Lines starting
    相似问法: / alt_questions:, 商品ID: / product_id:, 意图: / intent:, ID: / id: (":" or "："),
    set that field; an "A:" / "答:" prefix is dropped; every other line is the answer. "# "
    titles and text before the first question are ignored. Rows are line numbers.

An unknown `kind` argument raises InvalidEntry("kind", ...) before any file is read.
Ids must be unique across all files of one call; a repeated id (given, or derived from the
question/title) is reported at its second occurrence, naming the first.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl

from kb.errors import InvalidEntry, KBImportError, RowError
from kb.files.built import Loaded, built_entries
from kb.files.headers import (
    FIELD_ALIASES,
    KIND_NAMES,
    REQUIRED_FIELDS,
    ROW_NUMBER_HEADERS,
    describe_field,
    display_name,
    field_columns,
    fields_named,
    kind_column,
    kind_from_headers,
    kind_from_sheet,
    kind_from_value,
    knowledge_sheet,
    known_header,
    normalize_header,
    required_headers_help,
)
from kb.files.import_text import KIND_CHOICES, Record, decode_text, read_jsonl, read_markdown
from kb.files.lookup_tables import is_lookup_table, lookup_records
from kb.files.merged_cells import sheet_rows_filled
from kb.files.sheets import header_row, product_cells, section_row
from kb.files.size_charts import is_size_chart, size_chart_records
from kb.types import Entry, EntryKind

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".xlsx", ".jsonl", ".md", ".markdown")


def load_files(shop_id: str, paths: Sequence[Path], *, kind: str | None = None) -> list[Entry]:
    """Read and validate every file; return all entries or raise one KBImportError."""
    return read_files(shop_id, paths, kind=kind).entries


def load_bytes(shop_id: str, filename: str, data: bytes, *, kind: str | None = None) -> list[Entry]:
    """Like load_files for one uploaded file; only the extension of filename matters."""
    return read_bytes(shop_id, filename, data, kind=kind).entries


def read_files(shop_id: str, paths: Sequence[Path], *, kind: str | None = None) -> Loaded:
    """load_files, with the rows it left out."""
    wanted = _kind_argument(kind)
    errors: list[RowError] = []
    records: list[Record] = []
    for path in paths:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            errors.append(RowError(path.name, None, None, f"cannot read: {exc.strerror or exc}"))
            continue
        records += _read(path.name, data, wanted, errors)
    return _finish(shop_id, records, errors)


def read_bytes(shop_id: str, filename: str, data: bytes, *, kind: str | None = None) -> Loaded:
    """load_bytes, with the rows it left out."""
    wanted = _kind_argument(kind)
    # Some browsers send the client's full path, with either slash.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    errors: list[RowError] = []
    return _finish(shop_id, _read(name, data, wanted, errors), errors)


def _kind_argument(kind: str | None) -> EntryKind | None:
    if kind is None:
        return None
    found = kind_from_value(kind)
    if found is None:
        raise InvalidEntry("kind", f"{kind!r} is not a kind ({KIND_CHOICES})")
    return found


def _finish(shop_id: str, records: list[Record], errors: list[RowError]) -> Loaded:
    left_out: list[RowError] = []
    entries = built_entries(shop_id, records, errors, left_out)
    if errors:
        raise KBImportError(errors)
    return Loaded(entries, tuple(left_out))


def _read(name: str, data: bytes, kind: EntryKind | None, errors: list[RowError]) -> list[Record]:
    """Dispatch on the extension; problems go to errors, records that parsed are returned."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        hint = "save it as .xlsx; " if suffix == ".xls" else ""
        allowed = ", ".join(SUPPORTED_SUFFIXES)
        message = f"unsupported file type {suffix or '(none)'!r}; {hint}use {allowed}"
        errors.append(RowError(name, None, None, message))
        return []
    if not data.strip():
        errors.append(RowError(name, None, None, "the file is empty"))
        return []
    if suffix == ".xlsx":
        return _read_xlsx(name, data, kind, errors)
    text = decode_text(data)
    if text is None:
        errors.append(RowError(name, None, None, "unknown encoding; save as UTF-8"))
        return []
    return _read_text(name, suffix, text, kind, errors)


def _read_text(
    name: str, suffix: str, text: str, kind: EntryKind | None, errors: list[RowError]
) -> list[Record]:
    if suffix == ".jsonl":
        return read_jsonl(name, text, kind, errors)
    if suffix in (".md", ".markdown"):
        if kind not in (None, "faq"):
            errors.append(RowError(name, None, None, "a Markdown file holds FAQ (问答) only"))
            return []
        return read_markdown(name, text, errors)
    return _read_delimited(name, text, "\t" if suffix == ".tsv" else ",", kind, errors)


@dataclass
class _Table:
    """A header row and the non-blank rows under it, numbered as the spreadsheet shows them."""

    label: str  # file name, or "book.xlsx:sheet"
    sheet: str | None
    header_row: int
    headers: list[str]
    rows: list[tuple[int, list[str]]]


def _table(label: str, sheet: str | None, rows: Iterable[Sequence[str]]) -> _Table | None:
    """The header is the first row naming two known fields (titles and notes above it are
    skipped), else the first non-blank row; None when every row is blank. Section rows
    (【猫粮狗粮】) under it are dropped."""
    cells = [list(r) for r in rows]
    start = header_row(cells, known_header)
    if start < 0:
        return None
    table = _Table(label, sheet, start + 1, [c.strip() for c in cells[start]], [])
    for number, row in enumerate(cells[start + 1 :], start=start + 2):
        if any(cell.strip() for cell in row) and not section_row(row):
            table.rows.append((number, row))
    return table


def _read_delimited(
    name: str, text: str, delimiter: str, kind: EntryKind | None, errors: list[RowError]
) -> list[Record]:
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        table = _table(name, None, [[_unguarded(cell) for cell in row] for row in rows])
    except csv.Error as exc:
        errors.append(RowError(name, None, None, f"not a readable CSV file: {exc}"))
        return []
    if table is None or not table.rows:
        errors.append(
            RowError(name, None, None, "no data rows (the file has only a header or is empty)")
        )
        return []
    return _table_records(table, kind, errors)


def _unguarded(cell: str) -> str:
    """Drop the apostrophe kb.files.exporters puts before a cell a spreadsheet would run as a
    formula."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@") else cell


def _read_xlsx(
    name: str, data: bytes, kind: EntryKind | None, errors: list[RowError]
) -> list[Record]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on corrupt uploads; all mean the same
        errors.append(RowError(name, None, None, f"not a readable .xlsx workbook ({exc})"))
        return []
    archive = zipfile.ZipFile(io.BytesIO(data))  # readable: openpyxl has just opened it
    try:
        tables, budget = [], MAX_ROWS
        for sheet in book.worksheets:
            if not knowledge_sheet(sheet.title):
                continue  # a change log or notes beside the knowledge
            # Some writers store a wrong sheet size; read-only mode would then cut rows off.
            sheet.reset_dimensions()  # type: ignore[union-attr]
            rows = list(sheet_rows_filled(archive, sheet, _bounded_rows(sheet, budget)))
            if len(rows) > budget:
                message = f"more than {MAX_ROWS} rows; split the file"
                errors.append(RowError(f"{name}:{sheet.title}", None, None, message))
                return []
            budget -= len(rows)
            tables.append(_table(f"{name}:{sheet.title}", sheet.title, rows))
    finally:
        book.close()
        archive.close()
    filled = [t for t in tables if t is not None and t.rows]
    if not filled:
        errors.append(RowError(name, None, None, "no data rows in any sheet"))
    return [record for table in filled for record in _table_records(table, kind, errors)]


# An upload's parse stays small whatever the file claims: a cell in column XFD would have
# openpyxl pad every row to 16,384 cells (8,000 such rows took a service to +1 GB).
MAX_COLUMNS = 64
MAX_ROWS = 20_000


def _bounded_rows(sheet: Any, budget: int) -> Iterable[list[str]]:
    """The sheet's rows, the first MAX_COLUMNS cells each without trailing blanks, and at most
    one row past `budget` (so the caller can tell the file is too long)."""
    for count, row in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)):
        if count > budget:
            return
        cells = [cell_text(v) for v in row]
        while cells and not cells[-1]:
            cells.pop()
        yield cells


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a trainer sees: 1001 not 1001.0, 89.9 not 89.90000001."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float; "f" avoids 1e-05.
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _table_records(table: _Table, kind: EntryKind | None, errors: list[RowError]) -> list[Record]:
    """Turn table rows into Records, deciding each row's kind and checking required columns."""
    kind_col = None if kind else kind_column(table.headers, [cells for _, cells in table.rows])
    fallback = kind or (kind_from_sheet(table.sheet) if table.sheet else None)
    fallback = fallback or kind_from_headers(table.headers)
    if kind_col is None and fallback is None:
        if is_size_chart(table.headers):
            return size_chart_records(table.label, table.headers, table.rows, table.sheet)
        if is_lookup_table(table.sheet, table.headers):
            return lookup_records(table.label, table.sheet or "", table.headers, table.rows)
        message = (
            f"cannot tell what these rows are; add a 类型/kind column ({KIND_CHOICES}) "
            f"or use the headers of one kind: {required_headers_help()}"
        )
        errors.append(RowError(table.label, table.header_row, None, message))
        return []
    columns: dict[EntryKind, dict[str, list[int]] | None] = {}
    records = []
    for number, cells in table.rows:
        row_kind = _row_kind(table, number, cells, kind_col, fallback, errors)
        if row_kind is None:
            continue
        if row_kind not in columns:
            columns[row_kind] = _kind_columns(table, row_kind, kind_col, errors)
        found = columns[row_kind]
        if found is not None:
            records.append(_row_record(table, number, cells, row_kind, found))
    return records


def _row_kind(
    table: _Table,
    number: int,
    cells: list[str],
    kind_col: int | None,
    fallback: EntryKind | None,
    errors: list[RowError],
) -> EntryKind | None:
    if kind_col is None:
        return fallback
    raw = cells[kind_col].strip() if kind_col < len(cells) else ""
    found = kind_from_value(raw) if raw else fallback
    if found is None:
        what = f"{raw!r} is not a kind" if raw else "no kind given"
        errors.append(
            RowError(table.label, number, table.headers[kind_col], f"{what} ({KIND_CHOICES})")
        )
    return found


def _kind_columns(
    table: _Table, kind: EntryKind, kind_col: int | None, errors: list[RowError]
) -> dict[str, list[int]] | None:
    """Field -> column indexes for kind, or None (with errors) if a required column is missing."""
    columns = {
        name: [i for i in indexes if i != kind_col]
        for name, indexes in field_columns(kind, table.headers).items()
    }
    columns = {name: indexes for name, indexes in columns.items() if indexes}
    if kind == "policy" and "title" not in columns and len(columns.get("content", ())) > 1:
        # 规则 | 具体说明: the first names the rule (发货时间), the second says it
        columns["title"] = [columns["content"].pop(0)]
    if kind == "policy" and "title" not in columns and "topic" in columns:
        columns["title"] = columns.pop("topic")  # 类别 names each policy when nothing else does
    if kind == "product" and "price" not in columns:
        # 规格/颜色/价格: one cell says the specs and what they cost (sheets.product_cells)
        both = [
            i
            for i in columns.get("variants", ())
            if "price" in fields_named(kind, table.headers[i])
        ]
        if both:
            columns["price"] = both[:1]
    missing = [name for name in REQUIRED_FIELDS[kind] if name not in columns]
    for name in missing:
        message = (
            f"missing column {describe_field(kind, name)}, required for {KIND_NAMES[kind]} ({kind})"
        )
        errors.append(RowError(table.label, table.header_row, display_name(kind, name), message))
    return None if missing else columns


def _row_record(
    table: _Table, number: int, cells: list[str], kind: EntryKind, columns: dict[str, list[int]]
) -> Record:
    record = Record(table.label, number, kind, {})
    record.columns = {name: display_name(kind, name) for name in FIELD_ALIASES[kind]}
    for name, indexes in columns.items():
        # Several columns may hold one field (a mixed export has 商品ID and 编号): the first
        # one filled in wins, so each row reads its own kind's column.
        filled = [i for i in indexes if i < len(cells) and cells[i].strip()]
        index = filled[0] if filled else indexes[0]
        record.values[name] = cells[index] if index < len(cells) else ""
        record.columns[name] = table.headers[index]
        if name == "usage_notes" and len(filled) > 1:  # 注意事项 and 备注: both are notes
            record.values[name] = "；".join(dict.fromkeys(cells[i].strip() for i in filled))
    record.tabular = True
    if kind == "product":
        record.values = product_cells(record.values, _extra_cells(table, cells, columns))
        stock = str(record.values.get("in_stock", "")).strip()
        if stock.isdigit():
            # 库存 is often a stock count; any count above zero means in stock.
            record.values["in_stock"] = "是" if int(stock) > 0 else "否"
    return record


def _extra_cells(table: _Table, cells: list[str], columns: dict[str, list[int]]) -> dict[str, str]:
    """A product row's filled cells under headers we have no field for (保质期, 功率, 产地):
    facts customers ask about, kept as selling points."""
    used = {i for indexes in columns.values() for i in indexes}
    return {
        table.headers[i]: cells[i].strip()
        for i in range(min(len(cells), len(table.headers)))
        if i not in used and cells[i].strip() and table.headers[i].strip()
        and normalize_header(table.headers[i]) not in ROW_NUMBER_HEADERS
        and not known_header(table.headers[i])  # another kind's column in a mixed table
    }  # fmt: skip
