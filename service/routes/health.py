"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.errors import log
from service.schemas import Health
from service.services import services_of

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Alive: the process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request) -> JSONResponse:
    """Ready: models warmed and Redis answering."""
    checks = {"models": "ok" if getattr(request.app.state, "warmed", False) else "loading"}
    try:
        services_of(request.app).redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # any failure means not ready; why goes to the log, not the client
        log.warning("not ready, Redis does not answer: %r", exc)
        checks["redis"] = "down"
    ready = all(value == "ok" for value in checks.values())
    body = Health(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
