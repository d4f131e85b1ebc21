"""Request limits: body size (413) for every route, requests per API key per minute (429),
requests with bad keys per client address per minute (429)."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.storage.redis_keys import RedisKeys
from service.errors import ServiceError, error_response


class _MinuteCounts:
    """Counts per name in the current minute, in this process only (while Redis is down)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def add(self, name: str) -> int:
        minute = int(time.time() // 60)
        with self._lock:
            for stale in [k for k in self._counts if k[1] < minute]:
                del self._counts[stale]
            count = self._counts.get((name, minute), 0) + 1
            self._counts[(name, minute)] = count
        return count

    def get(self, name: str) -> int:
        return self._counts.get((name, int(time.time() // 60)), 0)


class RateLimiter:
    """A fixed one-minute window per key, counted in Redis so every replica shares the budget.
    With Redis down each process counts on its own and still refuses past the limit (fails
    closed: an outage is no time to be flooded)."""

    def __init__(self, client: redis.Redis, per_minute: int, prefix: str = "copilot") -> None:
        self.client = client
        self.per_minute = per_minute
        self.keys = RedisKeys(prefix)
        self._local = _MinuteCounts()  # key id -> requests this minute, Redis down

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
        count = int(replies[0]) if replies else self._local.add(key_id)
        if count > self.per_minute:
            raise ServiceError(
                429, "rate_limited", f"more than {self.per_minute} requests a minute for this key"
            )


class AuthFailureLimiter:
    """Requests with an unknown or revoked key, per client address per minute, counted in
    Redis (shared by replicas; this process alone while Redis is down, still refusing).

    Counted by address, never by the key presented: a guesser presents a new key every time,
    and counting a presented key would let anyone lock its holder out by sending it from
    elsewhere. An address over the limit is refused before its key is looked up, unless this
    process has verified that key already: a guess cannot be such a key, so a valid holder
    behind the same address (an office NAT) keeps working."""

    def __init__(self, client: redis.Redis, per_minute: int, prefix: str = "copilot") -> None:
        self.client = client
        self.per_minute = per_minute
        self.keys = RedisKeys(prefix)
        self._local = _MinuteCounts()

    def _key(self, address: str) -> str:
        return self.keys.auth_failures(address, int(time.time() // 60))

    def check(self, address: str) -> None:
        """429 when the address used up its failures for this minute."""
        if self.per_minute <= 0:
            return
        try:
            failures = int(self.client.get(self._key(address)) or 0)
        except (redis.RedisError, OSError):
            failures = self._local.get(address)
        if failures >= self.per_minute:
            raise ServiceError(
                429, "too_many_bad_keys",
                f"more than {self.per_minute} requests a minute from this address with an "
                "unknown or revoked key; check the key, then retry after the Retry-After seconds",
                retry_after=61 - int(time.time() % 60),
            )  # fmt: skip

    def failed(self, address: str) -> None:
        if self.per_minute <= 0:
            return
        key = self._key(address)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 120)
            pipe.execute()
        except (redis.RedisError, OSError):
            self._local.add(address)


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
        too_large = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _TooLarge
            return message

        async def answer_413_once_over(message: Message) -> None:
            # FastAPI turns any error while reading a body into its own 400 ("error parsing
            # the body"); once the body went over the limit, what the client gets is 413.
            nonlocal replaced
            if too_large and message["type"] == "http.response.start" and not replaced:
                replaced = True
                await self._reject(scope, receive, send, limit)
            elif not replaced:
                await send(message)

        try:
            await self.app(scope, counting_receive, answer_413_once_over)
        except _TooLarge:
            if not replaced:
                await self._reject(scope, receive, send, limit)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(413, "body_too_large", f"the request body is over {limit} bytes")
        await response(scope, receive, send)
