"""`copilot eval compare RUN_A RUN_B`: B minus A over the turns both runs replayed, each delta
with a paired bootstrap 95% interval (resampling turns)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from eval.errors import EvalInputError
from eval.metrics import ACCEPT, ACCEPT_LOOSE, TurnScores, accepted, paired_delta, score_turns
from eval.types import TurnRecord


def read_run(folder: Path) -> dict[tuple[str, int], TurnRecord]:
    path = folder / "turns.jsonl"
    if not path.exists():
        raise EvalInputError(f"{folder} is not a run folder: no turns.jsonl")
    records = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = TurnRecord.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalInputError(f"{path}, line {number}: not a turn record ({exc})") from exc
        records[record.key] = record
    return records


_PER_TURN = {
    "coverage": lambda s: bool(s.rouge),
    "accept_at_1": lambda s: accepted(s.rouge, 1, ACCEPT),
    "accept_at_3": lambda s: accepted(s.rouge, 3, ACCEPT),
    "accept_at_3_rl03": lambda s: accepted(s.rouge, 3, ACCEPT_LOOSE),
    "jddc_bleu": lambda s: s.bleu,
}


def compare_runs(run_a: Path, run_b: Path, *, resamples: int = 1000) -> dict[str, Any]:
    a, b = read_run(run_a), read_run(run_b)
    common = sorted(a.keys() & b.keys())
    if not common:
        raise EvalInputError(f"{run_a} and {run_b} share no replayed turn")
    scores_a = _scores([a[k] for k in common])
    scores_b = _scores([b[k] for k in common])
    result: dict[str, Any] = {
        "turns": len(common), "only_a": len(a) - len(common), "only_b": len(b) - len(common),
    }  # fmt: skip
    for name, value in _PER_TURN.items():
        va, vb = [value(s) for s in scores_a], [value(s) for s in scores_b]
        delta = paired_delta(vb, va, resamples=resamples)
        result[name] = {"a": _mean(va), "b": _mean(vb), **delta}
    total_a = [a[k].latency_ms.get("total", 0.0) for k in common]
    total_b = [b[k].latency_ms.get("total", 0.0) for k in common]
    result["latency_total_p50_ms"] = {
        "a": round(float(np.percentile(total_a, 50)), 2),
        "b": round(float(np.percentile(total_b, 50)), 2),
    }
    return result


def _scores(records: list[TurnRecord]) -> list[TurnScores]:
    return score_turns([r.texts for r in records], [r.references for r in records])


def _mean(values: list[Any]) -> float:
    return round(float(np.mean(values)), 4) if values else 0.0
