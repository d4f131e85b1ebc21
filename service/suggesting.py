"""One /v1/suggest request, transport-agnostic: resolve the conversation (inline turns or the
stored ones), run the pipeline (or the cache), record what was suggested, shape the payload.

JSON and SSE share it (routes/suggest.py, streaming.py). Everything here is blocking: callers
run it in a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from copilot.clock import timestamp
from copilot.feedback.records import (
    SuggestionLog,
    candidate_id,
    record_from_suggestion,
)
from copilot.jsonable import order_from_dict, turns_from_list
from copilot.pipeline import Suggester
from copilot.types import Conversation, Suggestion, Turn
from kb.errors import StoreUnavailable
from service.cache import SuggestionCache
from service.conversations import ConversationStore
from service.errors import ServiceError
from service.metrics import observe_cache, observe_suggestion
from service.schemas import SuggestRequest
from service.services import Services
from service.settings import Settings

log = logging.getLogger(__name__)

REDIS_DOWN = "redis_unavailable"
# the stores wrap Redis's errors: any of them means Redis is down (or going)
# StoreUnavailable: any layer's "the store is down" (history, selector and feedback included)
REDIS_ERRORS = (redis.RedisError, OSError, StoreUnavailable)


@dataclass
class Job:
    """A resolved request: the conversation to answer and the generation it belongs to."""

    conversation: Conversation
    use_llm: bool
    suggestion_id: str
    generation: int | None = None
    degraded: list[str] = field(default_factory=list)
    emitted: bool = False  # a stream has sent its first event

    @property
    def redis_down(self) -> bool:
        return REDIS_DOWN in self.degraded


def new_suggestion_id() -> str:
    return "s_" + secrets.token_hex(8)


def prepare(services: Services, body: SuggestRequest) -> Job:
    """Validate, resolve and store the conversation; bump its generation (older streams end).
    The conversation id is the shop's own: the caller has checked the key may touch the shop."""
    settings: Settings = services.settings
    conversation = _conversation(body, settings)
    job = Job(conversation, body.use_llm, new_suggestion_id())
    cid = body.conversation_id
    if cid is None:
        return job
    store: ConversationStore = services.conversations
    try:
        if conversation.turns:
            job.generation = store.write(body.shop_id, cid, conversation.turns, replace=True,
                                         bump=True)[1]  # fmt: skip
            return job
        stored = store.get(body.shop_id, cid)
        if stored is None:
            raise ServiceError(404, "conversation_not_found",
                               f"no stored turns for conversation {cid!r}; send `turns`",
                               "conversation_id")  # fmt: skip
        job.conversation = Conversation(
            body.shop_id, stored.turns, conversation.order, conversation.notes, cid
        )
        job.generation = store.bump(body.shop_id, cid)
    except REDIS_ERRORS as exc:
        if not conversation.turns:
            raise ServiceError(503, REDIS_DOWN, "Redis is down: send the turns inline") from exc
        job.degraded.append(REDIS_DOWN)
    return job


def observe_later(
    services: Services, conversation_id: str, shop_id: str, turns: Sequence[Turn]
) -> None:
    """An agent's reply was pushed: let the pipeline prepare for the customer's answer (embed
    the reply for the intent's context, prefill the draft prompt's rules and turns) on a
    suggest thread, after the response is sent. Best effort: the next suggestion does the same
    work itself if this has not run or failed."""
    if not turns or turns[-1].role != "agent":
        return
    services.suggest_threads.submit(_observe, services, conversation_id, shop_id, tuple(turns))


def _observe(
    services: Services, conversation_id: str, shop_id: str, pushed: tuple[Turn, ...]
) -> None:
    """With the whole stored conversation (as the next suggest reads it), not only the turns
    this push carried: the draft prompt shows the earlier turns too."""
    try:
        store: ConversationStore = services.conversations
        stored = store.get(shop_id, conversation_id)
        turns = stored.turns if stored is not None else pushed
        services.suggester.observe(Conversation(shop_id, turns))
    except Exception:  # a background nicety: never let it surface anywhere
        log.warning("preparing for %s's next message failed", conversation_id, exc_info=True)


def _conversation(body: SuggestRequest, settings: Settings) -> Conversation:
    raw_turns = [t.model_dump() for t in body.turns or ()]
    check_turns(raw_turns, settings)
    if not raw_turns and body.conversation_id is None:
        raise ServiceError(422, "invalid_request", "send `turns` or a `conversation_id`", "turns")
    order = body.order.model_dump(exclude_none=True) if body.order else None
    return Conversation(
        body.shop_id,
        turns_from_list(raw_turns),
        order_from_dict(order) if order else None,
        body.notes,
        body.conversation_id,
    )


def check_turns(raw_turns: list[dict[str, Any]], settings: Settings) -> None:
    if len(raw_turns) > settings.max_turns:
        raise ServiceError(422, "too_many_turns",
                           f"{len(raw_turns)} turns; at most {settings.max_turns} per request",
                           "turns")  # fmt: skip
    for n, turn in enumerate(raw_turns):
        if len(turn["text"]) > settings.max_turn_chars:
            raise ServiceError(422, "turn_too_long",
                               f"at most {settings.max_turn_chars} characters per turn",
                               f"turns[{n}].text")  # fmt: skip


def answer(services: Services, job: Job) -> dict[str, Any]:
    """The whole suggestion (JSON transport): cache, pipeline, record."""
    if job.redis_down:
        return payload(services, services.offline_suggester.suggest(job.conversation), job)
    cache: SuggestionCache = services.cache
    key = None
    if cache.enabled and not job.use_llm:
        try:
            key = cache.key(job.conversation, services.kb.store.version(job.conversation.shop_id))
            hit = cache.get(key)
        except REDIS_ERRORS:
            key, hit = None, None
        if key is not None:
            observe_cache(hit is not None)
        if hit is not None:
            return _from_cache(services, job, hit)
    suggester: Suggester = services.suggester
    started = time.perf_counter()
    try:
        suggestion = suggester.suggest(job.conversation, use_llm=job.use_llm)
    except REDIS_ERRORS:
        job.degraded.append(REDIS_DOWN)
        return payload(services, services.offline_suggester.suggest(job.conversation), job)
    observe_suggestion(suggestion, time.perf_counter() - started)
    body = payload(services, suggestion, job)
    record(services, job, suggestion)
    if key is not None and not job.redis_down and not suggestion.degraded:
        with contextlib.suppress(*REDIS_ERRORS):
            cache.put(key, body)
    return body


def record(services: Services, job: Job, suggestion: Suggestion) -> None:
    """Keep the (masked) record feedback will be joined with; skipped while Redis is down."""
    if job.redis_down:
        return
    log: SuggestionLog = services.records
    try:
        ts = timestamp(services.clock)
        log.put(record_from_suggestion(job.suggestion_id, job.conversation, suggestion, ts))
    except REDIS_ERRORS:
        job.degraded.append(REDIS_DOWN)


def _from_cache(services: Services, job: Job, cached: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    body = {**cached, "suggestion_id": job.suggestion_id, "cached": True,
            "conversation_id": job.conversation.conversation_id}  # fmt: skip
    body["candidates"] = [
        {**c, "id": candidate_id(job.suggestion_id, n)}
        for n, c in enumerate(cached["candidates"], start=1)
    ]
    log: SuggestionLog = services.records
    try:
        log.put(_record_from_payload(job, body, timestamp(services.clock)))
    except REDIS_ERRORS:
        body["degraded"] = [*body["degraded"], REDIS_DOWN]
    body["timings_ms"] = {"cache": round((time.perf_counter() - started) * 1000, 2)}
    return body


def _record_from_payload(job: Job, body: dict[str, Any], ts: float) -> Any:
    from copilot.feedback.records import RecordedCandidate, SuggestionRecord, recorded_agent_turn
    from copilot.text.masking import mask_pii

    return SuggestionRecord(
        job.suggestion_id, job.conversation.shop_id, job.conversation.conversation_id,
        ts, mask_pii(job.conversation.last_customer_text),
        body["intent"]["label"],
        body["intent"]["confidence"], body["route"]["action"], body["route"]["queue"],
        bool(body.get("retrieval_confident", False)),
        tuple(
            RecordedCandidate(c["id"], mask_pii(c["text"]), c["role"], c["source"]["kind"],
                              tuple(c["source"]["kb_entry_ids"]))
            for c in body["candidates"]
        ),
        recorded_agent_turn(job.conversation),
    )  # fmt: skip


def payload(services: Services, suggestion: Suggestion, job: Job) -> dict[str, Any]:
    """The response body (see service/schemas.SuggestResponse)."""
    titles = _titles(services, job, suggestion)
    intent, route, upsell = suggestion.intent, suggestion.route, suggestion.upsell
    return {
        "suggestion_id": job.suggestion_id,
        "shop_id": suggestion.shop_id,
        "conversation_id": job.conversation.conversation_id,
        "intent": {
            "label": intent.label, "confidence": intent.confidence,
            "top": [{"label": s.label, "score": s.score} for s in intent.top],
            "family": intent.family, "reasons": list(intent.reasons),
        },
        "route": {"action": route.action, "queue": route.queue, "reasons": list(route.reasons)},
        "candidates": [
            {
                "id": candidate_id(job.suggestion_id, n), "text": c.text, "role": c.role,
                "source": {
                    "kind": c.source.kind, "kb_entry_ids": list(c.source.kb_entry_ids),
                    "kb_titles": [titles.get(i, i) for i in c.source.kb_entry_ids],
                    "history_reply_ids": list(c.source.history_reply_ids), "llm": c.source.llm,
                },
                "evidence": list(c.evidence), "score": c.score,
                "flags": [{"code": f.code, "message": f.message, "severity": f.severity}
                          for f in c.flags],
            }
            for n, c in enumerate(suggestion.candidates, start=1)
        ],
        "upsell": None if upsell is None else {
            "kind": upsell.kind, "text": upsell.text, "reason": upsell.reason,
            "product_ids": list(upsell.product_ids),
        },
        "timings_ms": dict(suggestion.timings_ms),
        "degraded": [*suggestion.degraded, *(d for d in job.degraded
                                            if d not in suggestion.degraded)],
        "retrieval_confident": suggestion.retrieval_confident,
        "cached": False,
    }  # fmt: skip


def _titles(services: Services, job: Job, suggestion: Suggestion) -> dict[str, str]:
    ids = {i for c in suggestion.candidates for i in c.source.kb_entry_ids}
    if not ids:
        return {}
    indexes = services.kb.indexes
    try:
        # The index the pipeline has just searched (degraded mode too: it serves the held
        # ones); get() would ask Redis for the version again.
        index = indexes.held().get(suggestion.shop_id)
        if index is None and not job.redis_down:
            index = indexes.get(suggestion.shop_id)
        entries = index.entries if index is not None else {}
    except Exception:  # titles are a nicety; a missing index must not fail the answer
        return {}
    return {i: _title(entries[i]) for i in ids if i in entries}


def _title(entry: Any) -> str:
    for name in ("title", "question", "name"):
        value = getattr(entry, name, None)
        if value:
            return str(value)
    return str(entry.id)
