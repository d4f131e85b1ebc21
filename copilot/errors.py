"""Errors of the suggestion pipeline.

CopilotError
├── GenerationError        an LLM backend failed (load, HTTP, decode)
│   └── GenerationTimeout  it did not answer in time
├── HistoryImportError     chat logs could not be read; carries every LineError found
├── HistoryUnavailable     the history bank's Redis failed (the service degrades on it)
└── IntentDataError        labelled intent examples are malformed (file, line, reason)
"""

from __future__ import annotations

from dataclasses import dataclass


class CopilotError(Exception):
    """Base of every error raised by the copilot package."""


class GenerationError(CopilotError):
    pass


class GenerationTimeout(GenerationError):
    pass


class HistoryUnavailable(CopilotError):
    pass


@dataclass(frozen=True)
class LineError:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}, line {self.line}"
        return f"{where}: {self.message}"


class _LineErrors(CopilotError):
    """Every problem found in a file, listed one per line (the first 20)."""

    summary = "bad input"

    def __init__(self, errors: list[LineError] | tuple[LineError, ...]) -> None:
        self.errors = tuple(errors)
        shown = "\n".join(f"  - {e}" for e in self.errors[:20])
        more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"{self.summary} ({len(self.errors)} error(s)):\n{shown}{more}")


class HistoryImportError(_LineErrors):
    summary = "cannot import chats"


class IntentDataError(_LineErrors):
    summary = "bad intent examples"
