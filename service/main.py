"""The FastAPI app factory. Heavy objects are built once, in the lifespan, never at import.

On start: Redis (embedded unless COPILOT_REDIS_URL), keys of an older layout moved to the
current one (kb/storage/key_migration.py), the Suggester warmed (all models), the demo shops
when the
store is empty, and a first admin key when there is none (written to a file only the service's
user can read: service/first_key.py). Damaged data in Redis (a key of the wrong type, garbage
JSON) is logged and skipped: it never stops the start. An embedded Redis is watched and
restarted on the same data if its process dies (kb/storage/redis_watchdog.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from copilot.clock import today
from copilot.feedback.log import FeedbackLog
from copilot.feedback.records import SuggestionLog
from copilot.history.bank import ResponseBank
from copilot.pipeline import Suggester
from kb.errors import StoreUnavailable
from kb.knowledge import KnowledgeBase
from kb.storage.key_migration import migrate_keys
from kb.storage.redis_conn import close
from kb.storage.redis_watchdog import EmbeddedWatchdog, is_embedded
from service import errors, metrics
from service.cache import SuggestionCache
from service.conversations import ConversationStore
from service.degraded import offline_suggester, warm_indexes
from service.first_key import create_first_admin_key
from service.kb_sync import KBSync
from service.keys import KeyStore
from service.limits import AuthFailureLimiter, BodySizeLimit, RateLimiter
from service.records import SuggestionRecords
from service.routes import conversations, docs, feedback, health, history, kb, shops, suggest, ui
from service.selector_jobs import SelectorJobs
from service.services import Services
from service.settings import Settings, get_settings
from service.stream_control import CancelListener, StreamSlots
from service.wiring import build_knowledge_base, build_suggester, load_demo


def create_app(settings: Settings | None = None, *, suggester: Suggester | None = None) -> FastAPI:
    """`suggester`: a ready pipeline to use instead of building one (tests inject slow ones)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.warmed = False
        services = await run_in_threadpool(_start, settings, suggester)
        app.state.services = services
        services.kb_sync.start()
        app.state.warmed = True
        try:
            yield
        finally:
            _stop(services, owns_store=suggester is None)

    app = FastAPI(
        title="电商客服回复助手 Reply Copilot",
        description="Drafts what customer-service agents say next, grounded in shop knowledge. "
        "Every /v1 route needs `Authorization: Bearer KEY` (`copilot keys create`).",
        version="0.1.0",
        lifespan=lifespan,
        # not public: service/routes/docs.py serves the schema to keys only
        openapi_url="/openapi.json" if settings.public_docs else None,
        docs_url="/docs" if settings.public_docs else None,
        redoc_url="/redoc" if settings.public_docs else None,
    )
    errors.install(app)
    # Routes are matched in order, each included router costing a scan of its routes: the
    # busiest route goes first.
    app.include_router(suggest.router)
    app.include_router(health.router)
    app.include_router(kb.router)
    app.include_router(ui.router)
    app.include_router(feedback.router)
    app.include_router(history.router)
    metrics.install(app, public=settings.public_metrics)
    for module in (conversations, shops):
        app.include_router(module.router)
    if not settings.public_docs:
        app.include_router(docs.router)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
    )
    return app


def _start(settings: Settings, suggester: Suggester | None) -> Services:
    knowledge = (
        _knowledge_of(suggester) if suggester is not None else build_knowledge_base(settings)
    )
    migrate_keys(knowledge.store.client)  # before anything reads: policies are read next
    suggester = suggester or build_suggester(settings, knowledge)
    client = knowledge.store.client
    clock = suggester.clock  # the one clock, from the settings
    records = SuggestionRecords(client, ttl_days=settings.suggestion_ttl_days, clock=clock)
    feedback = FeedbackLog(client)
    services = Services(
        settings=settings,
        clock=clock,
        kb=knowledge,
        suggester=suggester,
        offline_suggester=offline_suggester(suggester, knowledge),
        redis=client,
        keys=KeyStore(client, clock=clock),
        records=records,
        feedback=feedback,
        kb_sync=KBSync(knowledge),
        rate_limiter=RateLimiter(client, settings.rate_limit_per_minute),
        auth_failures=AuthFailureLimiter(client, settings.auth_failures_per_minute),
        conversations=ConversationStore(
            client, int(settings.conversation_ttl_hours * 3600), settings.max_turns, clock=clock
        ),
        cache=SuggestionCache(client, settings.cache_ttl_seconds, enabled=settings.cache_enabled),
        cancel_listener=CancelListener(client),
        redis_watchdog=EmbeddedWatchdog(client) if is_embedded(client) else None,
        suggest_threads=suggest.thread_pool(),
        retrieval_threads=suggest.retrieval_pool(settings.concurrent_retrievals),
        stream_slots=StreamSlots(settings.max_streams),
        selector_jobs=_selector_jobs(client, suggester, (feedback, records)),
    )
    services.cancel_listener.start()
    if services.redis_watchdog is not None:
        services.redis_watchdog.start()
    suggester.warm_up(shops=settings.warm_shops)
    _load_demo_if_empty(knowledge, settings, suggester)
    if settings.warm_shops:
        warm_indexes(knowledge)
    _create_first_admin_key(services.keys, settings)
    return services


def _selector_jobs(
    client: redis.Redis, suggester: Suggester, feedback: tuple[FeedbackLog, SuggestionLog]
) -> SelectorJobs:
    bank = suggester.history if isinstance(suggester.history, ResponseBank) else None
    return SelectorJobs(client, bank, clock=suggester.clock, feedback=feedback)


def _stop(services: Services, *, owns_store: bool) -> None:
    services.cancel_listener.stop()
    services.kb_sync.stop()
    if services.redis_watchdog is not None:  # first: it must not revive what closes
        services.redis_watchdog.stop()
    services.suggest_threads.shutdown(wait=False)
    services.retrieval_threads.shutdown(wait=False)
    services.stream_slots.shutdown()
    if owns_store:  # the store this app opened: its embedded server stops too
        close(services.redis)


def _knowledge_of(suggester: Suggester) -> KnowledgeBase:
    """The service writes knowledge (imports, sync) and keeps it in Redis: an injected pipeline
    must read a KnowledgeBase, not just any KnowledgeSource."""
    if not isinstance(suggester.kb, KnowledgeBase):
        raise TypeError("the service needs a Suggester built over a kb.knowledge.KnowledgeBase")
    return suggester.kb


def _load_demo_if_empty(knowledge: KnowledgeBase, settings: Settings, suggester: Suggester) -> None:
    if not settings.load_demo_shops:
        return
    try:
        if not knowledge.shops():
            load_demo(knowledge, today=today(suggester.clock))
    except (StoreUnavailable, redis.ResponseError) as exc:  # the store's keys are damaged
        errors.log.warning("demo shops not loaded at start-up: %s", exc)


def _create_first_admin_key(keys: KeyStore, settings: Settings) -> None:
    if not settings.create_admin_key:
        return
    try:
        if keys.count() > 0:
            return
    except StoreUnavailable as exc:  # the set of keys is damaged: do not add to it blindly
        errors.log.warning("no first admin key: the key store cannot be read: %s", exc)
        return
    create_first_admin_key(keys, settings)
