"""Shared benchmark plumbing: settings, a throwaway embedded Redis, the real embedder."""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from copilot.build import configure_search_threads
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder, SentenceTransformerEmbedder
from kb.retrieval import RetrievalConfig
from kb.storage.redis_conn import RedisConfig, close, connect
from kb.storage.store import KBStore
from service.settings import Settings
from service.wiring import build_embedder

BENCH_DIR = Path(__file__).resolve().parent


def real_embedder(settings: Settings | None = None) -> Embedder:
    from copilot.model_setup import setup_models

    settings = settings or Settings()
    setup_models(settings.models_dir, include_llm=False, progress=False)
    embedder = build_embedder(settings)
    embedder.warm_up()
    return embedder


def torch_embedder(settings: Settings | None = None) -> SentenceTransformerEmbedder:
    """The sentence-transformers backend of the same model (the reference for throughput)."""
    settings = settings or Settings()
    embedder = SentenceTransformerEmbedder(
        Settings(embedding_backend="torch", models_dir=settings.models_dir).embedder_dir()
    )
    embedder.warm_up()
    return embedder


def scratch_kb(embedder: Embedder, config: RetrievalConfig | None = None) -> KnowledgeBase:
    """A KnowledgeBase on a fresh embedded Redis in a temporary directory; at exit the server
    stops and the directory goes (a run's vectors and snapshots are GBs left in /tmp)."""
    configure_search_threads()
    data_dir = Path(tempfile.mkdtemp(prefix="copilot-bench-"))
    client = connect(RedisConfig(data_dir=data_dir))
    atexit.register(_discard, client, data_dir)
    return KnowledgeBase(KBStore(client), embedder, config)


def _discard(client: Any, data_dir: Path) -> None:
    close(client)
    shutil.rmtree(data_dir, ignore_errors=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def describe_ms(samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (
        f"p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
        f"mean {statistics.fmean(ms):.1f} ms (n={len(ms)})"
    )
