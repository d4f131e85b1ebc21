"""Server-Sent Events for /v1/suggest: `suggestion` (retrieval, at once), `token`s while the LLM
drafts (each a clause of the draft that has passed the guardrails and the draft checks, never
raw model output: copilot/draft_stream.py), `final`; or `cancelled` when the conversation moved
on.

The pipeline's blocking `Suggester.stream` runs on a thread of a bounded pool (StreamSlots) and
hands events to the event loop through an asyncio queue. A stream belongs to its conversation's
generation; a newer suggest or customer turn (on any replica) bumps the generation, announced on
a Redis channel and also polled, and the stream then says `cancelled` and stops the worker at
its next token.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from service.conversations import CANCEL_CHANNEL, ConversationStore
from service.errors import STORE_DOWN, ServiceError, log
from service.metrics import observe_suggestion, observe_tokens
from service.suggesting import REDIS_DOWN, REDIS_ERRORS, Job, offline, payload, record

POLL_SECONDS = 0.25  # how often a stream re-reads its generation from Redis
STREAM_RETRY_AFTER_S = 2  # streams last seconds: a slot frees up soon


class _Superseded(Exception):
    """Raised inside the worker (from the token callback) to stop a superseded draft."""


class StreamSlots:
    """At most `limit` streams at once per process, each drafting on a thread of a pool of
    that size: held streams cannot multiply threads, and one too many gets a 503 at once
    (with Retry-After) rather than a wait behind drafts of several seconds each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="suggest-stream")

    def claim(self) -> _Slot:
        with self._lock:
            if self.in_use >= self.limit:
                raise ServiceError(
                    503, "too_many_streams",
                    f"{self.limit} suggestion streams are open on this server; retry shortly, "
                    "or ask without `Accept: text/event-stream`",
                    retry_after=STREAM_RETRY_AFTER_S,
                )  # fmt: skip
            self.in_use += 1
        return _Slot(self)

    def _release(self) -> None:
        with self._lock:
            self.in_use -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Slot:
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


def stream_response(request: Request, job: Job) -> StreamingResponse:
    slot: _Slot = request.app.state.stream_slots.claim()
    response = StreamingResponse(
        _sse(request, job, slot),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    weakref.finalize(response, slot.free_if_unstarted)
    return response


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _sse(request: Request, job: Job, slot: _Slot) -> AsyncIterator[bytes]:
    app: FastAPI = request.app
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def emit(kind: str, data: Any) -> None:
        loop.call_soon_threadsafe(events.put_nowait, (kind, data))

    slot.run(_work, app, job, emit, stop)
    watch = _Watch(app, job)
    try:
        while True:
            try:
                kind, data = await asyncio.wait_for(events.get(), POLL_SECONDS)
            except TimeoutError:
                kind, data = "", None
            if await watch.superseded():
                stop.set()
                yield _event("cancelled", {"reason": "superseded"})
                return
            if kind == "done":
                return
            if kind:
                yield _event(kind, data)
            if kind in ("final", "error"):
                return
            if await request.is_disconnected():
                return
    finally:
        stop.set()


def _work(app: FastAPI, job: Job, emit: Callable[[str, Any], None], stop: threading.Event) -> None:
    """Runs on a stream thread: the pipeline's stream, its events handed to the loop. Redis
    failing before the first event: the offline pipeline answers instead (degraded)."""
    try:
        try:
            _run(app, job, emit, stop)
        except REDIS_ERRORS:
            if job.emitted or job.redis_down:
                raise
            job.degraded.append(REDIS_DOWN)
            _run(app, job, emit, stop)
    except _Superseded:
        return
    except REDIS_ERRORS as exc:
        log.warning("stream stopped, store unavailable: %s", exc)
        emit("error", {"code": REDIS_DOWN, "message": STORE_DOWN})
    except Exception:  # reported to the client; the stream must end, not hang
        log.exception("suggestion stream failed")  # the detail stays in the log
        emit("error", {"code": "suggest_failed", "message": "the suggestion failed; retry"})
    finally:
        emit("done", None)


def _run(app: FastAPI, job: Job, emit: Callable[[str, Any], None], stop: threading.Event) -> None:
    tokens: list[float] = []  # arrival times, for the tokens/s metric

    def on_token(piece: str) -> None:
        if stop.is_set():
            raise _Superseded
        tokens.append(time.perf_counter())
        emit("token", {"text": piece})

    suggester = offline(app) if job.redis_down else app.state.suggester
    last: dict[str, Any] | None = None
    started, final = time.perf_counter(), None
    for suggestion in suggester.stream(job.conversation, use_llm=job.use_llm, on_token=on_token):
        if stop.is_set():
            raise _Superseded
        final = suggestion
        record(app, job, suggestion)
        first = last is None
        last = payload(app, suggestion, job)
        if first:
            job.emitted = True
            emit("suggestion", last)
    if final is not None:
        observe_suggestion(final, time.perf_counter() - started)
    if len(tokens) > 1:
        observe_tokens(len(tokens), tokens[-1] - tokens[0])
    if last is not None:
        emit("final", last)


class _Watch:
    """Has the conversation moved past this stream's generation? Pub/sub news first (free),
    a Redis read every POLL_SECONDS as the fallback."""

    def __init__(self, app: FastAPI, job: Job) -> None:
        self.app = app
        self.shop_id = job.conversation.shop_id
        self.cid = job.conversation.conversation_id
        self.generation = job.generation
        self.checked = time.monotonic()

    async def superseded(self) -> bool:
        if self.cid is None or self.generation is None:
            return False
        store: ConversationStore = self.app.state.conversations
        listener: CancelListener | None = getattr(self.app.state, "cancel_listener", None)
        latest = listener.latest(store.name(self.shop_id, self.cid)) if listener else 0
        if latest > self.generation:
            return True
        if time.monotonic() - self.checked < POLL_SECONDS:
            return False
        self.checked = time.monotonic()
        try:
            current = await run_in_threadpool(store.generation, self.shop_id, self.cid)
        except (redis.RedisError, OSError):
            return False
        return current > self.generation


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
