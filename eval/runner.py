"""`copilot eval run`: read, split, build the bank, replay, score the system and the baselines,
write DIR/turns.jsonl, metrics.json, report.md and report.html."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.build import PipelineConfig
from copilot.history.chatlogs import ChatFormat, TurnKey
from copilot.pipeline import Suggester
from copilot.types import Conversation
from eval.baselines import Bm25Baseline, MostFrequentBaseline, mine_bank
from eval.errors import EvalInputError
from eval.judged import GradedPool, judged_metrics, turn_id
from eval.judged_sources import draft_gate, judged_by_source
from eval.metrics import (
    ACCEPT,
    SemanticScorer,
    TurnScores,
    accepted,
    paired_delta,
    quality_metrics,
    score_turns,
    system_metrics,
)
from eval.readers import read_corpus, replay_items
from eval.replay import replay, replay_pipeline
from eval.split import check_no_leakage, split_conversations
from eval.types import Example, Prepared, ReplayItem, TurnRecord

MAX_CLASSIFIED = 1000


@dataclass(frozen=True)
class RunOptions:
    conversations: Path
    out: Path
    history: Path | None = None
    shop: str | None = None
    format: ChatFormat | None = None
    use_llm: bool = True
    limit: int | None = None  # replayed turns
    # only turns of the graded pool, a seeded sample of this many (the first n of one shuffle,
    # so a smaller sample is the start of a larger one): judged runs with the LLM on in minutes
    pooled_sample: int | None = None
    workers: int = 1
    seed: int = 0
    resume: bool = False
    ray_address: str | None = None
    test_share: float = 0.2
    calibration: Mapping[str, float] = field(default_factory=dict)
    semantic: bool = True
    progress: bool = True
    graded: GradedPool | None = None  # blind grades: judged acceptance on the turns it covers
    selector: bool = False  # learn a reply selector from the train split's bank (eval.selector)


def prepare(options: RunOptions) -> Prepared:
    log = read_corpus(options.conversations, format=options.format, shop_id=options.shop)
    shop = log.conversations[0].shop_id
    skipped = len(log.skipped)
    if options.history is not None:
        bank_log = read_corpus(options.history, shop_id=shop)
        train, test = bank_log.conversations, log.conversations
        labels = dict(bank_log.turn_labels)
        skipped += len(bank_log.skipped)
    else:
        train, test = split_conversations(
            log.conversations, test_share=options.test_share, seed=options.seed
        )
        labels = dict(log.turn_labels)
    check_no_leakage(train, test)
    items = list(replay_items(test, log.turn_labels))
    if options.pooled_sample is not None:
        items = pooled_sample(items, options.graded, options.pooled_sample, options.seed)
    if options.limit is not None:
        items = items[: options.limit]
    return Prepared(shop, train, labels, items, skipped)


def run_eval(
    options: RunOptions, config: PipelineConfig, *, pipeline: Suggester | None = None
) -> dict[str, Any]:
    """`pipeline`: one already built by replay_pipeline for this shop and train part (tests and
    benchmarks share one across runs); otherwise one is built and closed here."""
    prepared = prepare(options)
    options.out.mkdir(parents=True, exist_ok=True)
    if options.selector and options.ray_address:
        raise EvalInputError("--selector runs in one process: drop --ray")
    building = replay_pipeline(
        config, prepared.shop_id, prepared.train, prepared.train_labels,
        progress=options.progress, selector=options.selector,
    )  # fmt: skip
    with nullcontext(pipeline) if pipeline is not None else building as suggester:
        runner = None
        if options.ray_address:
            from eval.ray_runner import ray_runner

            runner = ray_runner(options.ray_address, config, prepared, use_llm=options.use_llm,
                                workers=options.workers)  # fmt: skip
        records = replay(
            suggester, prepared.items, options.out / "turns.jsonl", use_llm=options.use_llm,
            workers=options.workers, resume=options.resume, progress=options.progress,
            runner=runner,
        )  # fmt: skip
        metrics, examples = score_run(suggester, prepared, records, options)
    (options.out / "metrics.json").write_text(
        json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    from eval.report import write_reports

    write_reports(options.out, metrics, records, examples)
    by_source = metrics["system"].get("judged_by_source")
    if options.use_llm and by_source is not None:
        gate = json.dumps(draft_gate(by_source), ensure_ascii=False, indent=2)
        (options.out / "draft_gate.json").write_text(gate, encoding="utf-8")
    return metrics


def score_run(
    suggester: Suggester, prepared: Prepared, records: Sequence[TurnRecord], options: RunOptions
) -> tuple[dict[str, Any], list[Example]]:
    semantic = SemanticScorer(suggester.kb.embedder) if options.semantic else None
    references = [r.references for r in records]
    system_scores = score_turns([r.texts for r in records], references, semantic)
    baselines = baseline_candidates(suggester, prepared, records, options.seed)
    baseline_scores = {
        name: score_turns(cands, references, semantic) for name, cands in baselines.items()
    }
    system = quality_metrics(system_scores, calibrated=options.calibration)
    system |= system_metrics(records, system_scores)
    system["lift"] = {name: lift(system_scores, scores) for name, scores in baseline_scores.items()}
    examples = [
        Example(item, record, max(own.rouge, default=0.0), max(base.rouge, default=0.0),
                bm25[0] if bm25 else "")
        for item, record, own, base, bm25 in zip(
            prepared.items, records, system_scores, baseline_scores["bm25"], baselines["bm25"],
            strict=True,
        )
    ]  # fmt: skip
    metrics = {
        "system": system,
        "baselines": {
            name: quality_metrics(scores, calibrated=options.calibration)
            for name, scores in baseline_scores.items()
        },
        "run": {
            "shop_id": prepared.shop_id, "input": str(options.conversations),
            "history": str(options.history) if options.history else None,
            "seed": options.seed, "test_share": options.test_share, "limit": options.limit,
            "use_llm": options.use_llm, "bank_conversations": len(prepared.train),
            "skipped_lines": prepared.skipped, "replayed_turns": len(records),
        },
    }  # fmt: skip
    if options.graded is not None:
        turns = [turn_id(*r.key) for r in records]
        system["judged"] = judged_metrics(turns, [r.texts for r in records], options.graded)
        for name, cands in baselines.items():
            metrics["baselines"][name]["judged"] = judged_metrics(turns, cands, options.graded)
        system["judged_by_source"] = judged_by_source(records, options.graded)
    return metrics, examples


def pooled_sample(
    items: Sequence[ReplayItem], graded: GradedPool | None, n: int, seed: int
) -> list[ReplayItem]:
    """n turns of the graded pool, drawn by seed, in replay order."""
    if graded is None:
        raise EvalInputError("--pooled-sample needs --pool: it samples the graded turns")
    pooled = [i for i, item in enumerate(items) if turn_id(*item.key) in graded.turns]
    random.Random(seed).shuffle(pooled)
    return [items[i] for i in sorted(pooled[:n])]


def lift(system: Sequence[TurnScores], baseline: Sequence[TurnScores]) -> dict[str, Any]:
    """System minus baseline on the same turns, paired bootstrap 95% intervals."""
    out: dict[str, Any] = {}
    for k in (1, 3):
        a = [accepted(s.rouge, k, ACCEPT) for s in system]
        b = [accepted(s.rouge, k, ACCEPT) for s in baseline]
        out[f"accept_at_{k}"] = paired_delta(a, b)
        base = sum(b) / len(b) if b else 0.0
        out[f"accept_at_{k}_ratio"] = round(sum(a) / len(a) / base, 3) if base and a else None
    out["jddc_bleu"] = paired_delta([s.bleu for s in system], [s.bleu for s in baseline])
    return out


def baseline_candidates(
    suggester: Suggester, prepared: Prepared, records: Sequence[TurnRecord], seed: int = 0
) -> dict[str, list[list[str]]]:
    labels = _with_intents(suggester, prepared.train, prepared.train_labels, seed)
    replies = mine_bank(prepared.train, labels)
    bm25, frequent = Bm25Baseline(replies), MostFrequentBaseline(replies)
    return {
        "bm25": [bm25.suggest(item) for item in prepared.items],
        "most_frequent": [
            frequent.suggest(item, record.intent)
            for item, record in zip(prepared.items, records, strict=True)
        ],
    }


def _with_intents(
    suggester: Suggester,
    train: Sequence[Conversation],
    labels: Mapping[TurnKey, Any],
    seed: int = 0,
) -> dict[TurnKey, dict[str, Any]]:
    """Train labels with intents for the most-frequent baseline: the labelled one, else the
    pipeline classifier's on a seeded sample of MAX_CLASSIFIED unlabelled turns (a sample
    ranks the frequent replies of an intent as well as all would, at a fraction of the time)."""
    out = {key: dict(value) for key, value in labels.items()}
    todo = [
        (conversation, index)
        for conversation in train
        for index in range(len(conversation.turns) - 1)
        if conversation.turns[index].role == "customer"
        and conversation.turns[index + 1].role == "agent"
        and not out.get((conversation.conversation_id or "", index), {}).get("intent")
    ]
    if len(todo) > MAX_CLASSIFIED:
        picked = sorted(random.Random(seed).sample(range(len(todo)), MAX_CLASSIFIED))
        todo = [todo[i] for i in picked]
    for conversation, index in todo:
        context = Conversation(conversation.shop_id, conversation.turns[: index + 1])
        key = (conversation.conversation_id or "", index)
        out.setdefault(key, {})["intent"] = suggester.classifier.classify(context).label
    return out
