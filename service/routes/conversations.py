"""Conversations kept in Redis (masked, with a TTL): agent tools push turns as they happen.

A conversation id belongs to its shop: the same id in two shops is two conversations, and a
route that takes an id always knows the shop (the body's, the query's or the key's only one).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from copilot.jsonable import turns_from_list
from service.auth import ensure_shop, require
from service.conversations import ConversationStore
from service.errors import ServiceError, error_responses
from service.principals import Principal
from service.schemas import (
    _ID_PATTERN,
    ConversationListOut,
    ConversationOut,
    ConversationSummaryOut,
    TurnIn,
    TurnsRequest,
    TurnsResponse,
)
from service.services import ServicesDep
from service.suggesting import check_turns, observe_later

router = APIRouter(prefix="/v1", tags=["conversations"])
_ERRORS = error_responses(401, 403, 404, 413, 422, 429, 503)
_BODY_ERRORS = error_responses(400) | _ERRORS  # a body that is not JSON: 400
ConversationId = Annotated[str, Path(pattern=_ID_PATTERN, examples=["c-1"])]
Agent = Annotated[Principal, Depends(require("agent"))]


@router.post(
    "/conversations/{conversation_id}/turns", response_model=TurnsResponse, responses=_BODY_ERRORS
)
async def add_turns(
    request: Request,
    services: ServicesDep,
    conversation_id: ConversationId,
    body: TurnsRequest,
    principal: Agent,
) -> TurnsResponse:
    """Append turns; a customer turn supersedes any suggestion still streaming for it."""
    ensure_shop(principal, body.shop_id)
    raw = [t.model_dump() for t in body.turns]
    check_turns(raw, services.settings)
    turns = turns_from_list(raw)
    store: ConversationStore = services.conversations

    count, _ = await run_in_threadpool(store.write, body.shop_id, conversation_id, turns)
    observe_later(services, conversation_id, body.shop_id, turns)
    return TurnsResponse(conversation_id=conversation_id, shop_id=body.shop_id, turns=count)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut, responses=_ERRORS)
async def get_conversation(
    request: Request,
    services: ServicesDep,
    conversation_id: ConversationId,
    principal: Agent,
    shop_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="the conversation's shop; may be left out by a key of one shop",
        ),
    ] = None,
) -> ConversationOut:
    """The stored turns (phone numbers, addresses and names masked)."""
    shop_id = _shop_of(principal, shop_id)
    ensure_shop(principal, shop_id)
    store: ConversationStore = services.conversations
    stored = await run_in_threadpool(store.get, shop_id, conversation_id)
    if stored is None:
        raise ServiceError(404, "conversation_not_found",
                           f"no conversation {conversation_id!r} in shop {shop_id!r} "
                           "(expired or never stored)", "conversation_id")  # fmt: skip
    return ConversationOut(
        conversation_id=conversation_id,
        shop_id=stored.shop_id,
        turns=[TurnIn(role=t.role, text=t.text, ts=t.ts) for t in stored.turns],
    )


def _shop_of(principal: Principal, shop_id: str | None) -> str:
    """The shop asked for; a key scoped to one shop need not say it (clients written before
    conversation ids were per shop send none)."""
    if shop_id is not None:
        return shop_id
    if not principal.all_shops and len(principal.shops) == 1:
        return next(iter(principal.shops))
    raise ServiceError(422, "invalid_request",
                       "shop_id: this key may access several shops; add ?shop_id=SHOP",
                       "shop_id")  # fmt: skip


@router.get("/shops/{shop_id}/conversations", response_model=ConversationListOut, responses=_ERRORS)
async def list_conversations(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    principal: Agent,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationListOut:
    """The shop's conversations, most recently updated first."""
    ensure_shop(principal, shop_id)
    store: ConversationStore = services.conversations
    summaries = await run_in_threadpool(store.recent, shop_id, limit)
    return ConversationListOut(
        conversations=[
            ConversationSummaryOut(
                conversation_id=s.conversation_id,
                updated=s.updated,
                last_text=s.last_text,
                turns=s.turns,
            )
            for s in summaries
        ]
    )
