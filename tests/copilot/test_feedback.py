"""Feedback events in a real Redis stream, and acceptance stats checked against hand counts."""

from __future__ import annotations

from datetime import datetime

import pytest
import redis

from copilot.clock import CHINA
from copilot.feedback import log as feedback
from copilot.feedback.log import (
    FeedbackEvent,
    FeedbackLog,
    acceptance_stats,
    edit_distance,
    parse_since,
)
from copilot.feedback.records import (
    RecordedCandidate,
    SuggestionRecord,
    record_from_dict,
    record_to_dict,
    recorded_agent_turn,
)
from copilot.types import Conversation, Turn
from kb.storage.redis_keys import KEYS

DAY1 = datetime(2026, 11, 2, 10, 0, tzinfo=CHINA).timestamp()
# 01:00 China time on 11-03 is still 11-02 in UTC: days are counted in China time.
DAY2 = datetime(2026, 11, 3, 1, 0, tzinfo=CHINA).timestamp()


def _record(
    sid: str, ts: float, intent: str, route: str, *candidates: tuple[str, str]
) -> SuggestionRecord:
    return SuggestionRecord(
        suggestion_id=sid,
        shop_id="demo-pdd",
        conversation_id=f"c-{sid}",
        ts=ts,
        customer_msg="能开发票吗",
        intent=intent,
        confidence=0.8,
        route=route,
        queue=None,
        retrieval_confident=False,
        candidates=tuple(
            RecordedCandidate(f"{sid}:{n}", text, "answer", source)
            for n, (text, source) in enumerate(candidates, start=1)
        ),
    )


def _event(
    sid: str, action: str, ts: float, cid: int | None = None, text: str = "", ms: int | None = None
) -> FeedbackEvent:
    return FeedbackEvent(sid, f"{sid}:{cid}" if cid else None, "demo-pdd", action, text, ms, ts)  # type: ignore[arg-type]


def test_edit_distance_is_normalised_by_the_longer_text() -> None:
    assert edit_distance("可以开发票的亲", "可以开发票的亲") == 0.0
    assert edit_distance("可以开发票的亲", "可以开发票的亲~") == pytest.approx(1 / 8)
    assert edit_distance("今天发货", "明天发货") == pytest.approx(1 / 4)
    assert edit_distance("今天发货", "明日寄出") == 1.0
    # Full-width letters, case and spaces do not count as edits.
    assert edit_distance("ＯＫ 亲", "ok亲") == 0.0
    assert edit_distance("", "") == 0.0 and edit_distance("", "亲") == 1.0


def test_stats_match_a_hand_count() -> None:
    records = [
        _record(
            "r1",
            DAY1,
            "发票",
            "assist",
            ("可以开发票的亲", "kb"),
            ("亲亲可以开具发票哦", "history"),
        ),
        _record(
            "r2", DAY1 + 60, "发票", "assist", ("可以开发票的亲", "kb"), ("开票请联系客服", "llm")
        ),
        _record("r3", DAY1 + 120, "物流", "auto", ("今天发货", "history")),
        _record("r4", DAY2, "物流", "auto", ("今天发货", "kb")),
        _record("r5", DAY2 + 60, "发票", "assist", ("可以开发票的亲", "kb")),  # never shown
        _record("r6", DAY2 + 120, "发票", "handoff", ("稍等亲", "kb"), ("马上为您转接", "history")),
    ]
    events = [
        _event("r1", "shown", DAY1 + 1),
        _event("r1", "inserted", DAY1 + 2, cid=1),
        _event("r1", "sent", DAY1 + 3, cid=1, text="可以开发票的亲~", ms=5000),  # 1/8: accepted
        _event("r2", "shown", DAY1 + 61),
        _event("r2", "dismissed", DAY1 + 62),
        _event("r3", "inserted", DAY1 + 121, cid=1),  # inserted, then rewritten: not accepted
        _event("r3", "edited", DAY1 + 122, cid=1),
        _event("r3", "sent", DAY1 + 123, text="明日寄出"),
        _event("r4", "sent", DAY2 + 1, cid=1, ms=3000),  # sent as suggested: distance 0
        _event("r6", "inserted", DAY2 + 121, cid=2),  # inserted, nothing sent yet: accepted
        _event("gone", "sent", DAY2 + 200, text="过期的建议"),
    ]
    stats = acceptance_stats(records, events)
    assert {k: stats[k] for k in ("suggestions", "shown", "inserted", "sent", "edited",
                                   "dismissed", "accepted", "unmatched_events")} == {
        "suggestions": 6, "shown": 5, "inserted": 3, "sent": 3, "edited": 1, "dismissed": 1,
        "accepted": 3, "unmatched_events": 1,
    }  # fmt: skip
    assert stats["acceptance_rate"] == 0.6
    assert stats["mean_edit_distance"] == pytest.approx((0.125 + 1.0 + 0.0) / 3, abs=1e-4)
    assert stats["mean_ms_to_send"] == 4000
    assert stats["by_intent"] == {
        "发票": {"shown": 3, "accepted": 2, "rate": 0.6667},
        "物流": {"shown": 2, "accepted": 1, "rate": 0.5},
    }
    assert stats["by_route"] == {
        "assist": {"shown": 2, "accepted": 1, "rate": 0.5},
        "auto": {"shown": 2, "accepted": 1, "rate": 0.5},
        "handoff": {"shown": 1, "accepted": 1, "rate": 1.0},
    }
    assert stats["by_source"] == {
        "history": {"shown": 3, "accepted": 1, "rate": 0.3333},
        "kb": {"shown": 4, "accepted": 2, "rate": 0.5},
        "llm": {"shown": 1, "accepted": 0, "rate": 0.0},
    }
    assert stats["by_day"] == [
        {"day": "2026-11-02", "shown": 3, "accepted": 1, "rate": 0.3333},
        {"day": "2026-11-03", "shown": 2, "accepted": 2, "rate": 1.0},
    ]


def test_a_sent_text_without_a_candidate_id_is_compared_with_the_nearest_candidate() -> None:
    record = _record("r1", DAY1, "发票", "assist", ("稍等亲", "kb"), ("可以开发票的亲", "history"))
    stats = acceptance_stats([record], [_event("r1", "sent", DAY1 + 1, text="可以开发票的亲!")])
    assert stats["accepted"] == 1 and stats["by_source"]["history"]["accepted"] == 1
    assert stats["mean_edit_distance"] == pytest.approx(1 / 8)


def test_no_events_gives_zero_rates_not_errors() -> None:
    stats = acceptance_stats([_record("r1", DAY1, "发票", "assist", ("稍等亲", "kb"))], [])
    assert stats["shown"] == 0 and stats["acceptance_rate"] == 0.0
    assert stats["mean_edit_distance"] is None and stats["by_day"] == []


def test_log_masks_final_texts_and_reads_back_since_a_time(redis_client: redis.Redis) -> None:
    log = FeedbackLog(redis_client)
    log.append(_event("r1", "shown", 1000.0))
    entry_id = log.append(
        _event("r1", "sent", 2000.0, cid=1, text="好的，寄到13812345678，收件人张三", ms=4200)
    )
    assert entry_id.count("-") == 1
    raw = redis_client.xrange(KEYS.shop("demo-pdd", "feedback"))
    assert b"13812345678" not in raw[-1][1][b"text"] and "张三" not in raw[-1][1][b"text"].decode()
    events = list(log.events("demo-pdd"))
    assert [e.action for e in events] == ["shown", "sent"]
    sent = events[1]
    assert sent.final_text.startswith("好的，寄到138****5678") and sent.ms_to_send == 4200
    assert sent.candidate_id == "r1:1" and sent.ts == 2000.0 and sent.shop_id == "demo-pdd"
    assert [e.action for e in log.events("demo-pdd", since_ts=1500.0)] == ["sent"]
    assert list(log.events("demo-ks")) == []


def test_events_are_read_in_pages(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feedback, "_PAGE", 2)
    log = FeedbackLog(redis_client)
    for n in range(5):
        log.append(_event(f"r{n}", "shown", 100.0 + n))
    assert [e.suggestion_id for e in log.events("demo-pdd")] == [f"r{n}" for n in range(5)]


def test_since_accepts_days_hours_and_dates() -> None:
    now = 1_800_000_000.0
    assert parse_since("7d", now=now) == now - 7 * 86400
    assert parse_since("24h", now=now) == now - 86400
    assert parse_since(None, now=now) == now - 7 * 86400
    assert parse_since("2026-11-01", now=now) == datetime(2026, 11, 1, tzinfo=CHINA).timestamp()
    for bad in ("last week", "99999999d", "0001-01-01", "-7d"):
        with pytest.raises(ValueError, match="7d"):
            parse_since(bad, now=now)


def test_a_replayed_event_counts_once(redis_client: redis.Redis) -> None:
    log = FeedbackLog(redis_client)
    first = log.append(_event("r9", "inserted", 100.0, cid=1))
    replays = [log.append(_event("r9", "inserted", 101.0 + n, cid=1)) for n in range(20)]
    assert first and replays == [""] * 20
    log.append(_event("r9", "sent", 130.0, cid=1))  # another action of the same candidate counts
    assert [e.action for e in log.events("demo-pdd")] == ["inserted", "sent"]


def test_a_record_keeps_the_agent_turn_masked_for_the_selector() -> None:
    """The reply selector reads the agent's turn beside the message; feedback rows carry it."""
    conversation = Conversation("s1", (
        Turn("customer", "在吗"), Turn("agent", "在的亲，"), Turn("agent", "手机号是13812345678吗"),
        Turn("customer", "是的"),
    ))  # fmt: skip
    agent_turn = recorded_agent_turn(conversation)
    assert "13812345678" not in agent_turn and agent_turn.startswith("在的亲")
    record = SuggestionRecord("sid", "s1", None, DAY1, "是的", "other", 0.5, "suggest", None, True,
                              (RecordedCandidate("sid:1", "好的", "answer", "history"),),
                              agent_turn)  # fmt: skip
    assert record_from_dict(record_to_dict(record)) == record
    old = record_to_dict(record)
    del old["agent_turn"]  # a record written before the field: still readable
    assert record_from_dict(old).agent_turn == ""
