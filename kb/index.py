"""Per-shop in-memory indexes built from a store snapshot: FAISS (dense) and bm25s (keywords).

An index is immutable and tagged with the shop version it was built from. IndexCache hands out
the current one and rebuilds when the shop's version in Redis has moved, so an import by any
process (or replica) becomes visible at the next query without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kb.embedder import Vectors
from kb.store import KBStore, ShopSnapshot
from kb.tokenize import tokenize
from kb.types import FAQ, Entry, IndexUnit, Product, Promotion
from kb.units import index_units

_MASKS_KEPT = 256  # filters kept per shop index; any client can ask for new ones


@dataclass(frozen=True)
class UnitHit:
    unit: int  # position in ShopIndex.units
    score: float


@dataclass
class ShopIndex:
    shop_id: str
    version: int
    embedding_model: str
    entries: dict[str, Entry]
    units: list[IndexUnit]
    unit_entry: list[str]
    dense: Any  # faiss.IndexFlatIP over unit vectors
    keyword: Any  # bm25s.BM25 over unit tokens, or None when the shop has no units
    _masks: dict[tuple[frozenset[str] | None, str | None], Vectors] = field(default_factory=dict)

    @classmethod
    def build(cls, snap: ShopSnapshot) -> ShopIndex:
        import bm25s
        import faiss

        units: list[IndexUnit] = []
        rows: list[Vectors] = []
        for entry in snap.entries:
            entry_units = index_units(entry)
            vectors = snap.vectors.get(entry.id)
            if vectors is None or vectors.shape[0] != len(entry_units):
                raise ValueError(
                    f"vectors of {entry.id!r} do not match its units; re-import the shop"
                )
            units.extend(entry_units)
            rows.append(vectors)
        dim = rows[0].shape[1] if rows else 1
        dense = faiss.IndexFlatIP(dim)
        keyword = None
        if units:
            dense.add(np.ascontiguousarray(np.vstack(rows), dtype=np.float32))
            keyword = bm25s.BM25()
            keyword.index([tokenize(u.text) or [""] for u in units], show_progress=False)
        return cls(
            shop_id=snap.shop_id,
            version=snap.version,
            embedding_model=snap.embedding_model,
            entries={e.id: e for e in snap.entries},
            units=units,
            unit_entry=[u.entry_id for u in units],
            dense=dense,
            keyword=keyword,
        )

    def allowed(self, kinds: frozenset[str] | None, product_id: str | None) -> Vectors | None:
        """A 0/1 mask over units for a filter (cached), or None for no filter."""
        if kinds is None and product_id is None:
            return None
        key = (kinds, product_id)
        if key not in self._masks:
            if len(self._masks) >= _MASKS_KEPT:
                self._masks.clear()  # a filter per product of a large shop: start over
            keep = [_matches(self.entries[e], kinds, product_id) for e in self.unit_entry]
            self._masks[key] = np.asarray(keep, dtype=np.float32)
        return self._masks[key]

    def search_dense(self, query: Vectors, n: int, mask: Vectors | None) -> list[UnitHit]:
        import faiss

        if not self.units:
            return []
        params = None
        if mask is not None:
            ids = np.flatnonzero(mask).astype(np.int64)
            if ids.size == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))  # type: ignore[call-arg]
        n = min(n, len(self.units))
        scores, ids = self.dense.search(query.reshape(1, -1).astype(np.float32), n, params=params)
        return [UnitHit(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search_keyword(self, query: str, n: int, mask: Vectors | None) -> list[UnitHit]:
        tokens = tokenize(query)
        if self.keyword is None or not tokens:
            return []
        scores = self.keyword.get_scores(tokens)
        if mask is not None:
            scores = scores * mask
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [UnitHit(int(i), float(scores[i])) for i in top if scores[i] > 0]


def _matches(entry: Entry, kinds: frozenset[str] | None, product_id: str | None) -> bool:
    if kinds is not None and entry.kind not in kinds:
        return False
    if product_id is None:
        return True
    if isinstance(entry, Product):
        return entry.id == product_id
    if isinstance(entry, FAQ):
        return entry.product_id == product_id
    if isinstance(entry, Promotion):
        return product_id in entry.product_ids
    return False


class IndexCache:
    """Current ShopIndex per shop; rebuilt when the shop's version moves (one build at a time)."""

    def __init__(
        self, store: KBStore, builder: Callable[[ShopSnapshot], ShopIndex] = ShopIndex.build
    ) -> None:
        self.store = store
        self.builder = builder
        self._indexes: dict[str, ShopIndex] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.builds = 0

    def get(self, shop_id: str) -> ShopIndex:
        version = self.store.version(shop_id)
        current = self._indexes.get(shop_id)
        if current is not None and current.version == version:
            return current
        with self._lock_for(shop_id):
            current = self._indexes.get(shop_id)
            if current is None or current.version != self.store.version(shop_id):
                current = self.builder(self.store.snapshot(shop_id))
                self._indexes[shop_id] = current
                self.builds += 1
            return current

    def invalidate(self, shop_id: str) -> None:
        self._indexes.pop(shop_id, None)

    def held(self) -> dict[str, ShopIndex]:
        """The indexes built so far, as they are (no Redis read): what serves during an outage."""
        return dict(self._indexes)

    def _lock_for(self, shop_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(shop_id, threading.Lock())
