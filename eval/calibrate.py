"""`copilot eval calibrate FEEDBACK_EXPORT`: the ROUGE-L threshold that best separates the
suggestions agents used (inserted or sent) from those they dismissed.

The export is JSONL, one suggestion an agent acted on per line:
    {"suggestion": the suggested text, "final_text": what the agent sent, "action":
     "inserted" | "sent" | "dismissed" (others, e.g. "shown", are ignored)}
The score of a line is the character ROUGE-L of suggestion and final text; the threshold
maximises balanced accuracy (the mean of the two classes' recalls, so a log that is mostly
dismissals does not push it to the top). `copilot eval run --calibration FILE` then reports
accept@k at it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from copilot.errors import LineError
from eval.errors import EvalInputError
from eval.metrics import normalize, rouge_l

POSITIVE = frozenset({"inserted", "sent"})
NEGATIVE = frozenset({"dismissed"})


def read_feedback(path: Path) -> tuple[list[tuple[float, bool]], list[LineError], int]:
    """(score, used) per usable line, the malformed lines, and the lines ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalInputError(f"cannot read {path}: {exc}") from exc
    rows, errors, ignored = [], [], 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = _row(line)
        except ValueError as exc:
            errors.append(LineError(path.name, number, str(exc)))
            continue
        if row is None:
            ignored += 1
        else:
            rows.append(row)
    return rows, errors, ignored


def _row(line: str) -> tuple[float, bool] | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    suggestion, final, action = data.get("suggestion"), data.get("final_text"), data.get("action")
    if not isinstance(suggestion, str) or not suggestion.strip():
        raise ValueError("'suggestion' must be a non-empty string")
    if not isinstance(action, str):
        raise ValueError("'action' must be a string (inserted, sent or dismissed)")
    if final is not None and not isinstance(final, str):
        raise ValueError("'final_text' must be a string")
    if action not in POSITIVE | NEGATIVE or not (final or "").strip():
        return None  # nothing to learn: another action, or no text sent to compare with
    return rouge_l(normalize(suggestion), normalize(final or "")), action in POSITIVE


def best_threshold(rows: Sequence[tuple[float, bool]]) -> dict[str, Any]:
    positives = sorted(s for s, used in rows if used)
    negatives = sorted(s for s, used in rows if not used)
    if not positives or not negatives:
        raise EvalInputError(
            f"need both used and dismissed suggestions ({len(positives)} used, "
            f"{len(negatives)} dismissed)"
        )
    scores = sorted({s for s, _ in rows})
    cuts = [scores[0]] + [(a + b) / 2 for a, b in pairwise(scores)]
    best = max(cuts, key=lambda t: (_balanced(positives, negatives, t), -t))
    return {
        "threshold": round(best, 4),
        "balanced_accuracy": round(_balanced(positives, negatives, best), 4),
        "used": len(positives),
        "dismissed": len(negatives),
    }


def _balanced(positives: Sequence[float], negatives: Sequence[float], t: float) -> float:
    tpr = sum(s >= t for s in positives) / len(positives)
    tnr = sum(s < t for s in negatives) / len(negatives)
    return (tpr + tnr) / 2


def calibrate_file(path: Path) -> dict[str, Any]:
    rows, errors, ignored = read_feedback(path)
    if not rows:
        raise EvalInputError(f"{path.name}: no usable feedback lines", errors)
    fit = best_threshold(rows)
    return {
        "thresholds": {"rouge_l": fit["threshold"]},
        "rouge_l": fit,
        "ignored_lines": ignored,
        "skipped_lines": len(errors),
        "skipped": [str(e) for e in errors[:20]],
    }
