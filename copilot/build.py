"""Builds the long-lived pipeline objects from plain config: one wiring for the service and the
offline eval, so a replayed chat goes through exactly the pipeline an agent would get.

service/wiring.py turns Settings into a PipelineConfig and calls these; eval builds its own
PipelineConfig from its command-line options (eval never imports service).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import redis

from copilot.clock import Clock, SystemClock
from copilot.history.bank import ResponseBank
from copilot.history.selector import LearnedSelector, SelectorStore
from copilot.intents.classifier import default_classifier
from copilot.intents.examples import IntentExampleStore
from copilot.llm.backends import LLMConfig, build_generator
from copilot.llm.drafting import DraftConfig
from copilot.pipeline import Suggester, SuggesterConfig
from copilot.policies import PolicyStore
from kb.demo_shops import demo_shops
from kb.errors import StoreUnavailable
from kb.knowledge import KnowledgeBase
from kb.models.embedder import SentenceTransformerEmbedder
from kb.models.onnx_embedder import OnnxEmbedder
from kb.retrieval import RetrievalConfig
from kb.storage.redis_conn import RedisConfig, connect
from kb.storage.shop_cache import DEFAULT_MAX_BYTES, ShopCache
from kb.storage.store import KBStore

log = logging.getLogger(__name__)
LLMBackend = Literal["llama_cpp", "transformers", "openai", "none"]


@dataclass(frozen=True)
class PipelineConfig:
    embedder_dir: Path
    redis: RedisConfig = field(default_factory=RedisConfig)
    embedding_backend: Literal["onnx", "torch"] = "onnx"
    embedding_batch_size: int = 32
    threads: int | None = None
    embedder_threads: int | None = None  # None: `threads`
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    llm_backend: LLMBackend = "none"
    llm: LLMConfig = field(default_factory=LLMConfig)
    draft: DraftConfig = field(default_factory=DraftConfig)
    history_prefix: str = "hist"  # eval keeps its banks apart from the service's
    concurrent_retrievals: int | None = None  # SuggesterConfig's; None: no limit
    # > 0: shop versions, the set of shops and policies may come from a read this recent
    # (seconds, kb/storage/recent.py): the service's choice; the eval and the CLI read Redis
    # each time
    metadata_max_age: float = 0.0
    # the bytes of shop indexes (KB and history bank together) a process keeps; past it the
    # least recently used shops are dropped and rebuilt from Redis when asked again
    index_cache_bytes: int = DEFAULT_MAX_BYTES
    # every date decision (promotion validity, stale knowledge, record timestamps) reads this
    clock: Clock = field(default_factory=SystemClock)


def build_embedder(config: PipelineConfig) -> OnnxEmbedder | SentenceTransformerEmbedder:
    """The configured backend; the model loads lazily (warm_up() loads it now)."""
    backend = OnnxEmbedder if config.embedding_backend == "onnx" else SentenceTransformerEmbedder
    threads = config.embedder_threads or config.threads
    return backend(config.embedder_dir, batch_size=config.embedding_batch_size, threads=threads)


def configure_search_threads() -> None:
    """One OpenMP thread for FAISS and one BLAS thread for numpy: a single query over a shop's
    index, or the intent examples' cosines, is tiny work, and on a busy 2-core machine the
    pools' spinning threads fight the embedder's. FAISS's turned a 14 ms p95 into 180 ms
    (bench/history_speed.py); OpenBLAS's, once the intent examples grew past its threading
    size, turned a 0.1 ms product into 7 ms and the intent stage's p50 from 2.4 ms into 13.5.
    Process-wide, so it is set here, by the application."""
    import faiss
    import threadpoolctl

    faiss.omp_set_num_threads(1)
    threadpoolctl.threadpool_limits(1, user_api="blas")


def build_knowledge_base(
    config: PipelineConfig, client: redis.Redis | None = None
) -> KnowledgeBase:
    """Connects Redis now; the embedding model loads lazily (call warm_up() to load it now)."""
    configure_search_threads()
    client = client or connect(config.redis)
    store = KBStore(client, max_age=config.metadata_max_age)
    cache = ShopCache(config.index_cache_bytes)
    return KnowledgeBase(store, build_embedder(config), config.retrieval, index_cache=cache)


def build_suggester(
    config: PipelineConfig,
    kb: KnowledgeBase | None = None,
    *,
    history: ResponseBank | None = None,
) -> Suggester:
    """The whole pipeline on one Redis; models load in warm_up(). The history banks share
    the KB indexes' cache: one bound for both."""
    kb = kb or build_knowledge_base(config)
    client = kb.store.client
    max_age = config.metadata_max_age
    banks = ResponseBank(
        client,
        kb.embedder,
        prefix=config.history_prefix,
        max_age=max_age,
        selector=LearnedSelector(SelectorStore(client, prefix=config.history_prefix)),
        cache=kb.indexes.cache,
    )
    policies = PolicyStore(client, max_age=max_age)
    generator = None if config.llm_backend == "none" else build_generator(config.llm)
    return Suggester(
        kb,
        default_classifier(kb.embedder, IntentExampleStore(client)),
        policies=policies,
        clock=config.clock,
        history=history or banks,
        generator=generator,
        shop_names=_policy_shop_names(kb, policies) | demo_shop_names(),
        config=SuggesterConfig(
            draft=config.draft, concurrent_retrievals=config.concurrent_retrievals
        ),
    )


def _policy_shop_names(kb: KnowledgeBase, policies: PolicyStore) -> dict[str, str]:
    """The names the shops' policies give them. Read at start-up: a store that cannot list its
    shops (the set's key damaged) leaves the names to requests, not the start-up to fail (a
    damaged policy already reads as the defaults)."""
    try:
        shops = kb.shops()
    except StoreUnavailable as exc:
        log.warning("shop names not read at start-up: %s", exc)
        return {}
    return {s: policies.get(s).shop_name for s in shops}


def demo_shop_names() -> dict[str, str]:
    return {shop.shop_id: shop.name for shop in demo_shops()}
