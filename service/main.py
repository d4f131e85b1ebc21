"""The FastAPI app factory. Heavy objects are built once, in the lifespan, never at import.

On start: Redis (embedded unless COPILOT_REDIS_URL), the Suggester warmed (all models), the
demo shops when the store is empty, and a first admin key when there is none (printed once).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from copilot.clock import today
from copilot.feedback import FeedbackLog
from copilot.pipeline import Suggester
from kb.redis_conn import close
from service import errors, metrics
from service.cache import SuggestionCache
from service.conversations import ConversationStore
from service.degraded import offline_suggester, warm_indexes
from service.kb_sync import KBSync
from service.keys import KeyStore
from service.limits import BodySizeLimit, RateLimiter
from service.records import SuggestionRecords
from service.routes import conversations, feedback, health, history, kb, shops, suggest, ui
from service.settings import Settings, get_settings
from service.streaming import CancelListener
from service.wiring import build_knowledge_base, build_suggester, load_demo


def create_app(settings: Settings | None = None, *, suggester: Suggester | None = None) -> FastAPI:
    """`suggester`: a ready pipeline to use instead of building one (tests inject slow ones)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.warmed = False
        await run_in_threadpool(_start, app, settings, suggester)
        app.state.kb_sync.start()
        app.state.warmed = True
        try:
            yield
        finally:
            app.state.cancel_listener.stop()
            app.state.kb_sync.stop()
            app.state.suggest_threads.shutdown(wait=False)
            app.state.retrieval_threads.shutdown(wait=False)
            if suggester is None:  # the store this app opened: its embedded server stops too
                close(app.state.redis)

    app = FastAPI(
        title="电商客服回复助手 Reply Copilot",
        description="Drafts what customer-service agents say next, grounded in shop knowledge. "
        "Every /v1 route needs `Authorization: Bearer KEY` (`copilot keys create`).",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.suggest_threads = suggest.thread_pool()
    app.state.retrieval_threads = suggest.retrieval_pool(settings.concurrent_retrievals)
    errors.install(app)
    # Routes are matched in order, each included router costing a scan of its routes: the
    # busiest route goes first.
    app.include_router(suggest.router)
    app.include_router(health.router)
    app.include_router(kb.router)
    app.include_router(ui.router)
    app.include_router(feedback.router)
    app.include_router(history.router)
    metrics.install(app)
    for module in (conversations, shops):
        app.include_router(module.router)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
    )
    return app


def _start(app: FastAPI, settings: Settings, suggester: Suggester | None) -> None:
    knowledge = suggester.kb if suggester is not None else build_knowledge_base(settings)
    suggester = suggester or build_suggester(settings, knowledge)
    client = knowledge.store.client
    app.state.kb = knowledge
    app.state.suggester = suggester
    app.state.redis = client
    app.state.clock = clock = suggester.clock  # the one clock, from the settings
    app.state.keys = KeyStore(client, clock=clock)
    app.state.records = SuggestionRecords(
        client, ttl_days=settings.suggestion_ttl_days, clock=clock
    )
    app.state.feedback = FeedbackLog(client)
    app.state.kb_sync = KBSync(knowledge)
    app.state.rate_limiter = RateLimiter(client, settings.rate_limit_per_minute)
    app.state.conversations = ConversationStore(
        client, int(settings.conversation_ttl_hours * 3600), settings.max_turns, clock=clock
    )
    app.state.cache = SuggestionCache(
        client, settings.cache_ttl_seconds, enabled=settings.cache_enabled
    )
    app.state.offline_suggester = offline_suggester(suggester)
    app.state.cancel_listener = CancelListener(client)
    app.state.cancel_listener.start()
    suggester.warm_up(shops=settings.warm_shops)
    if settings.load_demo_shops and not knowledge.shops():
        load_demo(knowledge, today=today(suggester.clock))
    if settings.warm_shops:
        warm_indexes(suggester)
    if settings.create_admin_key and app.state.keys.count() == 0:
        _announce_admin_key(app.state.keys, settings)


def _announce_admin_key(keys: KeyStore, settings: Settings) -> None:
    """The first key, printed once: it is stored hashed and cannot be shown again."""
    key_id, key = keys.create("admin", ["*"], "first admin key")
    url = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}"
    url += f":{settings.port}"
    example = (
        f"curl -s {url}/v1/suggest -H 'Authorization: Bearer {key}' "
        "-H 'Content-Type: application/json' "
        """-d '{"shop_id": "demo-pdd", "conversation_id": "c-1", """
        """"turns": [{"role": "customer", "text": "这个杯子能装开水吗"}]}'"""
    )
    lines = (
        f"copilot: service at {url} (docs: {url}/docs)",
        f"copilot: created the first admin key {key_id} (shown once, store it now):",
        f"    {key}",
        f"copilot: try: {example}",
    )
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
