"""Prometheus metrics: GET /metrics, an ASGI middleware timing every request, and small
functions the routes call.

    install(app, public=)                 middleware + GET /metrics (once per app)
    observe_suggestion(suggestion, s)     per-stage latency (Suggestion.timings_ms), pipeline
                                          seconds, suggestions by candidate source and route
    observe_tokens(n, seconds)            one LLM draft: tokens and seconds (tokens/s)
    observe_cache(hit)                    suggestion cache lookups (hit rate gauge)
    observe_feedback(action)              feedback events by action

Metrics live in one registry per process (a process is what Prometheus scrapes; two apps in
one test process share it, so tests compare before/after). Created on first use, not at import.
Request latency is labelled by the route's path template ("/v1/shops/{shop_id}/stats"), never
by the raw path, so label counts stay bounded whatever clients send.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_responses

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    from copilot.types import Suggestion

# Milliseconds matter for the retrieval path; seconds for LLM drafting and streams.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2, 4, 8, 15, 30)
_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8)
_RATE_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 50, 80, 120, 200)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Histogram
    stages: Histogram
    pipeline: Histogram
    suggestions: Counter
    candidates: Counter
    tokens: Counter
    token_seconds: Counter
    tokens_per_second: Histogram
    cache: Counter
    cache_hit_rate: Gauge
    cache_tally: _Tally
    feedback: Counter
    index_cache: Gauge


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    cache = Counter(
        "copilot_cache_lookups", "suggestion cache lookups", ["result"], registry=registry
    )
    hit_rate = Gauge(
        "copilot_cache_hit_rate", "suggestion cache hits / lookups since start", registry=registry
    )
    tally = _Tally()
    hit_rate.set_function(tally.rate)
    return Metrics(
        registry=registry,
        requests=Histogram("copilot_http_request_duration_seconds",
                           "HTTP request latency (until the response ends, streams included)",
                           ["method", "route", "status"], buckets=_LATENCY_BUCKETS,
                           registry=registry),
        stages=Histogram("copilot_stage_duration_seconds", "pipeline stage latency",
                         ["stage"], buckets=_STAGE_BUCKETS, registry=registry),
        pipeline=Histogram("copilot_suggest_duration_seconds", "whole pipeline per suggestion",
                           buckets=_LATENCY_BUCKETS, registry=registry),
        suggestions=Counter("copilot_suggestions", "suggestions made, by route action",
                            ["route"], registry=registry),
        candidates=Counter("copilot_candidates", "candidates offered, by source and route",
                           ["source", "route"], registry=registry),
        tokens=Counter("copilot_llm_tokens", "LLM tokens drafted", registry=registry),
        token_seconds=Counter("copilot_llm_seconds", "seconds spent drafting",
                              registry=registry),
        tokens_per_second=Histogram("copilot_llm_tokens_per_second", "tokens/s per draft",
                                    buckets=_RATE_BUCKETS, registry=registry),
        cache=cache,
        cache_hit_rate=hit_rate,
        cache_tally=tally,
        feedback=Counter("copilot_feedback_actions", "feedback events by action", ["action"],
                         registry=registry),
        index_cache=Gauge("copilot_index_cache", "the shop index cache (COPILOT_INDEX_CACHE_MB) "
                          "at scrape time: bytes held (estimated), bound, indexes held, and "
                          "hits, misses (builds) and evictions since start", ["measure"],
                          registry=registry),
    )  # fmt: skip


class _Tally:
    """Hits and lookups for the hit-rate gauge (read at scrape time)."""

    def __init__(self) -> None:
        self.hits = 0
        self.lookups = 0
        self._lock = threading.Lock()

    def add(self, hit: bool) -> None:
        with self._lock:
            self.hits += hit
            self.lookups += 1

    def rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


def observe_suggestion(suggestion: Suggestion, elapsed_s: float | None = None) -> None:
    """Call once per suggestion returned (the final one of a stream, not each update)."""
    m = metrics()
    for stage, ms in suggestion.timings_ms.items():
        m.stages.labels(stage).observe(ms / 1000)
    if elapsed_s is not None:
        m.pipeline.observe(elapsed_s)
    action = suggestion.route.action
    m.suggestions.labels(action).inc()
    for candidate in suggestion.candidates:
        m.candidates.labels(candidate.source.kind, action).inc()


def observe_tokens(n: int, seconds: float) -> None:
    """One LLM draft of n tokens that took `seconds` (first token to last)."""
    if n <= 0 or seconds <= 0:
        return
    m = metrics()
    m.tokens.inc(n)
    m.token_seconds.inc(seconds)
    m.tokens_per_second.observe(n / seconds)


def observe_cache(hit: bool) -> None:
    m = metrics()
    m.cache.labels("hit" if hit else "miss").inc()
    m.cache_tally.add(hit)


def observe_feedback(action: str) -> None:
    metrics().feedback.labels(action).inc()


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): it adds no task or queue per request and leaves
    streamed responses streaming."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            metrics().requests.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


def prometheus(request: Request) -> Response:
    """Prometheus text format: latency per route and stage, suggestions, tokens/s, cache,
    feedback, the shop index cache."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    services = getattr(request.app.state, "services", None)  # none until the app has started
    if services is not None:  # what sizing COPILOT_INDEX_CACHE_MB needs: hit rate and evictions
        stats = services.kb.indexes.cache.stats()
        for measure in ("bytes", "max_bytes", "indexes", "hits", "misses", "evictions"):
            metrics().index_cache.labels(measure).set(getattr(stats, measure))
    return Response(generate_latest(metrics().registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, *, public: bool = False) -> None:
    """`public`: GET /metrics without a key; else any valid key (Prometheus's `authorization`
    setting sends it). Request counts per route say what the service is used for."""
    from service.auth import require

    keyed = [] if public else [Depends(require("agent", "trainer"))]
    app.add_middleware(MetricsMiddleware)
    app.add_api_route("/metrics", prometheus, methods=["GET"], response_class=Response,
                      tags=["health"], dependencies=keyed,
                      responses={} if public else error_responses(401, 429, 503))  # fmt: skip
