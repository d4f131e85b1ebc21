"""Records to entries, the import's last step: each record through the codec, ids seen before
in the import rejected, spec rows joined into their product, several rules under one category
kept apart, promotion sheets read as a person reads them (kb.files.sheets.promotion_rows), and a
spreadsheet question without its answer left out (`Loaded.left_out`), not an error."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kb.errors import InvalidEntry, RowError
from kb.files.codec import entry_from_dict
from kb.files.import_text import Record
from kb.files.merged_cells import rules_apart, spec_rows_joined
from kb.files.promotion_cells import ProductWords, full_dates, promotion_rows
from kb.types import Entry


@dataclass(frozen=True)
class Loaded:
    """An import's entries, and the rows left out of it (questions not yet answered)."""

    entries: list[Entry]
    left_out: tuple[RowError, ...] = ()


def built_entries(
    shop_id: str, records: list[Record], errors: list[RowError], left_out: list[RowError]
) -> list[Entry]:
    """Validate every record through the codec and reject ids seen before in this import;
    a question without an answer goes to `left_out`."""
    entries: list[Entry] = []
    first_seen: dict[str, Record] = {}
    for record in spec_rows_joined(rules_apart(_read_promotion_sheets(records))):
        try:
            entry = entry_from_dict(shop_id, record.values, record.kind)
        except InvalidEntry as exc:
            problem = _invalid(record, exc)
            if _unanswered(record, exc):
                left_out.append(dataclasses.replace(problem, message=_NOT_ANSWERED))
            else:
                errors.append(problem)
            continue
        first = first_seen.setdefault(entry.id, record)
        if first is record:
            entries.append(entry)
        else:
            errors.append(_duplicate(entry, record, first))
    return entries


def _read_promotion_sheets(records: list[Record]) -> list[Record]:
    """Spreadsheet promotions as a person reads them (kb.files.sheets.promotion_rows): scopes by
    product name, tiers, yearless dates. Other records pass through unchanged."""
    products: dict[str, ProductWords] = {}
    for r in records:
        if r.kind == "product":  # a spec row (not yet joined) adds its spec
            pid = str(r.values.get("id", "")).strip()
            known = products.get(pid, ProductWords(str(r.values.get("title", ""))))
            products[pid] = known._replace(specs=f"{known.specs} {r.values.get('variants', '')}")
    cells: dict[str, list[str]] = {}  # file -> its promotions' date cells
    for r in records:
        if r.tabular and r.kind == "promotion":
            cells.setdefault(r.file, []).extend(
                str(r.values.get(f) or "") for f in ("starts", "ends", "period")
            )
    sheet_dates = {file: full_dates(texts) for file, texts in cells.items()}
    out = []
    for record in records:
        if not (record.tabular and record.kind == "promotion"):
            out.append(record)
            continue
        columns = record.columns
        if record.values.get("period") and "period" in columns:  # errors name the 时间 column
            columns = columns | {"starts": columns["period"], "ends": columns["period"]}
        for values in promotion_rows(record.values, products, sheet_dates[record.file]):
            out.append(dataclasses.replace(record, values=values, columns=columns))
    return out


_NOT_ANSWERED = "no answer yet: left out until the sheet gives it one"


def _unanswered(record: Record, exc: InvalidEntry) -> bool:
    """A spreadsheet's FAQ row with its question and an empty answer cell."""
    values = record.values
    return (
        record.tabular  # a Markdown question without its answer lines is a slip, not a to-do
        and record.kind == "faq"
        and exc.field == "answer"
        and bool(str(values.get("question") or "").strip())
        and not str(values.get("answer") or "").strip()
    )


def _invalid(record: Record, exc: InvalidEntry) -> RowError:
    """Point the codec's complaint about a field at the cell (or line) it came from."""
    message = str(exc).removeprefix(f"{exc.field}: ")
    return RowError(record.file, record.row_of(exc.field), record.column_of(exc.field), message)


def _duplicate(entry: Entry, record: Record, first: Record) -> RowError:
    if str(record.values.get("id") or "").strip():
        field, what = "id", f"id {entry.id!r}"
    else:
        # No id given: it was derived from the question/title, so that is what repeats.
        field = "question" if entry.kind == "faq" else "title"
        what = f"{field} (same derived id {entry.id!r})"
    message = f"duplicate {what}; first at {first.file}, row {first.row}"
    return RowError(record.file, record.row_of(field), record.column_of(field), message)
