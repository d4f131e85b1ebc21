"""The demo shops' chats replayed with the LLM on: each source's candidates, draft timings, and a
blind sheet of what no grade covers yet.

    PYTHONPATH=. python bench/demo_drafts.py run OUT_DIR [--sheet SHEET_DIR] [--grades G.jsonl]
    PYTHONPATH=. python bench/demo_drafts.py score OUT_DIR --grades bench/judged/demo_drafts.jsonl

Every customer turn of kb/demo/*/chats.jsonl that the agent answered is suggested for, with the
turns before it as context, on the demo shops loaded into a throwaway Redis on the test day.
OUT_DIR/turns.jsonl holds each turn's candidates with their source and the draft's timings.
The sheet is in the judging kit's format (../shared/judging/judging.py: sheet.md, key.json, ids
`item.candidate`), shuffled, never saying which source wrote what; `judging.py grades SHEET_DIR
JUDGED.jsonl` turns the judge's lines into hash-and-grade lines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import common  # noqa: F401 - sets HF_HUB_OFFLINE before transformers is imported

from copilot.types import Conversation, Turn
from service.settings import Settings
from service.wiring import build_knowledge_base, build_suggester, load_demo

DEMO = Path(__file__).resolve().parent.parent / "kb" / "demo"
TEST_DAY = "2026-12-06"  # the day the demo chats' dates are read on (tests/dates.py's)


def sha(text: str) -> str:
    """The judging kit's key of a candidate: sha256 of its text without whitespace, 16 hex."""
    return hashlib.sha256("".join(text.split()).encode("utf-8")).hexdigest()[:16]


def demo_turns() -> list[tuple[str, Conversation, str]]:
    """(turn id, the conversation up to a customer turn, the reply the agent sent)."""
    out = []
    for path in sorted(DEMO.glob("*/chats.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            chat = json.loads(line)
            turns = [Turn(t["role"], t["text"]) for t in chat["turns"]]
            for i, turn in enumerate(turns[:-1]):
                if turn.role == "customer" and turns[i + 1].role == "agent":
                    context = Conversation(chat["shop_id"], tuple(turns[: i + 1]))
                    out.append((f"{chat['conversation_id']}@{i + 1}", context, turns[i + 1].text))
    return out


def run(args: argparse.Namespace) -> None:
    from datetime import date

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), today=date.fromisoformat(TEST_DAY),
                            llm_first_token_timeout=args.timeout,
                            llm_total_timeout=4 * args.timeout)  # fmt: skip
        knowledge = build_knowledge_base(settings)
        load_demo(knowledge, today=date.fromisoformat(TEST_DAY))
        suggester = build_suggester(settings, knowledge)
        suggester.warm_up()
        rows = [_replay(suggester, *turn) for turn in demo_turns()]
    with (out / "turns.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    _print_summary(rows, _grades(args.grades))
    if args.sheet:
        print(f"sheet: {_sheet(Path(args.sheet), rows, _grades(args.grades))} candidates")


def _replay(suggester: Any, turn: str, conversation: Conversation, actual: str) -> dict[str, Any]:
    out = suggester.suggest(conversation)
    return {
        "turn": turn, "shop": conversation.shop_id, "actual_reply": actual,
        "context": [{"role": t.role, "text": t.text} for t in conversation.turns],
        "candidates": [{"text": c.text, "source": c.source.kind} for c in out.candidates],
        "degraded": list(out.degraded), "timings_ms": out.timings_ms,
    }  # fmt: skip


def _grades(paths: list[str] | None) -> dict[tuple[str, str], int]:
    grades = {}
    for path in paths or ():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            grades[(row["turn"], row["text_sha"])] = int(row["grade"])
    return grades


def _print_summary(rows: list[dict[str, Any]], grades: dict[tuple[str, str], int]) -> None:
    by_source: dict[str, list[int | None]] = defaultdict(list)
    for row in rows:
        firsts: dict[str, str] = {}
        for c in row["candidates"]:
            firsts.setdefault(c["source"], c["text"])
        for source, text in firsts.items():
            by_source[source].append(grades.get((row["turn"], sha(text))))
    print(f"turns {len(rows)}")
    for source, marks in sorted(by_source.items()):
        known = [g for g in marks if g is not None]
        rates = (f"accept {sum(g >= 1 for g in known) / len(known):.3f} as-is "
                 f"{sum(g == 2 for g in known) / len(known):.3f}") if known else "no grades"  # fmt: skip
        print(f"  {source}: offered on {len(marks)} turns, graded {len(known)}; {rates}")
    degraded = defaultdict(int)
    for row in rows:
        for code in row["degraded"]:
            degraded[code] += 1
    print("  degraded:", dict(sorted(degraded.items())))
    for stage in ("llm_first_token", "llm_first_shown", "llm"):
        values = [r["timings_ms"][stage] for r in rows if stage in r["timings_ms"]]
        if values:
            print(f"  {stage}: n={len(values)} p50 {statistics.median(values):.0f} ms "
                  f"max {max(values):.0f} ms")  # fmt: skip


def _sheet(out: Path, rows: list[dict[str, Any]], grades: dict[tuple[str, str], int]) -> int:
    rng = random.Random(0)
    out.mkdir(parents=True, exist_ok=True)
    lines, key = ["# Judging sheet (see RUBRIC.md)", ""], {}
    for k, row in enumerate(r for r in rows if _ungraded(r, grades)):
        shown = list(dict.fromkeys(c["text"].strip() for c in row["candidates"]))
        rng.shuffle(shown)
        lines.append(f"## item {k}")
        for turn in row["context"][-7:-1]:
            lines.append(f"- {'顾客' if turn['role'] == 'customer' else '客服'}: {turn['text']}")
        lines += [f"- 顾客 (latest): {row['context'][-1]['text']}", "candidates:"]
        for j, text in enumerate(shown):
            key[f"{k}.{j}"] = {"turn": row["turn"], "text_sha": sha(text)}
            lines.append(f"  [{k}.{j}] {' '.join(text.split())}")
        lines.append("")
    (out / "sheet.md").write_text("\n".join(lines), encoding="utf-8")
    (out / "key.json").write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    return len(key)


def _ungraded(row: dict[str, Any], grades: dict[tuple[str, str], int]) -> bool:
    return any((row["turn"], sha(c["text"])) not in grades for c in row["candidates"])


def score(args: argparse.Namespace) -> None:
    path = Path(args.out_dir) / "turns.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    _print_summary(rows, _grades(args.grades))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out_dir")
    r.add_argument("--sheet", help="write a blind sheet of the ungraded candidates here")
    r.add_argument("--grades", nargs="*")
    r.add_argument("--timeout", type=float, default=2.0, help="first-token timeout, seconds")
    r.set_defaults(fn=run)
    s = sub.add_parser("score")
    s.add_argument("out_dir")
    s.add_argument("--grades", nargs="*")
    s.set_defaults(fn=score)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
