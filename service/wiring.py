"""Builds the long-lived objects from Settings; shared by the CLI and the service lifespan."""

from __future__ import annotations

from kb.embedder import SentenceTransformerEmbedder
from kb.knowledge import KnowledgeBase
from kb.redis_conn import connect
from kb.store import KBStore
from service.settings import Settings


def build_knowledge_base(settings: Settings) -> KnowledgeBase:
    """Connects Redis now; the embedding model loads lazily (call warm_up() to load it now)."""
    client = connect(settings.redis_config())
    embedder = SentenceTransformerEmbedder(
        settings.embedder_dir(),
        batch_size=settings.embedding_batch_size,
        threads=settings.torch_threads,
    )
    return KnowledgeBase(KBStore(client), embedder, settings.retrieval_config())
