"""Request limits: body size (413) for every route, requests per API key per minute (429)."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.redis_keys import RedisKeys
from service.errors import ServiceError, error_response


class RateLimiter:
    """A fixed one-minute window per key, counted in Redis so every replica shares the budget.
    With Redis down each process counts on its own and still refuses past the limit (fails
    closed: an outage is no time to be flooded)."""

    def __init__(self, client: redis.Redis, per_minute: int, prefix: str = "copilot") -> None:
        self.client = client
        self.per_minute = per_minute
        self.keys = RedisKeys(prefix)
        self._local: dict[tuple[str, int], int] = {}  # (key id, minute) -> requests, Redis down
        self._lock = threading.Lock()

    def queue(self, pipe: redis.client.Pipeline, key_id: str) -> None:
        """Count one request for the key, in the round trip that checks the key (auth.py)."""
        if self.per_minute <= 0:
            return
        key = self.keys.rate(key_id, int(time.time() // 60))
        pipe.incr(key)
        pipe.expire(key, 120)

    def enforce(self, replies: list[Any], key_id: str = "") -> None:
        """429 when the count (the first of the queued replies) is over the limit; without
        replies (Redis down) the count is this process's own."""
        if self.per_minute <= 0:
            return
        count = int(replies[0]) if replies else self._count_locally(key_id)
        if count > self.per_minute:
            raise ServiceError(
                429, "rate_limited", f"more than {self.per_minute} requests a minute for this key"
            )

    def _count_locally(self, key_id: str) -> int:
        minute = int(time.time() // 60)
        with self._lock:
            for stale in [k for k in self._local if k[1] < minute]:
                del self._local[stale]
            count = self._local.get((key_id, minute), 0) + 1
            self._local[(key_id, minute)] = count
        return count


class _TooLarge(Exception):
    pass


# File uploads (a KB sheet, a chat export) are megabytes where a JSON call is kilobytes.
UPLOAD_PATHS = ("/kb/import", "/history/import")


class BodySizeLimit:
    """413 for a body over its limit (`upload_bytes` on the upload routes, else `max_bytes`),
    by its Content-Length or, when chunked, as it streams."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = str(scope.get("path", "")).endswith(UPLOAD_PATHS)
        limit = self.upload_bytes if upload else self.max_bytes
        headers = dict(scope.get("headers") or ())
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._reject(scope, receive, send, limit)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send, limit)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(413, "body_too_large", f"the request body is over {limit} bytes")
        await response(scope, receive, send)
