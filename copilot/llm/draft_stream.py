"""What the agent sees while a draft streams: only text that has passed the final checks.

The model's raw pieces are held back until a clause or sentence ends; then the cleaned draft so
far is checked as a whole (the guardrails and the draft checks a final draft must pass) and
only what passed is shown. The first failure ends the draft: a later clause cannot make an
unsupported number or an off-platform contact acceptable, so the model is stopped there
(DraftRejected) instead of spending seconds on a draft no one will see. The final suggestion,
checked again in full, replaces the streamed text when it arrives.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from copilot.llm.draft_text import SENTENCE_END, DraftRejected, RejectReason, clean_draft

_BOUNDARY = SENTENCE_END + "，,；;：:\n"
# Reasons a part may be held back for without ending the draft: the whole may still pass.
_HOLD: frozenset[RejectReason | None] = frozenset({"drift", "echo"})


class GuardedStream:
    """Call with each raw piece; `emit` receives checked text, in order, as deltas, and ""
    for a piece that shows nothing yet (so a caller that wants the model stopped, the agent
    having moved on, can raise from it at once).

    `check(text)` says why the cleaned draft so far may not be shown, or None. `min_chars` keeps
    "亲，" alone from being released: the first thing shown is a clause worth reading.
    """

    def __init__(
        self,
        emit: Callable[[str], None],
        check: Callable[[str], RejectReason | None],
        *,
        question: str,
        max_chars: int,
        min_chars: int = 6,
    ) -> None:
        self._emit = emit
        self._check = check
        self._question = question
        self._max_chars = max_chars
        self._min_chars = min_chars
        self._started = time.perf_counter()
        self.raw = ""
        self.shown = ""
        self.pieces = 0
        self.first_piece_s: float | None = None
        self.first_shown_s: float | None = None

    def __call__(self, piece: str) -> None:
        if self.first_piece_s is None:
            self.first_piece_s = time.perf_counter() - self._started
        self.pieces += 1
        self.raw += piece
        shown = len(self.shown)
        if any(c in _BOUNDARY for c in piece):
            self._release()
        if len(self.shown) == shown:
            self._emit("")

    def _release(self) -> None:
        end = max(self.raw.rfind(c) for c in _BOUNDARY)  # what follows is an unfinished clause
        complete = self.raw[: end + 1]
        text = clean_draft(complete, question=self._question, max_chars=self._max_chars)
        if len(text) - len(self.shown) < self._min_chars:
            return
        if not text.startswith(self.shown):  # cleaning took back what was shown: stop there
            raise DraftRejected("cut", f"{self.shown!r} is no longer how {text!r} starts")
        if (reason := self._check(text)) in _HOLD:
            return  # too little of the material yet, or the question: more may follow
        if reason is not None:
            raise DraftRejected(reason, text)
        delta, self.shown = text[len(self.shown) :], text
        if self.first_shown_s is None:
            self.first_shown_s = time.perf_counter() - self._started
        self._emit(delta)
