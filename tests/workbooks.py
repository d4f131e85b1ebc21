"""Trainer workbooks written for the import tests: sheets of rows, and cells merged as trainers
merge them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl


def write_workbook(
    path: Path,
    sheets: Mapping[str, Sequence[Sequence[Any]]],
    merges: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """An .xlsx at `path`: one sheet per title with its rows, and its `merges` ("A3:A5")."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
        for cells in (merges or {}).get(title, ()):
            sheet.merge_cells(cells)
    book.save(path)
    return path
