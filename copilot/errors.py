"""Errors of the suggestion pipeline.

CopilotError
├── GenerationError        an LLM backend failed (load, HTTP, decode)
│   └── GenerationTimeout  it did not answer in time
├── HistoryImportError     chat logs could not be read; carries every LineError found
├── IntentDataError        labelled intent examples are malformed (file, line, reason)
├── InvalidInput           a conversation, order or suggestion dict is malformed (names the field)
├── HistoryUnavailable  ┐  Redis failed under the history bank or the reply selector,
└── FeedbackUnavailable ┘  or refused a feedback write or read

The two "unavailable" errors are also kb.errors.StoreUnavailable: one type means "the store is
down" in every layer, so the service maps it to 503 once and degrades on it once.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.errors import StoreUnavailable


class CopilotError(Exception):
    """Base of every error raised by the copilot package."""


class GenerationError(CopilotError):
    pass


class GenerationTimeout(GenerationError):
    pass


# StoreUnavailable first: handlers looked up along the MRO (Starlette's) find the 503 mapping.
class HistoryUnavailable(StoreUnavailable, CopilotError):
    pass


class FeedbackUnavailable(StoreUnavailable, CopilotError):
    """Redis refused a feedback write or read."""


class InvalidInput(CopilotError):
    """A conversation, order or suggestion dict (CLI file, eval record) is malformed."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


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
