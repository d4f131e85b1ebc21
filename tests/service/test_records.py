"""The service's one-script writes store exactly what the plain Redis commands stored."""

from __future__ import annotations

import redis

from copilot.clock import Clock, timestamp
from copilot.feedback.records import RecordedCandidate, SuggestionLog, SuggestionRecord
from kb.storage.redis_keys import RedisKeys
from service.records import SuggestionRecords


def _record(suggestion_id: str, ts: float) -> SuggestionRecord:
    candidate = RecordedCandidate(f"{suggestion_id}:1", "亲，可以装开水哦", "agent", "kb",
                                  ("pdd-faq-01",))  # fmt: skip
    return SuggestionRecord(suggestion_id, "demo-pdd", "c-1", ts, "这个杯子能装开水吗",
                            "product_usage", 0.93, "assist", None, True, (candidate,))  # fmt: skip


def test_suggestion_records_write_what_suggestion_log_writes(
    redis_client: redis.Redis, clock: Clock
) -> None:
    now = timestamp(clock)
    logs = {"a": SuggestionLog(redis_client, prefix="a", clock=clock),
            "b": SuggestionRecords(redis_client, prefix="b", clock=clock)}  # fmt: skip
    for log in logs.values():
        log.put(_record("s_old", now - 31 * 86400))  # older than the 30-day TTL: trimmed
        log.put(_record("s_new", now))
    a, b = (
        {
            "json": redis_client.get(RedisKeys(p).suggestion("s_new")),
            "ttl": redis_client.ttl(RedisKeys(p).suggestion("s_new")),
            "index": redis_client.zrange(
                RedisKeys(p).shop("demo-pdd", "suggestions"), 0, -1, withscores=True
            ),
        }
        for p in logs
    )
    assert a["json"] == b["json"] and abs(a["ttl"] - b["ttl"]) <= 1
    assert a["index"] == b["index"] == [(b"s_new", now)]
    assert logs["b"].get("s_new") == logs["a"].get("s_new") == _record("s_new", now)
