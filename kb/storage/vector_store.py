"""Vectors of texts embedded before, kept in Redis per model and role.

Fixed text sets (the shipped intent examples: ~1,500 texts, 15 s of embedding on 2 cores) are
embedded once per model and Redis, not once per process: the CLI, each service replica and each
eval worker start in a fraction of a second after the first. The cache is an optimisation only:
when Redis fails, the texts are embedded as if it were empty.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import redis

from kb.models.embedder import Embedder, Role, Vectors


class StoredVectors:
    def __init__(self, client: redis.Redis, prefix: str = "vectors") -> None:
        self.client = client
        self.prefix = prefix

    def embed(self, embedder: Embedder, texts: Sequence[str], *, role: Role) -> Vectors:
        """embedder.embed_batch(texts), reusing and storing vectors under the model's name."""
        if not texts:
            return embedder.embed_batch(texts, role=role)
        key = f"{self.prefix}:{embedder.name}:{role}"
        try:
            stored: list[bytes | None] = self.client.hmget(key, list(texts))  # type: ignore[assignment]
        except redis.RedisError:
            return embedder.embed_batch(texts, role=role)
        pairs = zip(texts, stored, strict=True)
        missing = list(dict.fromkeys(t for t, raw in pairs if raw is None))
        fresh: dict[str, np.ndarray] = {}
        if missing:
            fresh = dict(zip(missing, embedder.embed_batch(missing, role=role), strict=True))
            rows = {t: v.astype(np.float32).tobytes() for t, v in fresh.items()}
            # A failed write loses nothing: only the next process pays for these again.
            with contextlib.suppress(redis.RedisError):
                self.client.hset(key, mapping=rows)  # type: ignore[arg-type]
        vectors = [
            fresh[t] if raw is None else np.frombuffer(raw, dtype=np.float32)
            for t, raw in zip(texts, stored, strict=True)
        ]
        return np.vstack(vectors).astype(np.float32, copy=False)
