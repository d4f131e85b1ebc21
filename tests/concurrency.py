"""Helpers for tests that race threads against one another."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def ask_at_once(get: Callable[[], object], threads: int = 8) -> list[object]:
    """`get()` from `threads` threads released together by a barrier: their results."""
    start = threading.Barrier(threads)

    def ask() -> object:
        start.wait()
        return get()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: ask(), range(threads)))
