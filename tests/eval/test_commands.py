"""`copilot eval calibrate`, `compare` and `live` (no models: real Redis, hand-written runs)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from cli import app
from copilot.feedback.log import FeedbackEvent, FeedbackLog
from copilot.feedback.records import RecordedCandidate, SuggestionLog, SuggestionRecord
from eval.calibrate import calibrate_file
from eval.compare import compare_runs
from eval.errors import EvalInputError
from eval.live import live_stats

runner = CliRunner()


def _feedback(rows: list[object]) -> str:
    return (
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
        + "\n"
    )


def test_calibrate_fits_a_threshold_and_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text(_feedback([
        {"suggestion": "亲，付款后48小时内发货哦", "final_text": "亲，付款后48小时内发货哦", "action": "sent"},
        {"suggestion": "亲，支持七天无理由退货", "final_text": "亲，支持七天无理由退货的", "action": "inserted"},
        {"suggestion": "亲，默认发中通快递", "final_text": "您好，今天下午就给您安排", "action": "dismissed"},
        {"suggestion": "亲，可以开电子发票", "final_text": "稍等我帮您问问仓库", "action": "dismissed"},
        {"suggestion": "亲，在的", "final_text": "", "action": "shown"},
        "{broken",
        {"final_text": "没有建议", "action": "sent"},
    ]), encoding="utf-8")  # fmt: skip
    result = calibrate_file(path)
    assert 0 < result["thresholds"]["rouge_l"] <= 1
    assert result["rouge_l"]["balanced_accuracy"] == 1.0
    assert result["ignored_lines"] == 1 and result["skipped_lines"] == 2
    assert any("line 6" in s for s in result["skipped"])
    assert any("line 7" in s and "suggestion" in s for s in result["skipped"])

    out = tmp_path / "thresholds.json"
    cli = runner.invoke(app, ["eval", "calibrate", str(path), "--out", str(out)])
    assert cli.exit_code == 0, cli.output
    assert json.loads(out.read_text(encoding="utf-8"))["thresholds"] == result["thresholds"]


def test_calibrate_needs_both_classes(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    path.write_text(
        _feedback([{"suggestion": "好的", "final_text": "好的", "action": "sent"}]),
        encoding="utf-8",
    )
    with pytest.raises(EvalInputError, match="dismissed"):
        calibrate_file(path)
    cli = runner.invoke(app, ["eval", "calibrate", str(path)])
    assert cli.exit_code == 1


def _run(folder: Path, top: list[str]) -> Path:
    folder.mkdir()
    replies = [
        "亲，付款后48小时内发货哦",
        "亲，支持七天无理由退货",
        "亲，默认发中通快递",
        "亲，可以开电子发票",
    ]
    lines = []
    for n, (reply, text) in enumerate(zip(replies, top, strict=True)):
        lines.append(json.dumps({
            "conversation_id": f"c{n}", "turn_index": 1, "customer_msg": "问题", "actual_reply": reply,
            "alt_replies": [], "candidates": [{"text": text, "role": "answer", "source": "history", "score": 1.0}] if text else [],
            "intent": "other", "intent_confidence": 0.5, "route": "assist", "latency_ms": {"total": 10.0 + n},
        }, ensure_ascii=False))  # fmt: skip
    (folder / "turns.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_compare_gives_paired_deltas(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", ["亲，付款后48小时内发货哦", "", "不知道", ""])
    b = _run(
        tmp_path / "b",
        ["亲，付款后48小时内发货哦", "亲，支持七天无理由退货", "亲，默认发中通快递", ""],
    )
    result = compare_runs(a, b)
    assert result["turns"] == 4
    assert result["accept_at_1"]["a"] == 0.25 and result["accept_at_1"]["b"] == 0.75
    assert result["accept_at_1"]["delta"] == 0.5
    low, high = result["accept_at_1"]["ci"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert result["coverage"]["delta"] == 0.25
    cli = runner.invoke(app, ["eval", "compare", str(a), str(b)])
    assert cli.exit_code == 0 and json.loads(cli.stdout)["accept_at_1"]["delta"] == 0.5
    assert runner.invoke(app, ["eval", "compare", str(a), str(tmp_path)]).exit_code == 1


def test_live_reads_the_service_feedback_stream(redis_client: redis.Redis, tmp_path: Path) -> None:
    now = time.time()
    log, feedback = SuggestionLog(redis_client), FeedbackLog(redis_client)
    for n, (action, final) in enumerate(
        [("sent", "亲，付款后48小时内发货哦"), ("dismissed", "我帮您问问")]
    ):
        sid = f"s{n}"
        log.put(SuggestionRecord(sid, "demo-pdd", f"c{n}", now - 60, "什么时候发货", "shipping_time", 0.9,
                                 "assist", None, True,
                                 (RecordedCandidate(f"{sid}:1", "亲，付款后48小时内发货哦", "answer", "history"),)))  # fmt: skip
        feedback.append(FeedbackEvent(sid, f"{sid}:1", "demo-pdd", action, final, 3000, now - 30))  # type: ignore[arg-type]
    export = tmp_path / "export.jsonl"
    stats = live_stats("demo-pdd", "7d", client=redis_client, export=export)
    assert stats["shown"] == 2 and stats["accepted"] == 1 and stats["acceptance_rate"] == 0.5
    rows = [json.loads(x) for x in export.read_text(encoding="utf-8").splitlines()]
    assert [r["action"] for r in rows] == ["sent", "dismissed"]
    assert calibrate_file(export)["rouge_l"]["balanced_accuracy"] == 1.0
    with pytest.raises(EvalInputError, match="since"):
        live_stats("demo-pdd", "last week", client=redis_client)
