"""Errors of the offline eval harness.

EvalError
├── EvalInputError   a chat file, a run folder or a feedback export cannot be used (names the
│                    file, the line and the reason)
└── LeakageError     a replayed conversation also feeds the response bank
"""

from __future__ import annotations

from copilot.errors import LineError


class EvalError(Exception):
    """Base of every error raised by the eval package."""


class EvalInputError(EvalError):
    def __init__(self, message: str, errors: list[LineError] | tuple[LineError, ...] = ()) -> None:
        self.errors = tuple(errors)
        shown = "".join(f"\n  - {e}" for e in self.errors[:20])
        more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"{message}{shown}{more}")


class LeakageError(EvalError):
    pass
