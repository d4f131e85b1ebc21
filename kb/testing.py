"""Shipped fakes for code that uses kb, as httpx ships MockTransport: no model files, no downloads.

    HashEmbedder   an Embedder: hashed character n-grams, L2-normalised. Texts that share
                   characters and words get close vectors, so retrieval, dedup and caching logic
                   behave sensibly; paraphrases that share no characters do not (that is what
                   the real e5 model is for).

tests/kb/test_embedder_contract.py holds it to the same contract as the real ONNX and torch
embedders, so a test that passes on the fake is testing code the real model also satisfies.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

from kb.models.embedder import Role, Vectors


class HashEmbedder:
    """Deterministic vectors from character 1- to `max_n`-grams hashed into `dimension` buckets
    (the hashing trick, with a hashed sign so collisions cancel rather than pile up).

    Both roles give the same vector: e5's query/passage prompts make retrieval asymmetric, a
    refinement no logic test should depend on. `batches` and `texts` count the calls, so a test
    can check that a cache saved work.
    """

    def __init__(self, dimension: int = 384, *, max_n: int = 3) -> None:
        if dimension < 2 or max_n < 1:
            raise ValueError("dimension must be >= 2 and max_n >= 1")
        self.dimension = dimension
        self.max_n = max_n
        self.batches = 0
        self.texts = 0

    @property
    def name(self) -> str:
        # Stored indexes record the model's name: another dimension or n-gram size is
        # another model, whose vectors must not be mixed with these.
        return f"hash-ngrams-{self.max_n}-{self.dimension}"

    def warm_up(self) -> None:
        """Nothing to load; present because the real embedders have it."""

    def embed_batch(self, texts: Sequence[str], *, role: Role) -> Vectors:
        if role not in ("query", "passage"):
            raise ValueError(f"role must be 'query' or 'passage', not {role!r}")
        self.batches += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._vector(text)
        return out

    def _vector(self, text: str) -> Vectors:
        vector = np.zeros(self.dimension, dtype=np.float32)
        chars = _normalise(text)
        for n in range(1, self.max_n + 1):
            for start in range(len(chars) - n + 1):
                code = zlib.crc32(chars[start : start + n].encode("utf-8"))
                # the low bit picks the sign, the rest the bucket; longer n-grams weigh more,
                # as they say more about a text than its single characters do
                vector[(code >> 1) % self.dimension] += n if code & 1 else -n
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            # No characters (or a perfect cancellation): a fixed unit vector, as a real model
            # also returns some unit vector for an empty text.
            vector[0] = 1.0
            return vector
        return vector / norm


def _normalise(text: str) -> str:
    """Full-width to half-width, lower case, and only letters and digits: punctuation and spaces
    should not make two questions look alike."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if ch.isalnum())
