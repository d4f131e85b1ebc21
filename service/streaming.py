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
from typing import Any

import redis
from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from service.errors import STORE_DOWN, log
from service.metrics import observe_suggestion, observe_tokens
from service.services import Services
from service.stream_control import StreamSlot
from service.suggesting import REDIS_DOWN, REDIS_ERRORS, Job, payload, record

POLL_SECONDS = 0.25  # how often a stream re-reads its generation from Redis


class _Superseded(Exception):
    """Raised inside the worker (from the token callback) to stop a superseded draft."""


def stream_response(request: Request, services: Services, job: Job) -> StreamingResponse:
    slot: StreamSlot = services.stream_slots.claim()
    response = StreamingResponse(
        _sse(request, services, job, slot),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    weakref.finalize(response, slot.free_if_unstarted)
    return response


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _sse(
    request: Request, services: Services, job: Job, slot: StreamSlot
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def emit(kind: str, data: Any) -> None:
        loop.call_soon_threadsafe(events.put_nowait, (kind, data))

    slot.run(_work, services, job, emit, stop)
    watch = _Watch(services, job)
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


def _work(
    services: Services, job: Job, emit: Callable[[str, Any], None], stop: threading.Event
) -> None:
    """Runs on a stream thread: the pipeline's stream, its events handed to the loop. Redis
    failing before the first event: the offline pipeline answers instead (degraded)."""
    try:
        try:
            _run(services, job, emit, stop)
        except REDIS_ERRORS:
            if job.emitted or job.redis_down:
                raise
            job.degraded.append(REDIS_DOWN)
            _run(services, job, emit, stop)
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


def _run(
    services: Services, job: Job, emit: Callable[[str, Any], None], stop: threading.Event
) -> None:
    def on_token(piece: str) -> None:  # "" for a model piece that shows nothing yet
        if stop.is_set():
            raise _Superseded
        if piece:
            emit("token", {"text": piece})

    suggester = services.offline_suggester if job.redis_down else services.suggester
    last: dict[str, Any] | None = None
    started, final = time.perf_counter(), None
    for suggestion in suggester.stream(job.conversation, use_llm=job.use_llm, on_token=on_token):
        if stop.is_set():
            raise _Superseded
        final = suggestion
        record(services, job, suggestion)
        first = last is None
        last = payload(services, suggestion, job)
        if first:
            job.emitted = True
            emit("suggestion", last)
    if final is not None:
        observe_suggestion(final, time.perf_counter() - started)
    if final is not None and final.draft_tokens > 1:
        decoding = final.timings_ms.get("llm", 0.0) - final.timings_ms.get("llm_first_token", 0.0)
        observe_tokens(final.draft_tokens - 1, decoding / 1000)
    if last is not None:
        emit("final", last)


class _Watch:
    """Has the conversation moved past this stream's generation? Pub/sub news first (free),
    a Redis read every POLL_SECONDS as the fallback."""

    def __init__(self, services: Services, job: Job) -> None:
        self.services = services
        self.shop_id = job.conversation.shop_id
        self.cid = job.conversation.conversation_id
        self.generation = job.generation
        self.checked = time.monotonic()

    async def superseded(self) -> bool:
        if self.cid is None or self.generation is None:
            return False
        store = self.services.conversations
        latest = self.services.cancel_listener.latest(store.name(self.shop_id, self.cid))
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
