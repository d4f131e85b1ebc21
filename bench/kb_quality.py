"""Retrieval quality on our labelled questions (bench/data/kb_questions.jsonl).

Loads the demo shops into a scratch Redis and scores hybrid, dense-only and keyword-only
retrieval: recall@1, recall@3, MRR@10. Goals: hybrid recall@3 >= 0.95, MRR >= 0.85.

    python bench/kb_quality.py [--misses]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from common import BENCH_DIR, real_embedder, scratch_kb

from copilot.clock import SystemClock, today
from kb.demo_shops import load_demo_shops
from kb.knowledge import KnowledgeBase
from kb.retrieval import HybridRetriever

GOAL_RECALL_AT_3 = 0.95
GOAL_MRR = 0.85


@dataclass(frozen=True)
class Labelled:
    shop_id: str
    question: str
    expected: frozenset[str]


def load_labelled() -> list[Labelled]:
    path = BENCH_DIR / "data" / "kb_questions.jsonl"
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [Labelled(r["shop_id"], r["question"], frozenset(r["expected"])) for r in rows]


def score(
    retriever: HybridRetriever, labelled: list[Labelled], show_misses: bool
) -> dict[str, float]:
    at1 = at3 = rr = 0.0
    for item in labelled:
        ranked = [h.entry_id for h in retriever.search(item.shop_id, item.question, k=10)]
        rank = next((i for i, e in enumerate(ranked, 1) if e in item.expected), None)
        at1 += rank == 1
        at3 += rank is not None and rank <= 3
        rr += 1.0 / rank if rank else 0.0
        if show_misses and (rank is None or rank > 3):
            print(
                f"  miss [{item.shop_id}] {item.question!r} expected {sorted(item.expected)} got {ranked[:3]}"
            )
    n = len(labelled)
    return {"recall@1": at1 / n, "recall@3": at3 / n, "mrr@10": rr / n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="print questions missed in the top 3")
    args = parser.parse_args()
    knowledge: KnowledgeBase = scratch_kb(real_embedder())
    load_demo_shops(knowledge, today=today(SystemClock()))
    labelled = load_labelled()
    print(f"labelled questions: {len(labelled)} over {len({q.shop_id for q in labelled})} shops")
    results = {}
    retriever = HybridRetriever(knowledge.indexes, knowledge.embedder, knowledge.retriever.config)
    halves = [score(retriever, labelled[start::2], False) for start in (0, 1)]
    for name, use in (
        ("hybrid", ("dense", "keyword")),
        ("dense only", ("dense",)),
        ("keyword only", ("keyword",)),
    ):
        retriever = HybridRetriever(
            knowledge.indexes, knowledge.embedder, knowledge.retriever.config, use=use
        )
        results[name] = score(retriever, labelled, args.misses and name == "hybrid")
    print(f"{'retriever':<14}{'recall@1':>10}{'recall@3':>10}{'MRR@10':>10}")
    for name, m in results.items():
        print(f"{name:<14}{m['recall@1']:>10.3f}{m['recall@3']:>10.3f}{m['mrr@10']:>10.3f}")
    print(
        "hybrid on the two halves (even / odd lines): "
        + " | ".join(f"recall@3 {h['recall@3']:.3f} MRR {h['mrr@10']:.3f}" for h in halves)
    )
    hybrid = results["hybrid"]
    ok = hybrid["recall@3"] >= GOAL_RECALL_AT_3 and hybrid["mrr@10"] >= GOAL_MRR
    print(
        f"goal hybrid recall@3 >= {GOAL_RECALL_AT_3} and MRR >= {GOAL_MRR}: {'PASS' if ok else 'FAIL'}; "
        f"hybrid/dense recall@3 ratio {hybrid['recall@3'] / max(results['dense only']['recall@3'], 1e-9):.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
