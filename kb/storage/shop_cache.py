"""Per-shop in-memory indexes, bounded by the bytes they hold; least recently used out first.

A process that serves hundreds of shops cannot keep every shop's KB index and history bank it
has ever served: each holds its vectors, keyword index and cached filters (megabytes for a
shop of a few hundred entries). ShopCache keeps them up to `max_bytes` in all, as each value
estimates itself (`resident_bytes()`), and drops the least recently used ones past that. Redis
stays the source of truth, so an evicted shop is simply built again on its next request.

One cache serves both the KB indexes and the history banks (each under its own namespace), so
the bound is one figure for operators and the two kinds compete for it by use, not by a split
fixed in advance.

- Thread-safe: concurrent misses of one shop build it once; the others wait for that build
  (and get its error, if it fails) instead of building copies that would all count.
- Eviction only drops the cache's reference: a request holding an evicted index keeps using
  it until it lets go (indexes are never mutated in place).
- A value larger than the whole bound is still kept, alone: refusing it would rebuild that
  shop on every request.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

DEFAULT_MAX_BYTES = 1024 * 1024 * 1024

# What a Python object costs beyond the bytes of its contents (CPython, 64-bit): the object
# header and a slot in the list or dict that holds it. Measured with tracemalloc on real shop
# indexes; the estimate is meant to be within tens of percent, not exact.
OBJECT_OVERHEAD = 64
DICT_SLOT = 48


class Resident(Protocol):
    def resident_bytes(self) -> int:
        """Memory the value holds while cached (estimated)."""
        ...


V = TypeVar("V", bound=Resident)
Key = tuple[str, str]  # (namespace, shop_id)


@dataclass(frozen=True)
class CacheStats:
    indexes: int  # values held, all namespaces (a shop's KB index and its bank count two)
    bytes: int  # their estimated resident bytes
    max_bytes: int
    hits: int
    misses: int  # requests that built (absent, evicted or stale)
    evictions: int


class ShopCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
        self.max_bytes = max_bytes
        self._values: OrderedDict[Key, tuple[Resident, int]] = OrderedDict()  # LRU first
        self._building: dict[Key, Future[Resident]] = {}
        self._guard = threading.Lock()
        self._bytes = self._hits = self._misses = self._evictions = 0

    def get(
        self, key: Key, build: Callable[[], V], is_current: Callable[[V], bool] = lambda _: True
    ) -> V:
        """The cached value if `is_current` says it still is, else build() (once, whoever
        else asks meanwhile) and keep it. is_current may read Redis: it runs outside the lock."""
        held = self._touch(key)
        if held is not None and is_current(cast(V, held)):
            with self._guard:
                self._hits += 1
            return cast(V, held)
        return self._build_once(key, build, is_current)

    def peek(self, key: Key) -> Resident | None:
        """The value held, without touching its recency or building anything."""
        with self._guard:
            held = self._values.get(key)
        return held[0] if held is not None else None

    def held(self, namespace: str) -> dict[str, Resident]:
        """The namespace's values held now, by shop id (no Redis read, no build)."""
        with self._guard:
            held = self._values.items()
            return {shop: value for (ns, shop), (value, _) in held if ns == namespace}

    def discard(self, key: Key) -> None:
        with self._guard:
            held = self._values.pop(key, None)
            if held is not None:
                self._bytes -= held[1]

    def stats(self) -> CacheStats:
        with self._guard:
            return CacheStats(
                len(self._values), self._bytes, self.max_bytes, self._hits, self._misses,
                self._evictions,
            )  # fmt: skip

    def _touch(self, key: Key) -> Resident | None:
        """The held value, now the most recently used, its size measured again: cached
        filter masks and the like grow while a shop is served."""
        with self._guard:
            held = self._values.get(key)
            if held is None:
                return None
            value, counted = held
            size = value.resident_bytes()
            self._values[key] = (value, size)
            self._values.move_to_end(key)
            self._bytes += size - counted
            self._evict_beyond_bound()
            return value

    def _build_once(self, key: Key, build: Callable[[], V], is_current: Callable[[V], bool]) -> V:
        with self._guard:
            pending = self._building.get(key)
            owner = pending is None
            if pending is None:
                pending = self._building[key] = Future()
        if not owner:
            return cast(V, pending.result())
        try:
            # Another thread may have finished building between our look and our claim.
            held = self._touch(key)
            if held is not None and is_current(cast(V, held)):
                value = held
                with self._guard:
                    self._hits += 1
            else:
                value = self._put(key, build())
            pending.set_result(value)
            return cast(V, value)
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        finally:
            with self._guard:
                self._building.pop(key, None)

    def _put(self, key: Key, value: Resident) -> Resident:
        size = value.resident_bytes()
        with self._guard:
            self._misses += 1
            old = self._values.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._values[key] = (value, size)
            self._bytes += size
            self._evict_beyond_bound()
        return value

    def _evict_beyond_bound(self) -> None:
        """Drop least recently used values until the rest fit; never the most recent one."""
        while self._bytes > self.max_bytes and len(self._values) > 1:
            _, (_, size) = self._values.popitem(last=False)
            self._bytes -= size
            self._evictions += 1


def strings_bytes(texts: Iterable[str]) -> int:
    """What a list of distinct strings holds: each string object and its list slot."""
    return sum(sys.getsizeof(text) + 8 for text in texts)


def object_bytes(value: Any) -> int:
    """A shallow estimate of a frozen dataclass of strings, numbers and small collections (a KB
    entry): the object, its fields and one level of their contents."""
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is None:
        return _value_bytes(value)
    return OBJECT_OVERHEAD + sum(_value_bytes(getattr(value, name)) for name in fields)


def _value_bytes(value: Any) -> int:
    if isinstance(value, str | bytes | int | float) or value is None:
        return sys.getsizeof(value)
    if isinstance(value, dict):
        items = value.items()
        return sys.getsizeof(value) + sum(_value_bytes(k) + _value_bytes(v) for k, v in items)
    if isinstance(value, tuple | list | frozenset | set):
        return sys.getsizeof(value) + sum(_value_bytes(item) for item in value)
    if hasattr(value, "__dataclass_fields__"):
        return object_bytes(value)
    return sys.getsizeof(value)


def keyword_index_bytes(keyword: Any) -> int:
    """A bm25s.BM25's arrays (its sparse score matrix) and vocabulary."""
    if keyword is None:
        return 0
    scores = getattr(keyword, "scores", {}) or {}
    arrays = sum(int(getattr(a, "nbytes", 0)) for a in scores.values())
    vocab = getattr(keyword, "vocab_dict", {}) or {}
    # each token: its string, an int and a dict slot, plus its id in unique_token_ids_set
    words = sum(sys.getsizeof(word) + 28 + DICT_SLOT + 40 for word in vocab)
    return arrays + words
