"""Indexing throughput and query latency of the knowledge base.

1. A 10k-entry synthetic shop: raw sentence-transformers encode throughput of its index texts,
   then KnowledgeBase.add of the same entries (embedding + Redis write + index build), in the
   same run. Goal: add throughput >= 0.8x raw encode.
2. Query latency (KnowledgeBase.search: version check, query embedding, FAISS, BM25, fusion)
   at 10k and 100k entries, distinct queries so the query cache never hits.
   Goal: p95 <= 30 ms at 100k on 2 cores.
   The 100k shop re-uses the 10k shop's real vectors (tiled, with small noise) so the benchmark
   does not spend 15 minutes embedding; index sizes and the search path are the real ones.

    python bench/kb_speed.py [--entries 10000] [--large 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from common import describe_ms, percentile, real_embedder, scratch_kb, torch_embedder
from synthetic import synthetic_queries, synthetic_shop

from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.models.embedder import SentenceTransformerEmbedder
from kb.units import index_units

GOAL_INDEX_RATIO = 0.8
GOAL_P95_MS = 30.0


def raw_encode_rate(reference: SentenceTransformerEmbedder, texts: list[str]) -> float:
    """Texts/s of plain sentence-transformers encode, passage prompt, same batch size."""
    started = time.perf_counter()
    reference._model.encode(
        texts,
        prompt_name="passage",
        batch_size=reference.batch_size,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    return len(texts) / (time.perf_counter() - started)


def measure_queries(knowledge: KnowledgeBase, shop_id: str, queries: list[str]) -> list[float]:
    knowledge.search(shop_id, "预热一下", k=5)  # builds the index outside the timing
    samples = []
    for query in queries:
        started = time.perf_counter()
        knowledge.search(shop_id, query, k=5)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput ratio")
    args = parser.parse_args()

    embedder = real_embedder()
    entries = [entry_from_dict("bench", row) for row in synthetic_shop(args.entries)]
    texts = [u.text for e in entries for u in index_units(e)]
    print(
        f"shop: {len(entries)} entries, {len(texts)} index texts; backend {type(embedder).__name__}"
    )

    raw_rate = 0.0
    if not args.latency_only:
        reference = torch_embedder()
        raw_encode_rate(reference, texts[:256])  # warm-up: a fresh model's first batches are slow
        raw_rate = raw_encode_rate(reference, texts)

    knowledge = scratch_kb(embedder)
    started = time.perf_counter()
    knowledge.add("bench", entries)
    knowledge.search("bench", "预热", k=1)
    add_rate = len(texts) / (time.perf_counter() - started)
    ratio = add_rate / raw_rate if raw_rate else float("nan")
    if not args.latency_only:
        print(
            f"raw sentence-transformers encode {raw_rate:.1f} texts/s ; KnowledgeBase.add + index build {add_rate:.1f} texts/s; "
            f"ratio {ratio:.2f} (goal >= {GOAL_INDEX_RATIO}: {'PASS' if ratio >= GOAL_INDEX_RATIO else 'FAIL'})"
        )

    queries = synthetic_queries(args.queries)
    small = measure_queries(knowledge, "bench", queries)
    print(f"query latency at {len(entries)} entries: {describe_ms(small)}")

    large_entries, large_vectors = tile_shop(knowledge, entries, args.large)
    knowledge.store.put("bench-large", large_entries, large_vectors, embedding_model=embedder.name)
    started = time.perf_counter()
    knowledge.indexes.get("bench-large")
    print(f"index build at {len(large_entries)} entries: {time.perf_counter() - started:.1f}s")
    large = measure_queries(knowledge, "bench-large", queries)
    p95 = percentile([s * 1000 for s in large], 0.95)
    print(
        f"query latency at {len(large_entries)} entries: {describe_ms(large)} "
        f"(goal p95 <= {GOAL_P95_MS} ms: {'PASS' if p95 <= GOAL_P95_MS else 'FAIL'}); "
        f"p95 ratio large/small {p95 / percentile([s * 1000 for s in small], 0.95):.2f}"
    )
    ratio_ok = args.latency_only or ratio >= GOAL_INDEX_RATIO
    return 0 if ratio_ok and p95 <= GOAL_P95_MS else 1


def tile_shop(
    knowledge: KnowledgeBase, entries: list, size: int, shop_id: str = "bench-large"
) -> tuple[list, dict[str, np.ndarray]]:
    """`size` entries made from the small shop's, with its real vectors plus a little noise."""
    stored = knowledge.store.snapshot(entries[0].shop_id).vectors
    rng = np.random.default_rng(3)
    rows = synthetic_shop(size, seed=13)
    large, vectors = [], {}
    for i, row in enumerate(rows):
        entry = entry_from_dict(shop_id, row)
        source = entries[i % len(entries)]
        base = stored[source.id]
        units = len(index_units(entry))
        picked = base[np.arange(units) % base.shape[0]]
        noisy = picked + rng.normal(0, 0.01, picked.shape).astype(np.float32)
        vectors[entry.id] = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(
            np.float32
        )
        large.append(entry)
    return large, vectors


if __name__ == "__main__":
    sys.exit(main())
