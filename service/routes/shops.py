"""GET /v1/shops: the shops this key may see, with their knowledge-base size and version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from copilot.pipeline import Suggester
from kb.knowledge import KnowledgeBase
from service.auth import require
from service.errors import error_responses
from service.principals import Principal
from service.schemas import ShopListOut, ShopOut
from service.services import ServicesDep

router = APIRouter(prefix="/v1", tags=["shops"])


@router.get(
    "/shops",
    response_model=ShopListOut,
    responses=error_responses(401, 413, 429, 503),
)
async def list_shops(
    request: Request,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(require("agent", "trainer"))],
) -> ShopListOut:
    """Every shop the key is scoped to (an admin key: all of them)."""
    return await run_in_threadpool(_shops, services.kb, services.suggester,
                                   principal)  # fmt: skip


def _shops(kb: KnowledgeBase, suggester: Suggester, principal: Principal) -> ShopListOut:
    visible = [s for s in kb.shops() if principal.allows(s)]
    sizes = kb.store.sizes(visible)
    return ShopListOut(
        shops=[
            ShopOut(
                shop_id=shop_id,
                name=suggester.policies.get(shop_id).shop_name
                or suggester.shop_names.get(shop_id, shop_id),
                entries=sizes[shop_id][0],
                version=sizes[shop_id][1],
            )
            for shop_id in visible
        ]
    )
