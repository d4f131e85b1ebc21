"""Shared benchmark plumbing: settings, a throwaway embedded Redis, the real embedder."""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from copilot.build import configure_search_threads
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder, SentenceTransformerEmbedder
from kb.retrieval import RetrievalConfig
from kb.storage.redis_conn import RedisConfig, connect
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
    """A KnowledgeBase on a fresh embedded Redis in a temporary directory."""
    configure_search_threads()
    data_dir = Path(tempfile.mkdtemp(prefix="copilot-bench-"))
    client = connect(RedisConfig(data_dir=data_dir))
    return KnowledgeBase(KBStore(client), embedder, config)


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
