"""Feedback from agents' tools, and what trainers read from it: acceptance stats and KB gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from copilot.clock import CHINA, Clock, timestamp
from copilot.errors import FeedbackUnavailable
from copilot.feedback.gaps import find_gaps
from copilot.feedback.log import FeedbackEvent, FeedbackLog, acceptance_stats, parse_since
from copilot.feedback.records import SuggestionLog, SuggestionRecord
from service.auth import ensure_shop, require
from service.errors import STORE_DOWN, ServiceError, error_responses, log
from service.metrics import observe_feedback
from service.principals import Principal
from service.schemas import (
    FeedbackAccepted,
    FeedbackIn,
    GapGroupOut,
    GapsResponse,
    StatsResponse,
)
from service.services import Services, ServicesDep

router = APIRouter(tags=["feedback"])
_ERRORS = error_responses(401, 403, 404, 413, 422, 429, 503)
Since = Annotated[
    str,
    Query(
        max_length=20,
        description="a number of days (7d) or hours (24h) back, or a date (2026-11-01)",
        examples=["7d"],
    ),
]


def _unavailable(exc: Exception) -> ServiceError:
    log.warning("stats unavailable: %s", exc)
    return ServiceError(503, "store_unavailable", STORE_DOWN)


@router.post(
    "/v1/feedback",
    status_code=202,
    response_model=FeedbackAccepted,
    responses=error_responses(400) | _ERRORS,  # a body that is not JSON: 400
)
def post_feedback(
    body: FeedbackIn,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(require("agent"))],
) -> FeedbackAccepted:
    """What the agent did with a suggestion: shown, inserted, edited, sent (with the text
    finally sent) or dismissed. Stored as an event in the shop's Redis stream."""
    records: SuggestionLog = services.records
    try:
        record = records.get(body.suggestion_id)
    except (redis.RedisError, OSError) as exc:
        raise _unavailable(exc) from exc
    if record is None:
        raise ServiceError(
            404, "suggestion_not_found",
            f"no suggestion {body.suggestion_id!r} (unknown, or older than its retention)",
            "suggestion_id",
        )  # fmt: skip
    ensure_shop(principal, record.shop_id)
    _check_candidate(record, body.candidate_id)
    event = FeedbackEvent(
        suggestion_id=record.suggestion_id,
        candidate_id=body.candidate_id,
        shop_id=record.shop_id,
        action=body.action,
        final_text=body.final_text or "",
        ms_to_send=body.ms_to_send,
        ts=timestamp(services.clock),
    )
    feedback: FeedbackLog = services.feedback
    try:
        feedback.append(event)
    except FeedbackUnavailable as exc:
        log.warning("feedback not stored: %s", exc)
        raise ServiceError(503, "store_unavailable", STORE_DOWN) from exc
    observe_feedback(body.action)
    return FeedbackAccepted()


def _check_candidate(record: SuggestionRecord, candidate_id: str | None) -> None:
    if candidate_id is None:
        return
    known = [c.id for c in record.candidates]
    if candidate_id not in known:
        raise ServiceError(
            422, "invalid_request",
            f"candidate_id: {candidate_id!r} is not a candidate of this suggestion "
            f"(its candidates: {', '.join(known) or 'none'})",
            "candidate_id",
        )  # fmt: skip


def _window(since: str, clock: Clock) -> tuple[float, str]:
    """(since_ts, the same instant in ISO 8601, China time)."""
    try:
        since_ts = parse_since(since, now=timestamp(clock))
    except ValueError as exc:
        raise ServiceError(422, "invalid_request", f"since: {exc}", "since") from exc
    return since_ts, _iso(since_ts)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=CHINA).isoformat(timespec="seconds")


def _known_shop(services: Services, shop_id: str) -> None:
    """404 for a shop with neither a KB nor any suggestion (likely a typo in the URL)."""
    records: SuggestionLog = services.records
    if services.kb.store.exists(shop_id) or records.has_shop(shop_id):
        return
    raise ServiceError(404, "shop_not_found", f"no shop {shop_id!r}", "shop_id")


@dataclass(frozen=True)
class _Window:
    """What one stats or gaps request counts: the newest records (and feedback events) of the
    asked window, at most max_stats_events of each: a busy shop's week holds millions, and
    reading them all would hold the memory and a worker for seconds per request."""

    records: list[SuggestionRecord]
    events: list[FeedbackEvent]
    truncated: bool
    counted_since: str


def _read_window(services: Services, shop_id: str, since_ts: float, *, events: bool) -> _Window:
    cap: int = services.settings.max_stats_events
    records = services.records.recent(shop_id, since_ts, limit=cap + 1)
    start, truncated = since_ts, len(records) > cap
    if truncated:
        records = records[-cap:]
        start = records[0].ts
    read: list[FeedbackEvent] = []
    if events:  # an event follows its suggestion: none before `start` belongs to these records
        read = services.feedback.latest(shop_id, start, cap + 1)
        if len(read) > cap:
            read, truncated = read[-cap:], True
            start = max(start, read[0].ts)  # the same span for both: no record loses events
            records = [r for r in records if r.ts >= start]
    return _Window(records, read, truncated, _iso(start))


@router.get("/v1/shops/{shop_id}/stats", response_model=StatsResponse, responses=_ERRORS)
async def stats(
    shop_id: str,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(require("trainer"))],
    since: Since = "7d",
) -> StatsResponse:
    """Acceptance rate (inserted, or sent with at most 30% of characters edited), mean edit
    distance, by intent, candidate source, route and day (China time). A window larger than
    COPILOT_MAX_STATS_EVENTS is counted from its newest part (`truncated`)."""
    ensure_shop(principal, shop_id)
    since_ts, since_iso = _window(since, services.clock)

    def compute() -> tuple[dict[str, Any], _Window]:
        _known_shop(services, shop_id)
        window = _read_window(services, shop_id, since_ts, events=True)
        return acceptance_stats(window.records, window.events), window

    try:
        result, window = await run_in_threadpool(compute)
    except (redis.RedisError, OSError, FeedbackUnavailable) as exc:
        raise _unavailable(exc) from exc
    return StatsResponse(shop_id=shop_id, since=since_iso, truncated=window.truncated,
                         counted_since=window.counted_since, **result)  # fmt: skip


@router.get("/v1/shops/{shop_id}/gaps", response_model=GapsResponse, responses=_ERRORS)
async def gaps(
    shop_id: str,
    request: Request,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(require("trainer"))],
    since: Since = "7d",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> GapsResponse:
    """What customers asked that the KB could not answer confidently, grouped by wording,
    most asked first: the FAQs to write next. A window larger than COPILOT_MAX_STATS_EVENTS
    is grouped from its newest suggestions (`truncated`)."""
    ensure_shop(principal, shop_id)
    since_ts, since_iso = _window(since, services.clock)

    def compute() -> tuple[list[GapGroupOut], _Window]:
        _known_shop(services, shop_id)
        window = _read_window(services, shop_id, since_ts, events=False)
        return [
            GapGroupOut(question=g.question, count=g.count, examples=list(g.examples),
                        intent=g.intent)
            for g in find_gaps(window.records, limit=limit)
        ], window  # fmt: skip

    try:
        groups, window = await run_in_threadpool(compute)
    except (redis.RedisError, OSError) as exc:
        raise _unavailable(exc) from exc
    return GapsResponse(shop_id=shop_id, since=since_iso, groups=groups,
                        truncated=window.truncated, counted_since=window.counted_since)  # fmt: skip
