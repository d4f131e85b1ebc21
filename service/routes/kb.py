"""Knowledge-base routes (search preview for now)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from kb.codec import entry_to_dict
from kb.knowledge import KnowledgeBase
from kb.types import ENTRY_KINDS
from service.schemas import ErrorResponse, HitOut, RetrieverScoreOut, SearchResponse

router = APIRouter(prefix="/v1/shops/{shop_id}/kb", tags=["knowledge base"])


@router.get(
    "/search",
    response_model=SearchResponse,
    responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def search(
    request: Request,
    shop_id: str,
    q: Annotated[
        str,
        Query(
            min_length=1, max_length=500, description="顾客的问题", examples=["这个杯子能装开水吗"]
        ),
    ],
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    kind: Annotated[
        list[str] | None, Query(description=f"only these kinds: {', '.join(ENTRY_KINDS)}")
    ] = None,
    product_id: Annotated[str | None, Query(description="only entries about this product")] = None,
) -> SearchResponse:
    """What the copilot would retrieve for this question, with each retriever's score and rank."""
    knowledge: KnowledgeBase = request.app.state.kb
    hits = await run_in_threadpool(
        knowledge.search, shop_id, q, k=k, kinds=kind, product_id=product_id
    )
    return SearchResponse(
        shop_id=shop_id,
        query=q,
        version=knowledge.store.version(shop_id),
        hits=[
            HitOut(
                entry_id=h.entry_id,
                kind=h.kind,
                score=h.score,
                matched_text=h.matched_text,
                matched_field=h.matched_field,
                retrievers={
                    n: RetrieverScoreOut(score=s.score, rank=s.rank)
                    for n, s in h.retrievers.items()
                },
                entry=entry_to_dict(h.entry),
            )
            for h in hits
        ],
    )
