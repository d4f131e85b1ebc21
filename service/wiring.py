"""Builds the long-lived objects from Settings; shared by the CLI and the service lifespan."""

from __future__ import annotations

import redis

from copilot.history import ResponseBank
from copilot.intents import IntentExampleStore, default_classifier
from copilot.llm_backends import build_generator
from copilot.pipeline import Suggester, SuggesterConfig
from copilot.policies import PolicyStore, policy_from_dict
from kb.demo_shops import demo_shops, load_demo_shops
from kb.embedder import SentenceTransformerEmbedder
from kb.knowledge import ImportReport, KnowledgeBase
from kb.onnx_embedder import OnnxEmbedder
from kb.redis_conn import connect
from kb.store import KBStore
from service.settings import Settings


def build_embedder(settings: Settings) -> OnnxEmbedder | SentenceTransformerEmbedder:
    """The configured backend; the model loads lazily (warm_up() loads it now)."""
    backend = OnnxEmbedder if settings.embedding_backend == "onnx" else SentenceTransformerEmbedder
    return backend(
        settings.embedder_dir(), batch_size=settings.embedding_batch_size, threads=settings.threads
    )


def configure_search_threads() -> None:
    """One OpenMP thread for FAISS: a single query over a shop's index is tiny work, and on a
    busy 2-core machine OpenMP's spinning threads turned a 14 ms p95 into 180 ms (measured with
    bench/history_speed.py). Process-wide, so it is set here, by the application."""
    import faiss

    faiss.omp_set_num_threads(1)


def build_knowledge_base(settings: Settings, client: redis.Redis | None = None) -> KnowledgeBase:
    """Connects Redis now; the embedding model loads lazily (call warm_up() to load it now)."""
    configure_search_threads()
    client = client or connect(settings.redis_config())
    return KnowledgeBase(KBStore(client), build_embedder(settings), settings.retrieval_config())


def build_suggester(settings: Settings, kb: KnowledgeBase | None = None) -> Suggester:
    """The whole pipeline on one Redis; models load in warm_up()."""
    kb = kb or build_knowledge_base(settings)
    client = kb.store.client
    policies = PolicyStore(client)
    generator = None if settings.llm_backend == "none" else build_generator(settings.llm_config())
    return Suggester(
        kb,
        default_classifier(kb.embedder, IntentExampleStore(client)),
        policies=policies,
        history=ResponseBank(client, kb.embedder),
        generator=generator,
        shop_names={s: policies.get(s).shop_name for s in kb.shops()} | demo_shop_names(),
        config=SuggesterConfig(draft=settings.draft_config()),
    )


def demo_shop_names() -> dict[str, str]:
    return {shop.shop_id: shop.name for shop in demo_shops()}


def load_demo(kb: KnowledgeBase, *, force: bool = False) -> list[ImportReport]:
    """The demo shops' knowledge, policies and (from their demo chats) history banks."""
    from copilot.chatlogs import read_chats

    reports = load_demo_shops(kb, force=force)
    loaded = {r.shop_id for r in reports}
    policies, bank = PolicyStore(kb.store.client), ResponseBank(kb.store.client, kb.embedder)
    for shop in demo_shops():
        if shop.shop_id in loaded:
            policies.put(policy_from_dict(shop.shop_id, {"shop_name": shop.name, **shop.policy}))
            log = read_chats(shop.chats_file, format="jsonl", shop_id=shop.shop_id)
            bank.import_conversations(shop.shop_id, log.conversations, labels=log.turn_labels)
    return reports
