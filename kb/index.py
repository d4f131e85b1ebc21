"""Per-shop in-memory indexes built from a store snapshot: FAISS (dense) and bm25s (keywords).

An index is immutable and tagged with the shop version it was built from. IndexCache hands out
the current one and rebuilds when the shop's version in Redis has moved, so an import by any
process (or replica) becomes visible at the next query without a restart. The indexes it holds
are bounded by bytes (kb/storage/shop_cache.py): a shop evicted for lack of room is rebuilt
from Redis
on its next request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import numpy as np

from kb.models.embedder import Vectors
from kb.storage.shop_cache import (
    DICT_SLOT,
    OBJECT_OVERHEAD,
    ShopCache,
    keyword_index_bytes,
    object_bytes,
    strings_bytes,
)
from kb.storage.store import KBStore, ShopSnapshot
from kb.tokens import tokenize
from kb.types import FAQ, Entry, IndexUnit, Product, Promotion
from kb.units import index_units

log = logging.getLogger(__name__)
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
    # what the index holds apart from its cached masks, estimated once at build
    built_bytes: int = 0

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
        index = cls(
            shop_id=snap.shop_id,
            version=snap.version,
            embedding_model=snap.embedding_model,
            entries={e.id: e for e in snap.entries},
            units=units,
            unit_entry=[u.entry_id for u in units],
            dense=dense,
            keyword=keyword,
        )
        index.built_bytes = index.estimate_built_bytes()
        return index

    def estimate_built_bytes(self) -> int:
        """FAISS vectors, the keyword index, the entries and the unit texts."""
        vectors = int(self.dense.ntotal) * int(self.dense.d) * 4
        entries = sum(object_bytes(e) + DICT_SLOT for e in self.entries.values())
        # a unit: its object, its field name and entry id (shared with the entry), its text
        units = len(self.units) * (OBJECT_OVERHEAD + 16) + strings_bytes(u.text for u in self.units)
        return vectors + keyword_index_bytes(self.keyword) + entries + units

    def resident_bytes(self) -> int:
        """What the shop's index holds now: grows with the filter masks cached as it serves."""
        # O(1), as it runs at every search: every mask is a float32 per unit
        mask_bytes = len(self.units) * 4 + OBJECT_OVERHEAD + 2 * DICT_SLOT  # + its key
        return self.built_bytes + len(self._masks) * mask_bytes

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


class ShopIndexes(Protocol):
    """Where a shop's built index comes from: the cache (IndexCache), or in degraded mode only
    what this process holds (service/degraded.py)."""

    def get(self, shop_id: str) -> ShopIndex:
        """The shop's current index; raises ShopNotFound."""
        ...


class IndexCache:
    """Current ShopIndex per shop, in a ShopCache bounded by bytes; rebuilt when the shop's
    version moves or after it was evicted (one build at a time per shop)."""

    def __init__(
        self,
        store: KBStore,
        builder: Callable[[ShopSnapshot], ShopIndex] = ShopIndex.build,
        cache: ShopCache | None = None,
    ) -> None:
        self.store = store
        self.builder = builder
        self.cache = cache if cache is not None else ShopCache()
        # Two stores on one cache (another prefix) must not share indexes.
        self.namespace = f"kb-index:{store.prefix}"
        self._count = threading.Lock()
        self.builds = 0

    def get(self, shop_id: str) -> ShopIndex:
        return self.cache.get(
            (self.namespace, shop_id),
            lambda: self._build(shop_id),
            lambda index: index.version == self.store.version(shop_id),
        )

    def invalidate(self, shop_id: str) -> None:
        self.cache.discard((self.namespace, shop_id))

    def warm(self, shop_ids: Iterable[str]) -> list[str]:
        """Build these shops' indexes in order while they fit the cache; the shops built. Past
        the bound, building more would only evict the ones just built: the rest are built on
        their first request. A shop whose stored knowledge cannot be read is logged and left
        out: one damaged key must not keep a process from starting."""
        warmed: list[str] = []
        for shop_id in shop_ids:
            evictions = self.cache.stats().evictions
            try:
                self.get(shop_id)
            except Exception as exc:  # a damaged shop: the others still warm; its requests retry
                log.warning("index of shop %r not built at start-up: %r", shop_id, exc)
                continue
            if self.cache.stats().evictions > evictions:
                break
            warmed.append(shop_id)
        return warmed

    def holds(self, shop_id: str) -> bool:
        """Whether the shop's index (of any version) is held now."""
        return self.cache.peek((self.namespace, shop_id)) is not None

    def held(self) -> dict[str, ShopIndex]:
        """The indexes held now, as they are (no Redis read): what serves during an outage."""
        return cast(dict[str, ShopIndex], self.cache.held(self.namespace))

    def _build(self, shop_id: str) -> ShopIndex:
        index = self.builder(self.store.snapshot(shop_id))
        with self._count:
            self.builds += 1
        return index
