"""Replay turns through the very pipeline the service runs (copilot.build, the service's wiring)
and record what it suggested.

    with replay_pipeline(config, shop, train, labels) as suggester:
        records = replay(suggester, items, DIR / "turns.jsonl", use_llm=False, workers=2)

The pipeline runs on its own Redis (an embedded one in a temporary folder unless the config
names a server) with the bank under the "evalhist" prefix, so an eval never replaces a shop's
live bank. A demo shop gets its knowledge base and policy; any other shop replays on history
(and LLM drafts) alone, as a shop with chat logs but no KB would.

turns.jsonl is appended and flushed turn by turn, so an interrupted run resumes where it
stopped (a half-written last line is dropped); at the end it is rewritten in replay order, so
the same seed gives the same file.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from copilot.build import PipelineConfig, build_knowledge_base, build_suggester
from copilot.clock import today
from copilot.history.chatlogs import TurnKey
from copilot.pipeline import Suggester
from copilot.types import Candidate, Conversation, Suggestion
from eval.errors import EvalInputError
from eval.types import ReplayedCandidate, ReplayItem, TurnRecord
from kb.storage.redis_conn import RedisConfig, close

EVAL_PREFIX = "evalhist"


@contextmanager
def replay_pipeline(
    config: PipelineConfig,
    shop_id: str,
    train: Sequence[Conversation],
    labels: Mapping[TurnKey, Mapping[str, Any]],
    *,
    progress: bool = False,
    selector: bool = False,
) -> Iterator[Suggester]:
    """A warmed-up Suggester whose history bank holds the train chats only; `selector`: with
    a reply selector learned from that bank (eval.selector)."""
    with tempfile.TemporaryDirectory(prefix="copilot-eval-", ignore_cleanup_errors=True) as scratch:
        if config.redis.url is None:
            config = dataclasses.replace(config, redis=RedisConfig(data_dir=Path(scratch)))
        config = dataclasses.replace(config, history_prefix=EVAL_PREFIX)
        kb = build_knowledge_base(config)
        _load_demo_shop(kb, shop_id, today(config.clock))
        suggester = build_suggester(config, kb)
        suggester.warm_up()
        if train and suggester.history is not None:
            report = suggester.history.import_conversations(  # type: ignore[attr-defined]
                shop_id, train, labels=labels, progress=progress
            )
            if selector:
                from eval.selector import train_selector

                train_selector(
                    suggester.history, shop_id, report.version, clock=config.clock,
                    progress=progress,
                )  # fmt: skip
        try:
            yield suggester
        finally:
            close(kb.store.client)  # the embedded server stops before its folder goes


def _load_demo_shop(kb: Any, shop_id: str, day: date) -> None:
    from copilot.policies import PolicyStore, policy_from_dict
    from kb.demo_shops import demo_shops

    for shop in demo_shops():
        if shop.shop_id == shop_id and not kb.store.exists(shop_id):
            kb.add(shop_id, shop.entries(day), replace_all=True)
            policy = policy_from_dict(shop_id, {"shop_name": shop.name, **shop.policy})
            PolicyStore(kb.store.client).put(policy)


def replay_turn(suggester: Suggester, item: ReplayItem, *, use_llm: bool) -> TurnRecord:
    started = time.perf_counter()
    suggestion = suggester.suggest(item.context, use_llm=use_llm)
    total = round((time.perf_counter() - started) * 1000, 2)
    return to_record(item, suggestion, total)


def to_record(item: ReplayItem, suggestion: Suggestion, total_ms: float) -> TurnRecord:
    return TurnRecord(
        conversation_id=item.conversation_id,
        turn_index=item.turn_index,
        customer_msg=item.customer_msg,
        actual_reply=item.actual_reply,
        alt_replies=item.alt_replies,
        candidates=tuple(_candidate(c) for c in suggestion.candidates),
        intent=suggestion.intent.label,
        intent_confidence=round(suggestion.intent.confidence, 4),
        route=suggestion.route.action,
        route_reasons=suggestion.route.reasons,
        latency_ms={**suggestion.timings_ms, "total": total_ms},
        gold_intent=item.gold_intent,
        gold_handoff=item.gold_handoff,
        upsell=suggestion.upsell.kind if suggestion.upsell else None,
        degraded=suggestion.degraded,
    )


def _candidate(candidate: Candidate) -> ReplayedCandidate:
    flags = tuple(f.code for f in candidate.flags if f.severity == "block")
    return ReplayedCandidate(
        candidate.text, candidate.role, candidate.source.kind, round(candidate.score, 4), flags
    )


def load_done(path: Path, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], TurnRecord]:
    """Records already in turns.jsonl; a torn last line (the run was killed) is dropped."""
    if not path.exists():
        return {}
    wanted_keys = set(wanted)
    done: dict[tuple[str, int], TurnRecord] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = TurnRecord.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            if number >= len(lines) - 1:  # the last line: cut short by the interruption
                break
            raise EvalInputError(f"{path}, line {number}: not a turn record ({exc})") from exc
        if record.key not in wanted_keys:
            raise EvalInputError(
                f"{path} holds turn {record.key} that this run does not replay: resume with the "
                "options of the interrupted run (same input, --seed, --history), or use a new --out"
            )
        done[record.key] = record
    return done


def write_records(path: Path, records: Iterable[TurnRecord]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(path)


def replay(
    suggester: Suggester,
    items: Sequence[ReplayItem],
    path: Path,
    *,
    use_llm: bool,
    workers: int = 1,
    resume: bool = False,
    progress: bool = True,
    runner: Callable[[Sequence[ReplayItem], Callable[[TurnRecord], None]], None] | None = None,
) -> list[TurnRecord]:
    """Records for every item, in item order; `runner` replaces the local threads (Ray)."""
    done = load_done(path, (i.key for i in items)) if resume else {}
    if done:
        write_records(path, [done[i.key] for i in items if i.key in done])  # drop a torn line
    todo = [item for item in items if item.key not in done]
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        path.open("a" if done else "w", encoding="utf-8") as out,
        _bar(len(items), progress) as bar,
    ):
        bar.update(len(done))

        def keep(record: TurnRecord) -> None:
            out.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            out.flush()
            done[record.key] = record
            bar.update(1)

        if runner is not None:
            runner(todo, keep)
        else:
            _run_local(suggester, todo, keep, use_llm=use_llm, workers=workers)
    records = [done[item.key] for item in items]
    write_records(path, records)
    return records


def _run_local(
    suggester: Suggester,
    todo: Sequence[ReplayItem],
    keep: Callable[[TurnRecord], None],
    *,
    use_llm: bool,
    workers: int,
) -> None:
    if workers <= 1:
        for item in todo:
            keep(replay_turn(suggester, item, use_llm=use_llm))
        return
    # Threads: ONNX Runtime, FAISS and the LLM release the GIL; map() keeps the item order.
    with ThreadPoolExecutor(workers) as pool:
        for record in pool.map(lambda i: replay_turn(suggester, i, use_llm=use_llm), todo):
            keep(record)


@contextmanager
def _bar(total: int, enabled: bool) -> Iterator[Any]:
    from tqdm import tqdm

    with tqdm(total=total, unit="turn", desc="replay", disable=not enabled) as bar:
        yield bar
