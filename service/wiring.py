"""Builds the long-lived objects from Settings; shared by the CLI and the service lifespan."""

from __future__ import annotations

from datetime import date

import redis

from copilot.build import PipelineConfig, configure_search_threads, demo_shop_names
from copilot.build import build_embedder as _build_embedder
from copilot.build import build_knowledge_base as _build_knowledge_base
from copilot.build import build_suggester as _build_suggester
from copilot.history.bank import ResponseBank
from copilot.llm.backends import LLMConfig
from copilot.pipeline import Suggester
from copilot.policies import PolicyStore, policy_from_dict
from kb.demo_shops import demo_shops, load_demo_shops
from kb.knowledge import ImportReport, KnowledgeBase
from kb.models.embedder import SentenceTransformerEmbedder
from kb.models.onnx_embedder import OnnxEmbedder
from service.settings import Settings

__all__ = [
    "build_embedder", "build_knowledge_base", "build_suggester", "configure_search_threads",
    "demo_shop_names", "load_demo", "pipeline_config",
]  # fmt: skip


def pipeline_config(settings: Settings) -> PipelineConfig:
    """Settings -> the plain config copilot.build needs (the eval harness builds its own)."""
    return PipelineConfig(
        embedder_dir=settings.embedder_dir(),
        redis=settings.redis_config(),
        embedding_backend=settings.embedding_backend,
        embedding_batch_size=settings.embedding_batch_size,
        threads=settings.threads,
        embedder_threads=settings.embedder_threads,
        retrieval=settings.retrieval_config(),
        llm_backend=settings.llm_backend,
        llm=settings.llm_config() if settings.llm_backend != "none" else LLMConfig(),
        draft=settings.draft_config(),
        concurrent_retrievals=settings.concurrent_retrievals,
        metadata_max_age=settings.metadata_max_age,
        index_cache_bytes=settings.index_cache_bytes(),
        clock=settings.clock(),
    )


def build_embedder(settings: Settings) -> OnnxEmbedder | SentenceTransformerEmbedder:
    """The configured backend; the model loads lazily (warm_up() loads it now)."""
    return _build_embedder(pipeline_config(settings))


def build_knowledge_base(settings: Settings, client: redis.Redis | None = None) -> KnowledgeBase:
    """Connects Redis now; the embedding model loads lazily (call warm_up() to load it now)."""
    return _build_knowledge_base(pipeline_config(settings), client)


def build_suggester(settings: Settings, kb: KnowledgeBase | None = None) -> Suggester:
    """The whole pipeline on one Redis; models load in warm_up()."""
    return _build_suggester(pipeline_config(settings), kb)


def load_demo(kb: KnowledgeBase, *, today: date, force: bool = False) -> list[ImportReport]:
    """The demo shops' knowledge, policies and (from their demo chats) history banks, with their
    dates counted from `today` (the settings' clock)."""
    from copilot.history.chatlogs import read_chats

    reports = load_demo_shops(kb, today=today, force=force)
    loaded = {r.shop_id for r in reports}
    policies, bank = PolicyStore(kb.store.client), ResponseBank(kb.store.client, kb.embedder)
    for shop in demo_shops():
        if shop.shop_id in loaded:
            policies.put(policy_from_dict(shop.shop_id, {"shop_name": shop.name, **shop.policy}))
            log = read_chats(shop.chats_file, format="jsonl", shop_id=shop.shop_id)
            bank.import_conversations(shop.shop_id, log.conversations, labels=log.turn_labels)
    return reports
