"""Knowledge gaps: unconfident customer questions grouped by wording."""

from __future__ import annotations

from copilot.feedback.gaps import find_gaps
from copilot.feedback.records import SuggestionRecord


def _record(n: int, message: str, intent: str, confident: bool = False) -> SuggestionRecord:
    return SuggestionRecord(
        suggestion_id=f"s{n}", shop_id="demo-pdd", conversation_id=None, ts=1000.0 + n,
        customer_msg=message, intent=intent, confidence=0.5, route="assist", queue=None,
        retrieval_confident=confident,
    )  # fmt: skip


def test_similar_questions_form_one_group_largest_first() -> None:
    messages = [
        ("发什么快递", "物流"), ("能开发票吗", "发票"), ("能开发票吗？", "发票"),
        ("发什么快递", "物流"), ("可以开发票吗", "发票"), ("能开发票吗", "发票"),
        ("什么快递发货", "物流"), ("能开发票吗", "其他"),
    ]  # fmt: skip
    records = [_record(n, m, i) for n, (m, i) in enumerate(messages)]
    records.append(_record(99, "这个杯子能装开水吗", "商品咨询", confident=True))
    groups = find_gaps(records)
    assert [g.to_dict() for g in groups] == [
        {"question": "能开发票吗", "count": 5, "examples": ["可以开发票吗"], "intent": "发票"},
        {"question": "发什么快递", "count": 3, "examples": ["什么快递发货"], "intent": "物流"},
    ]


def test_confident_answers_and_empty_messages_are_no_gaps() -> None:
    records = [
        _record(1, "这个杯子能装开水吗", "商品咨询", confident=True),
        _record(2, " ", "其他"),
    ]
    assert find_gaps(records) == []
    distinct = [_record(n, m, "其他") for n, m in enumerate(["发票", "快递", "退货", "尺码"])]
    assert [g.question for g in find_gaps(distinct, limit=3)] == ["发票", "尺码", "快递"]
