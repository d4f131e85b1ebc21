"""Judged acceptance: what blind graders said an agent would do with each offered candidate.

A graded pool holds turns (`conversation_id@turn_index`) and candidates with grades 0/1/2 (would
not use / send after a small edit / send as is; ../shared/judging/RUBRIC.md). Grades made since
come as lines `{"turn", "text_sha", "grade"}` (bench/judged/*.jsonl). A candidate is known by the
sha256 of its text with all whitespace removed (16 hex digits), as the judging kit keys it.

Per system, over the pooled turns the run replayed: accept@1 (the first candidate is graded >= 1),
accept@3 (any of the first three is), as-is@1 and as-is@3 (the same with grade 2), coverage, and
the offered candidates no grade covers. A figure is only claimed when that count is 0: an
ungraded candidate counts as not accepted, so an ungraded share makes the figures a floor.
Beside them, how much rests on a holding reply (稍等，这边帮您确认一下: a real next step, but
no answer): the share of turns it leads, and accept@3 from the other candidates alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.templates import HOLDING_REPLIES
from eval.errors import EvalInputError


def text_sha(text: str) -> str:
    return hashlib.sha256("".join(text.split()).encode("utf-8")).hexdigest()[:16]


def turn_id(conversation_id: str, turn_index: int) -> str:
    return f"{conversation_id}@{turn_index}"


@dataclass(frozen=True)
class GradedPool:
    turns: frozenset[str]
    grades: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def load(cls, pool: Path, extra: Iterable[Path] = ()) -> GradedPool:
        turns, grades = set(), {}
        for n, row in _rows(pool):
            try:
                turns.add(row["id"])
                for candidate in row["candidates"]:
                    grades[(row["id"], text_sha(candidate["text"]))] = int(candidate["grade"])
            except (KeyError, TypeError, ValueError) as exc:
                raise EvalInputError(f"{pool.name}, line {n}: not a graded turn ({exc})") from None
        for path in extra:
            for n, row in _rows(path):
                try:
                    grades[(row["turn"], row["text_sha"])] = int(row["grade"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise EvalInputError(f"{path.name}, line {n}: not a grade ({exc})") from None
        return cls(frozenset(turns), grades)


def _rows(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for n, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalInputError(f"{path.name}, line {n}: not JSON ({exc.msg})") from None


def judged_metrics(
    turns: Sequence[str], candidates: Sequence[Sequence[str]], pool: GradedPool
) -> dict[str, Any]:
    """The judged measures of one system's candidates (see the module docstring)."""
    n = offered = ungraded = covered = a1 = a3 = s1 = s3 = held = answered = 0
    for turn, texts in zip(turns, candidates, strict=True):
        if turn not in pool.turns:
            continue
        n += 1
        marks = []
        for text in list(texts)[:3]:
            grade = pool.grades.get((turn, text_sha(text)))
            offered += 1
            ungraded += grade is None
            marks.append(grade or 0)
        covered += bool(marks)
        a1 += bool(marks) and marks[0] >= 1
        s1 += bool(marks) and marks[0] == 2
        a3 += bool(marks) and max(marks) >= 1
        s3 += bool(marks) and max(marks) == 2
        held += bool(marks) and texts[0] in HOLDING_REPLIES
        answered += any(
            m >= 1 for m, t in zip(marks, texts, strict=False) if t not in HOLDING_REPLIES
        )
    share = round(ungraded / offered, 4) if offered else 0.0
    return {
        "pooled_turns": n,
        "coverage": round(covered / n, 4) if n else None,
        "accept_at_1": round(a1 / n, 4) if n else None,
        "accept_at_3": round(a3 / n, 4) if n else None,
        "as_is_at_1": round(s1 / n, 4) if n else None,
        "as_is_at_3": round(s3 / n, 4) if n else None,
        "led_by_holding": round(held / n, 4) if n else None,
        "accept_at_3_answers": round(answered / n, 4) if n else None,
        "offered": offered,
        "ungraded": ungraded,
        "ungraded_share": share,
        "claimable": n > 0 and ungraded == 0,
    }
