"""`copilot eval live --shop S --since 7d`: acceptance measured on the service's own traffic,
from its Redis (suggestion records and the feedback stream; copilot.feedback.records,
copilot.feedback.log),
with the same rule the service's stats endpoint uses.

`export_feedback` writes the events as the calibration export (JSONL of {suggestion,
final_text, action}) that `copilot eval calibrate` reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import redis

from copilot.clock import Clock, SystemClock, timestamp
from copilot.feedback.log import FeedbackEvent, FeedbackLog, acceptance_stats, parse_since
from copilot.feedback.records import SuggestionLog, SuggestionRecord
from eval.errors import EvalError, EvalInputError
from kb.storage.redis_conn import RedisConfig, connect

_CALIBRATION_ACTIONS = frozenset({"inserted", "sent", "dismissed"})


def live_stats(
    shop_id: str,
    since: str,
    *,
    client: redis.Redis | None = None,
    redis_url: str | None = None,
    data_dir: Path | None = None,
    export: Path | None = None,
    clock: Clock = SystemClock(),  # noqa: B008  # frozen: one shared instance is safe
) -> dict[str, Any]:
    try:
        since_ts = parse_since(since, now=timestamp(clock))
    except ValueError as exc:
        raise EvalInputError(f"--since {exc}") from exc
    if client is None:
        client = connect(RedisConfig(url=redis_url, data_dir=data_dir or Path(".data")))
    try:
        records = SuggestionLog(client).recent(shop_id, since_ts)
        events = list(FeedbackLog(client).events(shop_id, since_ts))
    except (redis.RedisError, OSError) as exc:
        raise EvalError(f"cannot read the service's Redis: {exc}") from exc
    if export is not None:
        export.write_text(
            "".join(
                json.dumps(row, ensure_ascii=False) + "\n"
                for row in calibration_rows(records, events)
            ),
            encoding="utf-8",
        )
    return {"shop_id": shop_id, "since": since, **acceptance_stats(records, events)}


def calibration_rows(
    records: Sequence[SuggestionRecord], events: Iterable[FeedbackEvent]
) -> list[dict[str, str]]:
    """One row per inserted/sent/dismissed event whose suggestion is known."""
    by_id = {r.suggestion_id: r for r in records}
    rows = []
    for event in events:
        record = by_id.get(event.suggestion_id)
        if (
            record is None
            or not record.candidates
            or event.action not in ("inserted", "sent", "dismissed")
        ):
            continue
        named = [c for c in record.candidates if c.id == event.candidate_id]
        candidate = named[0] if named else record.candidates[0]
        rows.append(
            {"suggestion": candidate.text, "final_text": event.final_text, "action": event.action}
        )
    return rows
