"""The FastAPI app factory. Heavy objects are built once, in the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from service import errors
from service.routes import health, kb
from service.settings import Settings, get_settings
from service.wiring import build_knowledge_base, load_demo


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        knowledge = build_knowledge_base(settings)
        app.state.kb = knowledge
        app.state.warmed = False
        await run_in_threadpool(knowledge.warm_up)
        if settings.load_demo_shops and not knowledge.shops():
            await run_in_threadpool(load_demo, knowledge)
        app.state.warmed = True
        yield

    app = FastAPI(
        title="电商客服回复助手 Reply Copilot",
        description="Drafts what customer-service agents say next, grounded in shop knowledge.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(kb.router)
    return app
