"""Judged acceptance by source, and the draft gate measured from it.

On the pooled turns a run replayed, each source (kb, history, template, llm) is judged by the
first candidate it offered there: accept (grade >= 1) and as-is (grade 2) rates. The draft is
set beside the retrieval candidates offered on the same turns, overall and per intent; where it
did at least as well on enough graded turns, drafts are shown (copilot/draft_gate.py reads the
file `draft_gate` returns).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from eval.judged import GradedPool, text_sha, turn_id
from eval.types import TurnRecord

SOURCES = ("kb", "history", "template", "llm")
MIN_GATE_TURNS = 5  # fewer graded draft turns of an intent: not measured, so not shown


def judged_by_source(records: Sequence[TurnRecord], pool: GradedPool) -> dict[str, Any]:
    """Each source's rates, and the draft against retrieval on the turns it drafted."""
    out: dict[str, Any] = {}
    for source in SOURCES:
        grades = [
            pool.grades.get((turn, text_sha(own[0])))
            for turn, record in _pooled(records, pool)
            if (own := [c.text for c in record.candidates[:3] if c.source == source])
        ]
        out[source] = _rates(grades)
    out["llm_vs_retrieval"] = _draft_versus_retrieval(records, pool)
    return out


def draft_gate(by_source: dict[str, Any], min_turns: int = MIN_GATE_TURNS) -> dict[str, Any]:
    """The gate file: intents whose drafts were judged at least as often sendable as is as the
    retrieval candidates beside them, on min_turns graded turns or more."""
    by_intent = by_source.get("llm_vs_retrieval", {}).get("by_intent", {})
    return {"shown": gate_shown(by_intent, min_turns), "min_turns": min_turns,
            "measured": by_intent}  # fmt: skip


def gate_shown(by_intent: dict[str, Any], min_turns: int = MIN_GATE_TURNS) -> list[str]:
    """The intents where drafts earned their slot: on min_turns graded turns or more, as often
    sendable as is as the retrieval candidates beside them, and, where grades say which
    candidates hold a fact the KB does not (the unseen shops' do), no more often."""
    return sorted(
        intent
        for intent, row in by_intent.items()
        if row["draft"]["graded"] >= min_turns
        and row["draft"]["as_is"] is not None
        and row["retrieval"]["as_is"] is not None
        and row["draft"]["as_is"] >= row["retrieval"]["as_is"]
        and row["draft"].get("unsupported", 0) <= row["retrieval"].get("unsupported", 0)
    )


def _draft_versus_retrieval(records: Sequence[TurnRecord], pool: GradedPool) -> dict[str, Any]:
    draft: dict[str, list[int | None]] = defaultdict(list)
    retrieval: dict[str, list[int | None]] = defaultdict(list)
    for turn, record in _pooled(records, pool):
        offered = record.candidates[:3]
        drafts = [c.text for c in offered if c.source == "llm"]
        if not drafts:
            continue
        draft[record.intent].append(pool.grades.get((turn, text_sha(drafts[0]))))
        retrieval[record.intent] += [
            pool.grades.get((turn, text_sha(c.text))) for c in offered if c.source != "llm"
        ]
    every = [g for grades in draft.values() for g in grades]
    beside = [g for grades in retrieval.values() for g in grades]
    return {
        "draft": _rates(every),
        "retrieval": _rates(beside),
        "by_intent": {
            intent: {"draft": _rates(draft[intent]), "retrieval": _rates(retrieval[intent])}
            for intent in sorted(draft)
        },
    }


def _pooled(records: Sequence[TurnRecord], pool: GradedPool) -> Iterable[tuple[str, TurnRecord]]:
    for record in records:
        turn = turn_id(*record.key)
        if turn in pool.turns:
            yield turn, record


def _rates(grades: Sequence[int | None]) -> dict[str, Any]:
    """Rates over the graded ones; `ungraded` says how many are missing (then: no figure)."""
    known = [g for g in grades if g is not None]
    n = len(known)
    return {
        "offered": len(grades),
        "graded": n,
        "ungraded": len(grades) - n,
        "accept": round(sum(g >= 1 for g in known) / n, 4) if n else None,
        "as_is": round(sum(g == 2 for g in known) / n, 4) if n else None,
    }
