"""Which of the neighbour pool's replies to offer: a model learned from the shop's own chats.

neighbour_pick (copilot.history.index) lets the examples nearest the situation vote. A vote
share knows nothing about the reply itself, so a frequent generic reply outvotes the one that
answers. The learned selector scores how well each pool reply fits the conversation so far,

    fit(m, a, r) = scale * (W [m; a] + b) . r

m and a the stored e5 vectors of the customer's message and the agent turn before it, r the
reply's e5 "passage:" vector, and offers the replies with the best blend

    (1 - blend) * vote share + blend * softmax(fit over the pool)

blend chosen on held-out examples at training (copilot.history.selector_training). A model
belongs to
one bank version: once the bank is imported again it is ignored until trained again, and a shop
without one gets neighbour_pick unchanged.

Redis: {prefix}:{shop}:selector, a hash: weights, bias, reply_ids, reply_vectors, meta (JSON)
and version (incremented by each save, the one field read per search).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import redis

from copilot.errors import HistoryUnavailable
from copilot.history.index import BankIndex, Scored, neighbour_votes
from copilot.history.mining import HistoryConfig
from copilot.text.similarity import bigrams, text_overlap_matrix
from kb.models.embedder import Vectors


class ReplySelector(Protocol):
    def select(
        self,
        shop_id: str,
        index: BankIndex,
        vector: Vectors,
        agent_vector: Vectors | None,
        intent: str | None,
        k: int,
        cfg: HistoryConfig,
    ) -> list[Scored] | None:
        """The k replies to offer, or None: no opinion (the bank's own neighbour_pick)."""
        ...


@dataclass(frozen=True)
class SelectorModel:
    """One shop's trained selector, for one bank version."""

    weights: np.ndarray  # d x 2d: [W_m, W_a]
    bias: np.ndarray  # d
    scale: float
    blend: float  # 0: vote share only, 1: fit only
    reply_ids: tuple[str, ...]
    reply_vectors: np.ndarray  # a row per reply id, e5 "passage:" vectors
    bank_version: int
    embedding_model: str
    version: int = 0  # set by the store
    trained_at: str = ""  # ISO time by the injected clock
    report: dict[str, Any] | None = None  # the held-out figures of its training

    def query(self, vector: np.ndarray, agent_vector: np.ndarray | None) -> np.ndarray:
        """W [m; a] + b: the direction a fitting reply's vector points to."""
        dim = len(vector)
        out = self.weights[:, :dim] @ vector + self.bias
        if agent_vector is not None:
            out = out + self.weights[:, dim:] @ agent_vector
        return out


@dataclass(frozen=True)
class Pool:
    """The neighbour vote's candidates: bank reply positions, the share of the votes each wins
    (as neighbour_pick counts a win) and their pairwise resemblance."""

    replies: np.ndarray  # int, reply positions in the index
    shares: np.ndarray  # float, sums to >= 1 (a vote may be won by several similar replies)
    resemblance: np.ndarray  # pool x pool bigram overlap
    best_unit: np.ndarray  # per pool reply, its nearest voting example
    similarity: np.ndarray  # per pool reply, its best message cosine


def vote_pool(
    index: BankIndex, units: np.ndarray, cosine: np.ndarray, votes: np.ndarray, match: float
) -> Pool:
    """The pool of the voting examples (nearest first), shares counted as neighbour_pick does."""
    pool, voter = np.unique(np.asarray(index.unit_reply)[units], return_inverse=True)
    resemblance = text_overlap_matrix([index.reply_key(int(r)) for r in pool])
    won = (resemblance[voter] >= match).astype(np.float64)  # voters x pool
    total = float(votes.sum()) or 1.0
    first = np.full(len(pool), len(units), dtype=np.int64)
    np.minimum.at(first, voter, np.arange(len(units)))
    best_similarity = np.zeros(len(pool))
    np.maximum.at(best_similarity, voter, cosine)
    return Pool(pool, votes @ won / total, resemblance, units[first], best_similarity)


def blend_scores(shares: np.ndarray, fits: np.ndarray, blend: float) -> np.ndarray:
    """(1 - blend) * share + blend * softmax(fits): both parts sum to about 1 over the pool."""
    if blend <= 0 or not len(fits):
        return shares / (shares.sum() or 1.0)
    z = np.exp(fits - fits.max())
    return (1 - blend) * shares / (shares.sum() or 1.0) + blend * z / z.sum()


def pick_order(scores: np.ndarray, resemblance: np.ndarray, match: float, k: int) -> list[int]:
    """Pool positions, best first, skipping a reply that says what one already picked says."""
    picked: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if len(picked) == k:
            break
        if not picked or resemblance[i, picked].max() < match:
            picked.append(int(i))
    return picked


def pool_fits(model: SelectorModel, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """fit of each pool reply (its row in model.reply_vectors, -1: unknown, scores lowest)."""
    known = rows >= 0
    fits = np.full(len(rows), -np.inf if not known.any() else 0.0)
    if known.any():
        fits[known] = model.scale * (model.reply_vectors[rows[known]] @ query)
        fits[~known] = fits[known].min()
    return fits


class SelectorStore:
    """Saves and loads SelectorModels in Redis."""

    def __init__(self, client: redis.Redis, *, prefix: str = "hist") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, shop_id: str) -> str:
        return f"{self.prefix}:{shop_id}:selector"

    def save(self, shop_id: str, model: SelectorModel) -> int:
        meta = {
            "scale": model.scale, "blend": model.blend, "bank_version": model.bank_version,
            "embedding_model": model.embedding_model, "trained_at": model.trained_at,
            "dim": int(model.weights.shape[0]), "report": model.report or {},
        }  # fmt: skip
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            self.key(shop_id),
            mapping={
                "weights": model.weights.astype(np.float32).tobytes(),
                "bias": model.bias.astype(np.float32).tobytes(),
                "reply_ids": json.dumps(list(model.reply_ids)),
                "reply_vectors": model.reply_vectors.astype(np.float32).tobytes(),
                "meta": json.dumps(meta, ensure_ascii=False),
            },
        )
        pipe.hincrby(self.key(shop_id), "version", 1)
        return int(self._call(pipe.execute)[-1])

    def version(self, shop_id: str) -> int:
        raw = self._call(self.client.hget, self.key(shop_id), "version")
        return int(raw) if raw is not None else 0

    def load(self, shop_id: str) -> SelectorModel | None:
        raw = self._call(self.client.hgetall, self.key(shop_id))
        if not raw or b"meta" not in raw:
            return None
        meta = json.loads(raw[b"meta"])
        dim = int(meta["dim"])
        ids = tuple(json.loads(raw[b"reply_ids"]))
        return SelectorModel(
            weights=np.frombuffer(raw[b"weights"], dtype=np.float32).reshape(dim, 2 * dim),
            bias=np.frombuffer(raw[b"bias"], dtype=np.float32),
            scale=float(meta["scale"]),
            blend=float(meta["blend"]),
            reply_ids=ids,
            reply_vectors=np.frombuffer(raw[b"reply_vectors"], dtype=np.float32).reshape(
                len(ids), dim
            ),
            bank_version=int(meta["bank_version"]),
            embedding_model=str(meta["embedding_model"]),
            version=int(raw.get(b"version", 0)),
            trained_at=str(meta.get("trained_at", "")),
            report=meta.get("report") or None,
        )

    @staticmethod
    def _call(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except (redis.RedisError, OSError) as exc:
            raise HistoryUnavailable(f"the reply selector's Redis failed: {exc}") from exc


class LearnedSelector:
    """ReplySelector over the stored models: one HGET per search (the model's version); the
    model itself is read again only when that version moves."""

    def __init__(self, store: SelectorStore) -> None:
        self.store = store
        self._loaded: dict[str, tuple[int, SelectorModel | None, dict[str, int]]] = {}
        self._guard = threading.Lock()

    def model(self, shop_id: str, bank_version: int, embedding_model: str) -> SelectorModel | None:
        """The shop's model when it was trained on this bank version and embedder."""
        version = self.store.version(shop_id)
        if not version:
            return None
        cached = self._loaded.get(shop_id)
        if cached is None or cached[0] != version:
            model = self.store.load(shop_id)
            rows = {rid: i for i, rid in enumerate(model.reply_ids)} if model else {}
            cached = (version, model, rows)
            with self._guard:
                self._loaded[shop_id] = cached
        model = cached[1]
        if model is None or model.bank_version != bank_version:
            return None  # trained on another bank: its reply rows no longer match
        return model if model.embedding_model == embedding_model else None

    def select(
        self,
        shop_id: str,
        index: BankIndex,
        vector: Vectors,
        agent_vector: Vectors | None,
        intent: str | None,
        k: int,
        cfg: HistoryConfig,
    ) -> list[Scored] | None:
        model = self.model(shop_id, index.version, index.embedding_model)
        if model is None or model.blend <= 0:
            return None
        units, cosine, votes = neighbour_votes(index, vector, agent_vector, cfg)
        if not len(units):
            return []
        pool = vote_pool(index, units, cosine, votes, cfg.neighbour_match)
        rows_by_id = self._loaded[shop_id][2]
        rows = np.array([rows_by_id.get(index.replies[int(r)].id, -1) for r in pool.replies])
        fits = pool_fits(model, rows, model.query(vector, agent_vector))
        scores = blend_scores(pool.shares, fits, model.blend)
        picked = pick_order(scores, pool.resemblance, cfg.neighbour_match, k)
        return [_scored(index, pool, i, float(scores[i]), float(fits[i])) for i in picked]


def _scored(index: BankIndex, pool: Pool, i: int, score: float, fit: float) -> Scored:
    reply = int(pool.replies[i])
    parts = {"votes": float(pool.shares[i]), "fit": fit, "similarity": float(pool.similarity[i])}
    return Scored(
        index.replies[reply], score, int(pool.best_unit[i]), parts, bigrams(index.reply_key(reply))
    )


def clock_stamp(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def reply_rows(model_ids: Sequence[str], index: BankIndex) -> np.ndarray:
    """Each bank reply's row in the model's reply vectors (-1: none)."""
    rows = {rid: i for i, rid in enumerate(model_ids)}
    return np.array([rows.get(r.id, -1) for r in index.replies], dtype=np.int64)
