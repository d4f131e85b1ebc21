"""Every replica serves a shop's KB change within 2 s, without a restart.

Correctness does not depend on this module: kb.index.IndexCache checks the shop's version
before every search and rebuilds a stale index, so replica B never answers from an index older
than the store by more than COPILOT_METADATA_MAX_AGE (the version may come from a read that
recent: kb/storage/recent.py). What this module adds is speed: the replica that wrote publishes
(shop, version) on a Redis channel, and every replica's listener thread forgets its recent
read of that shop's version and rebuilds the index at once, off the request path, so B's next
suggest neither waits for the max age nor pays the rebuild (hundreds of milliseconds for a big
shop). Writers that do not publish (the CLI) are still picked up by the version check.

A lost message (listener reconnecting) only delays the eager rebuild; knowledge is still never
served more than COPILOT_METADATA_MAX_AGE older than the store. The listener reconnects with a
short backoff while Redis is down.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import redis

from kb.knowledge import KnowledgeBase

CHANNEL = "copilot:kb:versions"
log = logging.getLogger(__name__)


class KBSync:
    def __init__(self, kb: KnowledgeBase, *, channel: str = CHANNEL) -> None:
        self.kb = kb
        self.client: redis.Redis = kb.store.client
        self.channel = channel
        self.rebuilt: dict[str, int] = {}  # shop -> version this replica rebuilt on a message
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, shop_id: str, version: int) -> None:
        """Tell every replica (this one included) that the shop moved to `version`. Best
        effort: the write already happened, and the version check covers a lost message."""
        try:
            self.client.publish(self.channel, json.dumps({"shop_id": shop_id, "version": version}))
        except (redis.RedisError, OSError) as exc:
            log.warning("could not publish KB version of %s: %s", shop_id, exc)

    def start(self) -> None:
        """Start the listener thread (idempotent); it stops with stop()."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kb-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = 0.1
            except (redis.RedisError, OSError) as exc:
                log.warning("KB sync listener lost Redis (%s); retrying", exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _listen(self) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is not None:
                    self.handle(message.get("data"))
        finally:
            pubsub.close()

    def _worth_building(self, shop_id: str) -> bool:
        """A shop this replica holds, or any while its index cache has room. With a full cache
        an eager build would evict a shop this replica serves for one it may never be sent (a
        balancer routing by shop sends each replica its own share)."""
        stats = self.kb.indexes.cache.stats()
        return self.kb.indexes.holds(shop_id) or stats.bytes < stats.max_bytes

    def handle(self, data: bytes | str | None) -> None:
        """Rebuild the shop's index now if it is older than the announced version."""
        try:
            announced = json.loads(data or b"")
            shop_id, version = str(announced["shop_id"]), int(announced["version"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed KB sync message %r", data)
            return
        if self.rebuilt.get(shop_id, 0) >= version:
            return
        self.kb.store.forget(shop_id)
        if not self._worth_building(shop_id):
            return  # its next request here, if any, reads the new version and builds it
        started = time.perf_counter()
        try:  # a no-op (one GET) when this replica's index is current, e.g. the writer's own
            index = self.kb.indexes.get(shop_id)
        except Exception as exc:  # a shop deleted meanwhile, Redis gone: next request retries
            log.warning("KB sync could not rebuild %s: %s", shop_id, exc)
            return
        self.rebuilt[shop_id] = index.version
        log.info(
            "rebuilt %s at version %d in %.0f ms",
            shop_id,
            index.version,
            (time.perf_counter() - started) * 1000,
        )
