"""Embedders: the Embedder Protocol (one required method) and a sentence-transformers backend.

The e5 family needs different prompts for questions and for the texts they should find, so
`embed_batch` takes `role`: "query" for what customers ask, "passage" for what the KB holds.
Vectors are float32, L2-normalised, so inner product is cosine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np

from kb.errors import ModelError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Vectors: TypeAlias = NDArray[np.float32]
else:
    Vectors: TypeAlias = np.ndarray

Role: TypeAlias = Literal["query", "passage"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into normalised float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    def embed_batch(self, texts: Sequence[str], *, role: Role) -> Vectors: ...


def embed_query(embedder: Embedder, text: str) -> Vectors:
    """One query vector, shape (dim,)."""
    return embedder.embed_batch([text], role="query")[0]


class QueryCache:
    """LRU of query vectors: agents' customers ask the same few hundred things.

    Per text, for the few texts one suggestion embeds at once (its message, maybe its raw
    form, the agent's turn): a batch of those runs the model once for the texts not cached.
    Bigger batches (imports) pass through, so they cannot flush what requests reuse."""

    MAX_BATCH = 4

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def embed(
        self, texts: Sequence[str], role: Role, compute: Callable[[Sequence[str]], Vectors]
    ) -> Vectors:
        """`compute(texts)`'s vectors, running it only on the texts not cached."""
        if role != "query" or not self.size or not texts or len(texts) > self.MAX_BATCH:
            return compute(texts)
        with self._lock:
            found = [self._vectors.get(text) for text in texts]
            for text, vector in zip(texts, found, strict=True):
                if vector is not None:
                    self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        fresh: dict[str, Vectors] = {}
        if missing:
            fresh = dict(zip(missing, compute(missing), strict=True))
            with self._lock:
                for text, vector in fresh.items():
                    self._vectors[text] = vector
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return np.stack(
            [v if v is not None else fresh[t] for t, v in zip(texts, found, strict=True)]
        )


class SentenceTransformerEmbedder:
    """Any sentence-transformers folder on disk (the assembled e5 by default); loads lazily."""

    def __init__(
        self,
        model_dir: Path,
        *,
        batch_size: int = 32,
        device: str = "cpu",
        query_cache_size: int = 2048,
        threads: int | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()
        self.cache = QueryCache(query_cache_size)

    @property
    def name(self) -> str:
        return self.model_dir.name

    def warm_up(self) -> None:
        """Load the model once; safe to call again."""
        with self._lock:
            if self._model is not None:
                return
            if not (self.model_dir / "modules.json").exists():
                raise ModelError(
                    f"no sentence-transformers model at {self.model_dir}; run `copilot setup` first"
                )
            try:
                import torch
                from sentence_transformers import SentenceTransformer

                if self.threads:
                    torch.set_num_threads(self.threads)
                self._model = SentenceTransformer(
                    str(self.model_dir), device=self.device, local_files_only=True
                )
            except (OSError, ValueError, RuntimeError) as exc:
                raise ModelError(
                    f"cannot load the embedding model at {self.model_dir}: {exc}"
                ) from exc

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._model.get_sentence_embedding_dimension())

    def embed_batch(self, texts: Sequence[str], *, role: Role) -> Vectors:
        return self.cache.embed(texts, role, lambda todo: self._encode(todo, role))

    def _encode(self, texts: Sequence[str], role: Role) -> Vectors:
        self.warm_up()
        return self._model.encode(
            list(texts),
            prompt_name=role,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)
