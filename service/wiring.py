"""Builds the long-lived objects from Settings; shared by the CLI and the service lifespan."""

from __future__ import annotations

from kb.embedder import SentenceTransformerEmbedder
from kb.knowledge import KnowledgeBase
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


def build_knowledge_base(settings: Settings) -> KnowledgeBase:
    """Connects Redis now; the embedding model loads lazily (call warm_up() to load it now)."""
    client = connect(settings.redis_config())
    return KnowledgeBase(KBStore(client), build_embedder(settings), settings.retrieval_config())
