"""One process serving many shops: memory stays bounded, popular shops stay fast.

500 shops, each a KB and a history bank of its own (sizes drawn from a log-normal: most shops
small, a few large), are written to a throwaway embedded Redis by a child process (so the
loading's garbage does not sit in the measured process's heap). Embedding 500 real KBs would
take hours on 2 cores, so their texts get copies of real e5 vectors (a base of real passages
and messages, picked by a hash of the text) with a little noise, as kb_speed.py's tile_shop
does; the index sizes and the search path are the real ones. Queries are embedded for real.

The measured process then serves requests (KB search + history search of one shop, the query
embedded once) that pick shops at random with a Zipf skew (popularity independent of size),
its shop indexes held in the byte-bounded cache (kb/storage/shop_cache.py). A first third of the
requests warms the cache and is not timed. Printed: RSS (after the models and after serving;
peak while serving), the latency of requests that had to build a shop (build on miss), the
p95 of all requests and the cache's hit rate. Goals: RSS <= 2.5 GB at the default bound;
p95 <= 100 ms with a hit rate >= 0.9.

    python bench/many_shops.py [--shops 500] [--requests 3000] [--cache-mb 1024] [--zipf 1.1]
    python bench/many_shops.py --shops 60 --requests 400 --cache-mb 120   # quick: ~1.5 min

(the bound scaled with the shops, so the quick run evicts as the full one does; 500 shops take
~8 min to load on a busy 2-core machine, and the full run ~20 min in all)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from common import describe_ms, percentile, real_embedder
from synthetic import synthetic_queries, synthetic_shop

from copilot.build import configure_search_threads
from copilot.history.bank import ResponseBank
from copilot.types import Conversation, Turn
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder, Role, Vectors
from kb.storage.redis_conn import RedisConfig, close, connect
from kb.storage.shop_cache import ShopCache
from kb.storage.store import KBStore
from kb.units import index_units
from service.settings import Settings

GOAL_RSS_GB = 2.5
GOAL_P95_MS = 100.0
GOAL_HIT_RATE = 0.9
MIB = 1024 * 1024


class CopyingEmbedder:
    """Real e5 vectors of a base set of texts, handed to other texts by a hash of the text,
    with a little noise: the vectors' distribution is e5's, the cost is nothing."""

    def __init__(self, name: str, base: dict[str, Vectors]) -> None:
        self._name, self.base = name, base

    @property
    def name(self) -> str:
        return self._name

    def embed_batch(self, texts: Sequence[str], *, role: Role) -> Vectors:
        base = self.base[role]
        rows = np.empty((len(texts), base.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = zlib.crc32(text.encode())
            noisy = base[seed % len(base)] + np.random.default_rng(seed).normal(
                0, 0.01, base.shape[1]
            )
            rows[i] = noisy / np.linalg.norm(noisy)
        return rows


def shop_sizes(shops: int, seed: int = 1) -> list[tuple[int, int]]:
    """(KB entries, chat pairs) per shop: log-normal, medians 250 and 400."""
    rng = np.random.default_rng(seed)
    entries = np.clip(rng.lognormal(np.log(250), 0.8, shops), 30, 3000).astype(int)
    pairs = np.clip(rng.lognormal(np.log(400), 0.8, shops), 30, 4000).astype(int)
    return list(zip(entries.tolist(), pairs.tolist(), strict=True))


def shop_chats(shop_id: str, pairs: int, seed: int) -> list[Conversation]:
    """Customer question -> agent answer pairs of the shop's own (synthetic) FAQ."""
    rows = [row for row in synthetic_shop(int(pairs / 0.7) + 2, seed=seed) if row["kind"] == "faq"]
    return [
        Conversation(shop_id, (Turn("customer", r["question"]), Turn("agent", r["answer"])),
                     conversation_id=f"{shop_id}-{i}")
        for i, r in enumerate(rows[:pairs])
    ]  # fmt: skip


def load_shops(data_dir: str, name: str, base: dict[str, Vectors], shops: int) -> None:
    """Write every shop's KB and bank to Redis (runs in a child process)."""
    client = connect(RedisConfig(data_dir=Path(data_dir)))
    copying = CopyingEmbedder(name, base)
    knowledge = KnowledgeBase(KBStore(client), copying)
    bank = ResponseBank(client, copying)
    for n, (entries, pairs) in enumerate(shop_sizes(shops)):
        shop_id = f"shop-{n:04d}"
        rows = synthetic_shop(entries, seed=1000 + n)
        knowledge.add(shop_id, [entry_from_dict(shop_id, row) for row in rows])
        bank.import_conversations(shop_id, shop_chats(shop_id, pairs, seed=5000 + n))


def real_base(embedder: Embedder, texts: int = 300) -> dict[str, Vectors]:
    rows = synthetic_shop(texts, seed=7)
    entries = [entry_from_dict("base", row) for row in rows]
    passages = [u.text for e in entries for u in index_units(e)][:texts]
    messages = [row["question"] for row in rows if row["kind"] == "faq"][:texts]
    return {
        "passage": embedder.embed_batch(passages, role="passage"),
        "query": embedder.embed_batch(messages, role="query"),
    }


def rss_mib() -> tuple[float, float]:
    """(resident now, peak since the last reset) of this process, MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def zipf_picks(shops: int, count: int, skew: float, seed: int = 3) -> list[int]:
    """Shop numbers drawn with P(rank r) ~ 1 / r^skew; ranks dealt to shops at random."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, shops + 1) ** skew
    ranks = rng.choice(shops, size=count, p=weights / weights.sum())
    return rng.permutation(shops)[ranks].tolist()


def serve(
    knowledge: KnowledgeBase, bank: ResponseBank, shops: list[int], queries: list[str]
) -> tuple[list[float], list[float]]:
    """Each request's seconds, split into those that found both indexes held and those that
    built one (or both)."""
    cache, hits, built = knowledge.indexes.cache, [], []
    for n, query in zip(shops, queries, strict=True):
        shop_id = f"shop-{n:04d}"
        misses = cache.stats().misses
        started = time.perf_counter()
        vector = knowledge.embedder.embed_batch([query], role="query")[0]
        knowledge.search(shop_id, query, k=5)
        bank.search(shop_id, query, k=3, query_vector=vector)
        elapsed = time.perf_counter() - started
        (built if cache.stats().misses > misses else hits).append(elapsed)
    return hits, built


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shops", type=int, default=500)
    parser.add_argument("--requests", type=int, default=3000, help="timed; half as many warm up")
    parser.add_argument("--cache-mb", type=float, default=Settings().index_cache_mb)
    parser.add_argument("--zipf", type=float, default=1.1, help="popularity skew")
    args = parser.parse_args()

    configure_search_threads()
    embedder = real_embedder()
    base = real_base(embedder)
    data_dir = tempfile.mkdtemp(prefix="copilot-bench-")
    client = connect(RedisConfig(data_dir=Path(data_dir)))
    client.config_set("appendonly", "no")  # a throwaway store: no need to write it to disk
    started = time.perf_counter()
    loader = multiprocessing.get_context("spawn").Process(
        target=load_shops, args=(data_dir, embedder.name, base, args.shops)
    )
    loader.start()
    loader.join()
    if loader.exitcode != 0:
        raise SystemExit(f"loading the shops failed (exit code {loader.exitcode})")
    sizes = shop_sizes(args.shops)
    print(
        f"{args.shops} shops loaded in {time.perf_counter() - started:.0f}s (child process): KB entries p50 "
        f"{np.median([e for e, _ in sizes]):.0f} / max {max(e for e, _ in sizes)}, chat pairs p50 "
        f"{np.median([p for _, p in sizes]):.0f} / max {max(p for _, p in sizes)}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )

    cache = ShopCache(int(args.cache_mb * MIB))
    knowledge = KnowledgeBase(KBStore(client), embedder, index_cache=cache)
    bank = ResponseBank(client, embedder, cache=cache)
    knowledge.warm_up()
    baseline, _ = rss_mib()
    warm = args.requests // 2
    picks = zipf_picks(args.shops, warm + args.requests, args.zipf)
    queries = synthetic_queries(warm + args.requests)
    serve(knowledge, bank, picks[:warm], queries[:warm])
    peak_reset = reset_peak_rss()
    hits, built = serve(knowledge, bank, picks[warm:], queries[warm:])
    after, peak = rss_mib()
    worst = max(after, peak if peak_reset else after)

    stats = cache.stats()
    held_mib = stats.bytes / MIB
    print(
        f"index cache: bound {args.cache_mb:.0f} MiB; holds {stats.indexes} indexes (KB + bank) of "
        f"{held_mib:.0f} MiB, estimated; {stats.evictions} evictions in all; all {args.shops} shops "
        f"would hold ~{held_mib / max(stats.indexes, 1) * 2 * args.shops / 1024:.1f} GiB"
    )
    rss_ok = worst / 1024 <= GOAL_RSS_GB
    print(
        f"RSS: {baseline:.0f} MiB with the embedder loaded; {after:.0f} MiB after serving, peak while "
        f"serving {peak if peak_reset else float('nan'):.0f} MiB (goal <= {GOAL_RSS_GB} GB: "
        f"{'PASS' if rss_ok else 'FAIL'}; ratio {worst / 1024 / GOAL_RSS_GB:.2f}); RSS above the "
        f"baseline / the cache's estimate {(after - baseline) / max(held_mib, 1e-9):.2f}"
    )
    print(f"build on miss (requests that built a shop's KB index or bank): {describe_ms(built)}")
    print(f"requests served from the cache: {describe_ms(hits)}")
    everything = hits + built
    p95 = percentile([s * 1000 for s in everything], 0.95)
    hit_rate = len(hits) / max(len(everything), 1)
    print(
        f"all requests (KB search + history search, Zipf s={args.zipf} over {args.shops} shops): "
        f"{describe_ms(everything)} (goal p95 <= {GOAL_P95_MS:.0f} ms: "
        f"{'PASS' if p95 <= GOAL_P95_MS else 'FAIL'}; ratio {p95 / GOAL_P95_MS:.2f}); "
        f"hit rate {hit_rate:.3f} (requests that built nothing; goal >= {GOAL_HIT_RATE}: "
        f"{'PASS' if hit_rate >= GOAL_HIT_RATE else 'FAIL'}; ratio {hit_rate / GOAL_HIT_RATE:.2f})"
    )
    close(client)
    return 0 if rss_ok and p95 <= GOAL_P95_MS and hit_rate >= GOAL_HIT_RATE else 1


if __name__ == "__main__":
    sys.exit(main())
