"""The grounded candidates in the order they are offered: best first, a near-duplicate of one
kept dropped, and the trainer's emphasis ("黑色缺货!! 预计12月12号到") left out of what the
customer would read."""

from __future__ import annotations

import re
from dataclasses import replace

from copilot.grounding.catalog import dice
from copilot.types import Candidate

_EMPHASIS = re.compile(r"\s*[!！]{2,}\s*")
_LEADING_EMPHASIS = re.compile(
    r"(^|[：:，,；;（(])\s*[!！]{2,}\s*|\s*[!！]{2,}\s*(?=[；;，,。)）]|$)"
)


def _unemphasised(text: str) -> str:
    """The trainer's emphasis out of a reply: "黑色缺货!! 预计12月12号到" reads
    "黑色缺货！预计12月12号到" (one mark, still a clause break)."""
    return _EMPHASIS.sub("！", _LEADING_EMPHASIS.sub(r"\1", text))


def best_first(candidates: list[Candidate]) -> list[Candidate]:
    """Best first, near-duplicates dropped, the trainer's emphasis (黑色缺货!!) left out of
    what the customer would read."""
    kept: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: -c.score):
        if _EMPHASIS.search(candidate.text):
            candidate = replace(candidate, text=_unemphasised(candidate.text))
        if all(dice(candidate.text, k.text) < 0.8 for k in kept):
            kept.append(candidate)
    return kept
