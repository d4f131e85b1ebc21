"""The judged scorer against hand-computed examples, and a pool that cannot be read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.errors import EvalInputError
from eval.judged import GradedPool, judged_metrics, text_sha


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.fixture()
def pool(tmp_path: Path) -> GradedPool:
    turns = [
        {
            "id": "c1@1",
            "candidates": [{"text": "好的亲", "grade": 2}, {"text": "不知道", "grade": 0}],
        },
        {"id": "c2@3", "candidates": [{"text": "请提供订单号", "grade": 1}]},
        {"id": "c3@1", "candidates": [{"text": "再见", "grade": 0}]},
    ]
    later = [{"turn": "c3@1", "text_sha": text_sha("亲 稍等 我查一下"), "grade": 2}]
    return GradedPool.load(
        write(tmp_path / "pool.jsonl", turns), [write(tmp_path / "g.jsonl", later)]
    )


def test_judged_measures_by_hand(pool: GradedPool) -> None:
    turns = ["c1@1", "c2@3", "c3@1", "not-pooled@9"]
    offered = [
        ["不知道", "好的亲"],  # first 0, then 2: accept@3 and as-is@3 only
        ["请提供订单号"],  # 1: accept@1 and accept@3
        ["再见", "亲稍等 我查一下"],  # 0, then 2 (whitespace does not matter)
        ["whatever"],  # not in the pool: not counted
    ]
    m = judged_metrics(turns, offered, pool)
    assert m["pooled_turns"] == 3 and m["coverage"] == 1.0
    assert (m["accept_at_1"], m["accept_at_3"]) == (round(1 / 3, 4), 1.0)
    assert (m["as_is_at_1"], m["as_is_at_3"]) == (0.0, round(2 / 3, 4))
    assert (m["offered"], m["ungraded"], m["claimable"]) == (5, 0, True)


def test_an_ungraded_candidate_is_counted_and_makes_no_figure(pool: GradedPool) -> None:
    m = judged_metrics(["c1@1", "c2@3"], [["没见过的回复"], []], pool)
    assert (m["accept_at_3"], m["coverage"], m["ungraded"], m["claimable"]) == (0.0, 0.5, 1, False)
    assert m["ungraded_share"] == 1.0


def test_a_bad_pool_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "pool.jsonl"
    bad.write_text('{"id": "c1@1", "candidates": []}\nnot json\n', encoding="utf-8")
    with pytest.raises(EvalInputError, match=r"pool.jsonl, line 2: not JSON"):
        GradedPool.load(bad)


def test_what_rests_on_a_holding_reply(tmp_path: Path) -> None:
    from copilot.templates import HOLDING_BEFORE_PURCHASE as HOLD

    turns = [
        {"id": "h1@1", "candidates": [{"text": HOLD, "grade": 2}, {"text": "再见", "grade": 0}]},
        {"id": "h2@1", "candidates": [{"text": HOLD, "grade": 1}, {"text": "包邮的", "grade": 2}]},
        {"id": "h3@1", "candidates": [{"text": "包邮的", "grade": 1}, {"text": HOLD, "grade": 2}]},
    ]
    graded = GradedPool.load(write(tmp_path / "pool.jsonl", turns))
    offered = [[HOLD, "再见"], [HOLD, "包邮的"], ["包邮的", HOLD]]
    m = judged_metrics(["h1@1", "h2@1", "h3@1"], offered, graded)
    assert m["accept_at_1"] == 1.0 and m["led_by_holding"] == round(2 / 3, 4)
    assert m["accept_at_3_answers"] == round(2 / 3, 4)  # h1 was accepted for its holding only
