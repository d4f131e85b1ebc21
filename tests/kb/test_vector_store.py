"""Stored vectors: a fixed text set is embedded once per model and Redis, not once per process."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import redis

from kb.models.embedder import Embedder, Role, Vectors
from kb.storage.vector_store import StoredVectors


class Counting:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.texts = inner, 0

    @property
    def name(self) -> str:
        return self.inner.name

    def embed_batch(self, texts: Sequence[str], *, role: Role) -> Vectors:
        self.texts += len(texts)
        return self.inner.embed_batch(texts, role=role)


DIM = 384  # multilingual-e5-small
TEXTS = ["这个杯子能装开水吗", "什么时候发货", "能改地址吗", "什么时候发货"]


def test_a_second_process_embeds_nothing(redis_client: redis.Redis, embedder: Embedder) -> None:
    first, second = Counting(embedder), Counting(embedder)
    vectors = StoredVectors(redis_client).embed(first, TEXTS, role="query")
    again = StoredVectors(redis_client).embed(second, TEXTS, role="query")
    assert first.texts == 3 and second.texts == 0  # the repeated text is embedded once
    assert vectors.shape == (4, DIM) and np.allclose(vectors, again)
    assert np.allclose(vectors, embedder.embed_batch(TEXTS, role="query"), atol=1e-5)
    passages = Counting(embedder)
    StoredVectors(redis_client).embed(passages, TEXTS[:1], role="passage")
    assert passages.texts == 1  # a role is its own set: passage vectors differ from query ones


def test_without_redis_the_texts_are_embedded_anyway(embedder: Embedder) -> None:
    down = redis.Redis(port=1, socket_connect_timeout=0.2)
    counting = Counting(embedder)
    vectors = StoredVectors(down).embed(counting, TEXTS, role="query")
    assert counting.texts == 4 and vectors.shape == (4, DIM)
