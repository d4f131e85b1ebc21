"""The Redis-backed source of truth: each shop's entries, their unit vectors and its version.

Keys (prefix `kb`):
    kb:shops                 set of shop ids
    kb:{shop}:version        integer, +1 on every change (indexes rebuild when it moves)
    kb:{shop}:entries        hash  entry id -> entry JSON (codec dict form)
    kb:{shop}:vectors        hash  entry id -> float32 matrix bytes, one row per index unit
    kb:{shop}:meta           hash  embedding_model, dim

Every change is one MULTI/EXEC transaction: an import either lands whole or not at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from kb.errors import EntryNotFound, InvalidEntry, ShopNotFound, StoreUnavailable
from kb.files.codec import entry_from_dict, entry_to_dict
from kb.models.embedder import Vectors
from kb.storage.recent import recent_reads
from kb.types import Entry, ShopStats

log = logging.getLogger(__name__)
_SHOP_ID_ALLOWED = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def check_shop_id(shop_id: str) -> str:
    if not shop_id or len(shop_id) > 64 or not set(shop_id) <= _SHOP_ID_ALLOWED:
        raise InvalidEntry(
            "shop_id", f"{shop_id!r}: use 1-64 lower-case letters, digits, '-' or '_'"
        )
    return shop_id


@dataclass(frozen=True)
class ShopSnapshot:
    """A consistent read of one shop: what its index is built from."""

    shop_id: str
    version: int
    entries: tuple[Entry, ...]
    vectors: Mapping[str, Vectors]
    embedding_model: str


@dataclass(frozen=True)
class StoredEntry:
    entry_json: str
    vectors: Vectors | None  # None when stored with another embedding model


def entry_json(entry: Entry) -> str:
    """The stored form; equal JSON means an unchanged entry."""
    return json.dumps(entry_to_dict(entry), ensure_ascii=False)


# Shop versions read within one `consistent_versions()` block (one request): each shop's version
# is read from Redis once, so every stage of a suggestion sees the same KB, in one round trip.
# The set of shops is kept there too, under a key no shop id can take (ids are [A-Za-z0-9_.:-]).
_READ_VERSIONS: ContextVar[dict[str, Any] | None] = ContextVar("kb_read_versions", default=None)
_SHOPS = " shops"


class KBStore:
    def __init__(self, client: redis.Redis, prefix: str = "kb", *, max_age: float = 0.0) -> None:
        """`max_age` > 0: the set of shops and their versions may come from a read that
        recent (seconds; kb/storage/recent.py), from any store on this client."""
        self.client = client
        self.prefix = prefix
        self.max_age = max_age
        self._recent = recent_reads(client)

    def _key(self, shop_id: str, name: str) -> str:
        return f"{self.prefix}:{shop_id}:{name}"

    def shops(self) -> list[str]:
        seen = _READ_VERSIONS.get()
        if seen is not None and _SHOPS in seen:
            return list(seen[_SHOPS])
        shops = self._recent.read((self.prefix, _SHOPS), self.max_age, self._read_shops)
        if seen is not None:
            seen[_SHOPS] = tuple(shops)
        return list(shops)

    def _read_shops(self) -> tuple[str, ...]:
        members = self._call(self.client.smembers, f"{self.prefix}:shops")
        return tuple(sorted(m.decode() for m in members))

    def exists(self, shop_id: str) -> bool:
        if _READ_VERSIONS.get() is not None or self.max_age > 0:  # the whole set, read once
            return shop_id in self.shops()
        return bool(self._call(self.client.sismember, f"{self.prefix}:shops", shop_id))

    def version(self, shop_id: str) -> int:
        return self.versions([shop_id])[shop_id]

    def versions(self, shop_ids: Sequence[str]) -> dict[str, int]:
        """Each shop's version; within a `consistent_versions()` block the ones not read yet
        come in one MGET, and each is read once."""
        seen = _READ_VERSIONS.get()
        missing = [s for s in shop_ids if seen is None or s not in seen]
        if missing:
            read = self._recent_versions(missing)
            if seen is None:
                return read
            seen.update(read)
        assert seen is not None
        return {s: seen[s] for s in shop_ids}

    def _recent_versions(self, shop_ids: Sequence[str]) -> dict[str, int]:
        recent = self._recent
        read = {s: recent.fresh((self.prefix, "version", s), self.max_age) for s in shop_ids}
        missing = [s for s, version in read.items() if version is None]
        if missing:
            generation = recent.generation
            raw = self._call(self.client.mget, [self._key(s, "version") for s in missing])
            for shop_id, value in zip(missing, raw, strict=True):
                read[shop_id] = int(value) if value is not None else 0
                if self.max_age > 0:
                    recent.keep((self.prefix, "version", shop_id), read[shop_id], generation)
        return read  # type: ignore[return-value]

    def forget(self, shop_id: str) -> None:
        """Read the shop's version (and the set of shops) from Redis next time: it changed."""
        self._recent.forget((self.prefix, "version", shop_id), (self.prefix, _SHOPS))

    @contextmanager
    def consistent_versions(self) -> Iterator[None]:
        """Within the block, each shop's version (and the set of shops) is read once: one
        request sees one KB state, in few Redis round trips. Not for blocks that write."""
        token = _READ_VERSIONS.set({})
        try:
            yield
        finally:
            _READ_VERSIONS.reset(token)

    def get(self, shop_id: str, entry_id: str) -> Entry:
        raw = self._call(self.client.hget, self._key(shop_id, "entries"), entry_id)
        if raw is None:
            self._require_shop(shop_id)
            raise EntryNotFound(shop_id, entry_id)
        return entry_from_dict(shop_id, json.loads(raw))

    def entries(self, shop_id: str) -> list[Entry]:
        self._require_shop(shop_id)
        raw = self._call(self.client.hgetall, self._key(shop_id, "entries"))
        return sorted(_readable_entries(shop_id, raw), key=_entry_order)

    def snapshot(self, shop_id: str) -> ShopSnapshot:
        self._require_shop(shop_id)
        pipe = self.client.pipeline(transaction=True)
        for name in ("version", "entries", "vectors", "meta"):
            key = self._key(shop_id, name)
            pipe.get(key) if name == "version" else pipe.hgetall(key)
        version, entries, vectors, meta = self._call(pipe.execute)
        dim = int(meta.get(b"dim", 0))
        return ShopSnapshot(
            shop_id=shop_id,
            version=int(version or 0),
            entries=tuple(sorted(_readable_entries(shop_id, entries), key=_entry_order)),
            vectors={
                k.decode(): np.frombuffer(v, dtype=np.float32).reshape(-1, dim)
                for k, v in vectors.items()
            },
            embedding_model=meta.get(b"embedding_model", b"").decode(),
        )

    def put(
        self,
        shop_id: str,
        entries: Sequence[Entry],
        vectors: Mapping[str, Vectors],
        *,
        embedding_model: str,
        replace_all: bool = False,
    ) -> int:
        """Write entries and their vectors in one transaction; returns the new version."""
        check_shop_id(shop_id)
        missing = [e.id for e in entries if e.id not in vectors]
        if missing:
            raise InvalidEntry("vectors", f"no vectors for {missing[:5]}")
        pipe = self.client.pipeline(transaction=True)
        if replace_all:
            pipe.delete(self._key(shop_id, "entries"), self._key(shop_id, "vectors"))
        if entries:
            pipe.hset(
                self._key(shop_id, "entries"),
                mapping={e.id: entry_json(e) for e in entries},
            )
            pipe.hset(
                self._key(shop_id, "vectors"),
                mapping={
                    e.id: np.ascontiguousarray(vectors[e.id], dtype=np.float32).tobytes()
                    for e in entries
                },
            )
            dim = next(iter(vectors.values())).shape[-1]
            pipe.hset(
                self._key(shop_id, "meta"), mapping={"embedding_model": embedding_model, "dim": dim}
            )
        pipe.sadd(f"{self.prefix}:shops", shop_id)
        pipe.incr(self._key(shop_id, "version"))
        return self._written(shop_id, pipe)

    def stored(
        self, shop_id: str, entry_ids: Sequence[str], *, embedding_model: str
    ) -> dict[str, StoredEntry]:
        """What is stored for these ids; vectors only if made by `embedding_model`."""
        if not entry_ids:
            return {}
        pipe = self.client.pipeline(transaction=True)
        pipe.hget(self._key(shop_id, "meta"), "embedding_model")
        pipe.hmget(self._key(shop_id, "entries"), list(entry_ids))
        pipe.hmget(self._key(shop_id, "vectors"), list(entry_ids))
        model, raw_entries, raw_vectors = self._call(pipe.execute)
        same_model = model is not None and model.decode() == embedding_model
        found = {}
        for entry_id, raw, vec in zip(entry_ids, raw_entries, raw_vectors, strict=True):
            if raw is not None:
                vectors = (
                    np.frombuffer(vec, dtype=np.float32) if vec is not None and same_model else None
                )
                found[entry_id] = StoredEntry(raw.decode(), vectors)
        return found

    def delete(self, shop_id: str, entry_ids: Sequence[str]) -> int:
        """Delete entries (all must exist, else nothing is deleted); returns the new version."""
        self._require_shop(shop_id)
        present = self._call(self.client.hmget, self._key(shop_id, "entries"), list(entry_ids))
        for entry_id, raw in zip(entry_ids, present, strict=True):
            if raw is None:
                raise EntryNotFound(shop_id, entry_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self._key(shop_id, "entries"), *entry_ids)
        pipe.hdel(self._key(shop_id, "vectors"), *entry_ids)
        pipe.incr(self._key(shop_id, "version"))
        return self._written(shop_id, pipe)

    def drop_shop(self, shop_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(*(self._key(shop_id, n) for n in ("entries", "vectors", "meta")))
        pipe.incr(self._key(shop_id, "version"))
        pipe.srem(f"{self.prefix}:shops", shop_id)
        self._written(shop_id, pipe)

    def _written(self, shop_id: str, pipe: Any) -> int:
        """Run a write that bumps the shop's version; the pipeline's last reply (the new
        version for put and delete)."""
        try:
            return int(self._call(pipe.execute)[-1])
        finally:  # even a failed EXEC may have applied: read Redis next time either way
            self.forget(shop_id)

    def sizes(self, shop_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """shop -> (entries, version) for many shops in one round trip (a shop list page)."""
        pipe = self.client.pipeline(transaction=False)
        for shop_id in shop_ids:
            pipe.hlen(self._key(shop_id, "entries"))
            pipe.get(self._key(shop_id, "version"))
        counts = self._call(pipe.execute)
        return {
            shop_id: (int(counts[2 * n]), int(counts[2 * n + 1] or 0))
            for n, shop_id in enumerate(shop_ids)
        }

    def stats(self, shop_id: str) -> ShopStats:
        snap = self.snapshot(shop_id)
        counts: dict[str, int] = {}
        for entry in snap.entries:
            counts[entry.kind] = counts.get(entry.kind, 0) + 1
        units = sum(v.shape[0] for v in snap.vectors.values())
        return ShopStats(shop_id, snap.version, counts, units, snap.embedding_model)

    def _require_shop(self, shop_id: str) -> None:
        if not self.exists(shop_id):
            raise ShopNotFound(shop_id)

    @staticmethod
    def _call(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis failed: {exc}") from exc


def _readable_entries(shop_id: str, stored: Mapping[bytes, bytes]) -> Iterator[Entry]:
    """The stored entries that can be read; one that cannot (not JSON, not an entry: written
    by hand or by a broken tool) is logged and left out, so it costs its own answer and not
    every index, listing and start-up that reads the shop."""
    for entry_id, raw in stored.items():
        try:
            yield entry_from_dict(shop_id, json.loads(raw))
        except (ValueError, TypeError, KeyError, AttributeError, InvalidEntry) as exc:
            log.warning("shop %r: entry %r unreadable, left out: %s", shop_id, entry_id, exc)


def _entry_order(entry: Entry) -> tuple[str, str]:
    return (entry.kind, entry.id)
