"""KnowledgeBase: the one object the copilot and the service use for per-shop knowledge; the
pipeline reads it through kb.source.KnowledgeSource.

It validates and embeds entries, writes them to the store in one transaction, and searches
through the version-checked index cache. Unchanged entries keep their stored vectors, so a
trainer re-uploading the whole sheet after fixing one row pays for one row.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb import unit_tokens
from kb.errors import KBError, KBImportError, RowError
from kb.files import importers
from kb.index import IndexCache, ShopIndex
from kb.lifecycle import SupportsWarmUp
from kb.models.embedder import Embedder, Vectors
from kb.retrieval import HybridRetriever, RetrievalConfig
from kb.storage.shop_cache import ShopCache
from kb.storage.store import KBStore, StoredEntry, check_shop_id, entry_json
from kb.tokens import warm_up as warm_up_tokenizer
from kb.types import Entry, Hit, ShopStats
from kb.units import index_units


@dataclass(frozen=True)
class ImportReport:
    shop_id: str
    version: int
    added: int
    updated: int
    unchanged: int
    embedded_units: int
    seconds: float
    # rows the import left out (a question without an answer yet), as "file, row N: why"
    left_out: tuple[str, ...] = ()


class KnowledgeBase:
    def __init__(
        self,
        store: KBStore,
        embedder: Embedder,
        retrieval: RetrievalConfig | None = None,
        *,
        index_cache: ShopCache | None = None,
    ) -> None:
        """index_cache: where the shops' indexes are held, bounded by bytes (shared with the
        history banks in the service); default: one of its own with the default bound."""
        self.store = store
        self.embedder = embedder
        self.indexes = IndexCache(store, cache=index_cache)
        self.retriever = HybridRetriever(self.indexes, embedder, retrieval)

    def warm_up(self) -> None:
        """Load the embedding model and jieba's dictionary; idempotent."""
        if isinstance(self.embedder, SupportsWarmUp):
            self.embedder.warm_up()
        warm_up_tokenizer()

    def add(
        self, shop_id: str, entries: Sequence[Entry], *, replace_all: bool = False
    ) -> ImportReport:
        """Insert or update entries (all or nothing). replace_all drops entries not given."""
        started = time.perf_counter()
        check_shop_id(shop_id)
        _reject_duplicates(entries)
        existing = self.store.stored(
            shop_id, [e.id for e in entries], embedding_model=self.embedder.name
        )
        reused = _reusable_vectors(entries, existing)
        fresh = self._embed([e for e in entries if e.id not in reused])
        version = self.store.put(
            shop_id,
            entries,
            reused | fresh,
            embedding_model=self.embedder.name,
            replace_all=replace_all,
            tokens=_unit_tokens(entries, existing),
        )
        updated = sum(1 for e in entries if e.id in existing and e.id not in reused)
        return ImportReport(
            shop_id=shop_id,
            version=version,
            added=len(entries) - len(reused) - updated,
            updated=updated,
            unchanged=len(reused),
            embedded_units=sum(v.shape[0] for v in fresh.values()),
            seconds=time.perf_counter() - started,
        )

    def import_files(
        self,
        shop_id: str,
        paths: Sequence[Path],
        *,
        kind: str | None = None,
        replace_all: bool = False,
    ) -> ImportReport:
        loaded = importers.read_files(shop_id, paths, kind=kind)
        report = self.add(shop_id, loaded.entries, replace_all=replace_all)
        return dataclasses.replace(report, left_out=tuple(map(str, loaded.left_out)))

    def import_bytes(
        self, shop_id: str, filename: str, data: bytes, *, kind: str | None = None
    ) -> ImportReport:
        loaded = importers.read_bytes(shop_id, filename, data, kind=kind)
        report = self.add(shop_id, loaded.entries)
        return dataclasses.replace(report, left_out=tuple(map(str, loaded.left_out)))

    def reindex(self, shop_id: str) -> ImportReport:
        """Re-embed every entry (after switching embedding models)."""
        entries = self.store.entries(shop_id)
        started = time.perf_counter()
        vectors = self._embed(entries)
        version = self.store.put(
            shop_id, entries, vectors, embedding_model=self.embedder.name, replace_all=True,
            tokens=_unit_tokens(entries, {}),
        )  # fmt: skip
        return ImportReport(
            shop_id,
            version,
            0,
            len(entries),
            0,
            sum(len(v) for v in vectors.values()),
            time.perf_counter() - started,
        )

    def search(
        self,
        shop_id: str,
        query: str,
        *,
        k: int = 5,
        kinds: Iterable[str] | None = None,
        product_id: str | None = None,
    ) -> list[Hit]:
        # one version read for the check and the retriever's look-up alike (a Redis round trip)
        with self.store.consistent_versions():
            index = self.indexes.get(shop_id)
            if index.units and index.embedding_model != self.embedder.name:
                raise KBError(
                    f"shop {shop_id!r} was embedded with {index.embedding_model!r}, "
                    f"not {self.embedder.name!r}; "
                    f"run `copilot kb reindex {shop_id}`"
                )
            return self.retriever.search(shop_id, query, k=k, kinds=kinds, product_id=product_id)

    def index(self, shop_id: str) -> ShopIndex:
        return self.indexes.get(shop_id)

    def held(self) -> Collection[str]:
        return self.indexes.held().keys()

    def warm(self, shop_ids: Iterable[str]) -> list[str]:
        return self.indexes.warm(shop_ids)

    def exists(self, shop_id: str) -> bool:
        return self.store.exists(shop_id)

    def versions(self, shop_ids: Sequence[str]) -> dict[str, int]:
        return self.store.versions(shop_ids)

    def consistent_versions(self) -> AbstractContextManager[None]:
        return self.store.consistent_versions()

    def get(self, shop_id: str, entry_id: str) -> Entry:
        return self.store.get(shop_id, entry_id)

    def entries(self, shop_id: str) -> list[Entry]:
        return self.store.entries(shop_id)

    def delete(self, shop_id: str, entry_ids: Sequence[str]) -> int:
        return self.store.delete(shop_id, entry_ids)

    def shops(self) -> list[str]:
        return self.store.shops()

    def stats(self, shop_id: str) -> ShopStats:
        return self.store.stats(shop_id)

    def _embed(self, entries: Sequence[Entry]) -> dict[str, Vectors]:
        units_per_entry = [index_units(e) for e in entries]
        texts = [u.text for units in units_per_entry for u in units]
        if not texts:
            return {e.id: np.zeros((0, 1), dtype=np.float32) for e in entries}
        matrix = self.embedder.embed_batch(texts, role="passage")
        vectors, row = {}, 0
        for entry, units in zip(entries, units_per_entry, strict=True):
            vectors[entry.id] = matrix[row : row + len(units)]
            row += len(units)
        return vectors


def _reusable_vectors(
    entries: Sequence[Entry], existing: dict[str, StoredEntry]
) -> dict[str, Vectors]:
    """Stored vectors of entries whose content did not change (same model, same units)."""
    reused: dict[str, Vectors] = {}
    for entry in entries:
        stored = existing.get(entry.id)
        if stored is None or stored.vectors is None or stored.entry_json != entry_json(entry):
            continue
        units = len(index_units(entry))
        if units and stored.vectors.size % units == 0:
            reused[entry.id] = stored.vectors.reshape(units, -1)
    return reused


def _unit_tokens(entries: Sequence[Entry], existing: dict[str, StoredEntry]) -> dict[str, str]:
    """Each entry's units' keyword tokens, computed now so that no index build has to (the
    stored ones kept for entries whose content did not change)."""
    tokens = {}
    for entry in entries:
        stored = existing.get(entry.id)
        kept = stored.tokens.decode() if stored is not None and stored.tokens else ""
        if stored and unit_tokens.current(kept) and stored.entry_json == entry_json(entry):
            tokens[entry.id] = kept
        else:
            tokens[entry.id] = unit_tokens.entry_tokens(entry)
    return tokens


def _reject_duplicates(entries: Sequence[Entry]) -> None:
    seen: set[str] = set()
    errors = []
    for position, entry in enumerate(entries, start=1):
        if entry.id in seen:
            errors.append(RowError("<entries>", position, "id", f"duplicate id {entry.id!r}"))
        seen.add(entry.id)
    if errors:
        raise KBImportError(errors)
