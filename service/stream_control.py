"""What bounds and stops the SSE streams of /v1/suggest (service/streaming.py): the slots that
cap open streams per process, and the listener that hears a conversation move on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis

from service.conversations import CANCEL_CHANNEL
from service.errors import ServiceError

STREAM_RETRY_AFTER_S = 2  # streams last seconds: a slot frees up soon


class StreamSlots:
    """At most `limit` streams at once per process, each drafting on a thread of a pool of
    that size: held streams cannot multiply threads, and one too many gets a 503 at once
    (with Retry-After) rather than a wait behind drafts of several seconds each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="suggest-stream")

    def claim(self) -> StreamSlot:
        with self._lock:
            if self.in_use >= self.limit:
                raise ServiceError(
                    503, "too_many_streams",
                    f"{self.limit} suggestion streams are open on this server; retry shortly, "
                    "or ask without `Accept: text/event-stream`",
                    retry_after=STREAM_RETRY_AFTER_S,
                )  # fmt: skip
            self.in_use += 1
        return StreamSlot(self)

    def _release(self) -> None:
        with self._lock:
            self.in_use -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class StreamSlot:
    """One claimed stream: freed when its worker ends, or, for a response never sent (the
    client gone, the request timed out), when the response is collected."""

    def __init__(self, slots: StreamSlots) -> None:
        self._slots = slots
        self._lock = threading.Lock()
        self._started = self._freed = False

    def run(self, work: Callable[..., None], *args: Any) -> None:
        def job() -> None:
            try:
                work(*args)
            finally:
                self._free()

        with self._lock:
            self._started = True
        try:
            self._slots._pool.submit(job)
        except RuntimeError:  # the pool is shut down: the app is stopping
            self._free()
            raise

    def free_if_unstarted(self) -> None:
        with self._lock:
            if self._started:
                return
        self._free()

    def _free(self) -> None:
        with self._lock:
            if self._freed:
                return
            self._freed = True
        self._slots._release()


class CancelListener:
    """One thread per process: follows the cancel channel, remembers each conversation's
    latest generation (for a while: streams are short), by the name the store gives it
    (ConversationStore.name: the shop and the id)."""

    def __init__(self, client: redis.Redis, keep_seconds: float = 600) -> None:
        self.client = client
        self.keep = keep_seconds
        self._latest: dict[str, tuple[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cancel-listener")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def latest(self, name: str) -> int:
        seen = self._latest.get(name)
        return seen[0] if seen else 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CANCEL_CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message and message.get("type") == "message":
                        self._note(message["data"])
                pubsub.close()
            except (redis.RedisError, OSError, ValueError):
                self._stop.wait(1.0)  # Redis down: the polling fallback still works

    def _note(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        name, _, generation = text.rpartition(" ")
        if not name or not generation.isdigit():
            return
        now = time.monotonic()
        old = self._latest.get(name)
        self._latest[name] = (max(int(generation), old[0] if old else 0), now)
        if len(self._latest) > 10000:
            cutoff = now - self.keep
            self._latest = {k: v for k, v in self._latest.items() if v[1] >= cutoff}
