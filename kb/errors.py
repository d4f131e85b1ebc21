"""Errors of the knowledge-base package.

KBError
├── KBImportError        a file or row cannot be imported; carries every RowError found
├── InvalidEntry         an entry built in code (API, CLI) fails validation; names the field
├── ShopNotFound
├── EntryNotFound
├── StoreUnavailable     Redis cannot be reached or refused a write
└── ModelError           an offline model cannot be assembled or loaded
    ├── ModelPackageMissing   a carrier package is not installed (message has the pip command)
    └── ModelIntegrityError   a built file's sha256 differs from the pinned one
"""

from __future__ import annotations

from dataclasses import dataclass


class KBError(Exception):
    """Base of every error raised by the kb package."""


@dataclass(frozen=True)
class RowError:
    """One problem in an import file. row is 1-based as a spreadsheet shows it (header = 1)."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"


class KBImportError(KBError):
    def __init__(self, errors: list[RowError] | tuple[RowError, ...]) -> None:
        self.errors = tuple(errors)
        shown = "\n".join(f"  - {e}" for e in self.errors[:20])
        more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(
            f"import failed, nothing was changed ({len(self.errors)} error(s)):\n{shown}{more}"
        )


class InvalidEntry(KBError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class ShopNotFound(KBError):
    def __init__(self, shop_id: str) -> None:
        self.shop_id = shop_id
        super().__init__(
            f"shop {shop_id!r} has no knowledge base; "
            f"import one with `copilot kb import {shop_id} FILE`"
        )


class EntryNotFound(KBError):
    def __init__(self, shop_id: str, entry_id: str) -> None:
        self.shop_id = shop_id
        self.entry_id = entry_id
        super().__init__(f"shop {shop_id!r} has no entry {entry_id!r}")


class StoreUnavailable(KBError):
    pass


class ModelError(KBError):
    pass


class ModelPackageMissing(ModelError):
    pass


class ModelIntegrityError(ModelError):
    pass
