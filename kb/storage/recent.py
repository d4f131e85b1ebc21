"""Recent reads of small Redis values that rarely change, kept for a fraction of a second.

Every suggestion reads metadata before any knowledge: the set of shops, the shops' KB
versions, the history bank's version and the shop's policy, five Redis round trips in all.
They change when a trainer edits a shop, not between two messages, yet on the 2-core machine
those round trips were a quarter of the pipeline's CPU and more of its wall time (each
blocking call also hands the GIL over and back under load). So a store built with
`max_age > 0` answers such a read from what it read less than `max_age` seconds ago.

Staleness is bounded and never within a process: the reads are kept per Redis connection
pool, so every store object on one client shares them, and every write through any of them
forgets what it changed before returning. Another process's change is seen within `max_age`
(a KB change sooner: service/kb_sync.py forgets the shop on its announcement). `max_age = 0`
(the default for libraries, the CLI and the eval) reads Redis every time.

    recent = recent_reads(client)
    version = recent.read(("kb", "version", shop), 0.5, lambda: int(client.get(key) or 0))
    recent.forget(("kb", "version", shop))   # after a write
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import redis

T = TypeVar("T")


class RecentReads:
    def __init__(self) -> None:
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        # Bumped by every forget(): a read that started before a write finished is not kept,
        # or it could bring back the value the write just replaced.
        self.generation = 0

    def read(self, key: Hashable, max_age: float, load: Callable[[], T]) -> T:
        """The value read within the last `max_age` seconds, else load() (and keep it)."""
        value = self.fresh(key, max_age)
        if value is not None:
            return value  # type: ignore[no-any-return]
        generation, now = self.generation, time.monotonic()
        value = load()
        if max_age > 0:
            self.keep(key, value, generation, now)
        return value

    def keep(self, key: Hashable, value: Any, generation: int, at: float | None = None) -> None:
        """Remember a value read another way (one MGET for many keys); `generation` is
        self.generation taken before the read."""
        with self._lock:
            if generation == self.generation:
                self._values[key] = (time.monotonic() if at is None else at, value)

    def fresh(self, key: Hashable, max_age: float) -> Any:
        """The value if read within `max_age` seconds, else None (stores keep no None)."""
        read_at, value = self._values.get(key, (0.0, None))
        return value if max_age > 0 and time.monotonic() - read_at < max_age else None

    def forget(self, *keys: Hashable) -> None:
        """Drop these keys (none given: all); the next read goes to Redis."""
        with self._lock:
            self.generation += 1
            if not keys:
                self._values.clear()
            for key in keys:
                self._values.pop(key, None)


_BY_POOL: weakref.WeakKeyDictionary[Any, RecentReads] = weakref.WeakKeyDictionary()
_BY_POOL_LOCK = threading.Lock()


def recent_reads(client: redis.Redis) -> RecentReads:
    """The reads kept for this client's connection pool (shared by every store using it)."""
    pool = client.connection_pool
    with _BY_POOL_LOCK:
        reads = _BY_POOL.get(pool)
        if reads is None:
            reads = _BY_POOL[pool] = RecentReads()
        return reads
