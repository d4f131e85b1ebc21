"""Knowledge-base routes for trainers: entries CRUD, file import (all or nothing) and the search
preview. Every change moves the shop's version and is announced to the other replicas
(service/kb_sync.py), which rebuild that shop's index within the next second."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from copilot.clock import today
from copilot.guardrails.staleness import StalenessReport, staleness_report
from kb.errors import EntryNotFound, KBImportError
from kb.files import importers
from kb.files.codec import entry_from_dict, entry_to_dict
from kb.knowledge import ImportReport, KnowledgeBase
from kb.storage.store import check_shop_id
from kb.types import ENTRY_KINDS, Entry, EntryKind, Promotion
from service.auth import ensure_shop, require
from service.errors import ServiceError, error_responses
from service.principals import Principal
from service.schemas import (
    EntryDeleted,
    EntryList,
    EntryOut,
    HitOut,
    ImportErrorResponse,
    ImportReportOut,
    PromotionDatesOut,
    RetrieverScoreOut,
    SearchResponse,
    StaleEntryOut,
    StalenessOut,
)
from service.services import Services, ServicesDep

router = APIRouter(prefix="/v1/shops/{shop_id}/kb", tags=["knowledge base"])
_ERRORS = error_responses(401, 403, 404, 409, 413, 422, 429, 503)
_BODY_ERRORS = error_responses(400) | _ERRORS  # a JSON body that does not parse, or a multipart one
_ENTRY_EXAMPLE = {
    "kind": "faq",
    "id": "pdd-faq-invoice",
    "question": "可以开发票吗",
    "answer": "可以的亲，下单后在订单详情里申请电子发票，1-3个工作日开好~",
    "alt_questions": ["能开发票吗", "发票怎么开"],
}
EntryBody = Annotated[dict[str, Any], Body(examples=[_ENTRY_EXAMPLE])]


def _trainer(services: Services, shop_id: str, principal: Principal) -> KnowledgeBase:
    ensure_shop(principal, shop_id)
    knowledge: KnowledgeBase = services.kb
    return knowledge


def _announce(services: Services, shop_id: str, version: int) -> None:
    sync = services.kb_sync
    if sync is not None:
        sync.publish(shop_id, version)


def _entry(shop_id: str, data: dict[str, Any], entry_id: str | None = None) -> Entry:
    """An entry from a request body; the path's id wins over (and must match) the body's."""
    if entry_id is not None:
        if data.get("id") not in (None, "", entry_id):
            raise ServiceError(
                422, "invalid_request", f"id: the body says {data['id']!r}, the URL {entry_id!r}",
                "id",
            )  # fmt: skip
        data = {**data, "id": entry_id}
    kind = data.get("kind")
    if kind not in ENTRY_KINDS:
        raise ServiceError(
            422, "invalid_request", f"kind: must be one of {', '.join(ENTRY_KINDS)}", "kind"
        )
    return entry_from_dict(shop_id, data, kind=kind)


def _matches(entry: Entry, kind: str | None, q: str | None) -> bool:
    if kind is not None and entry.kind != kind:
        return False
    if not q:
        return True
    return q.lower() in json.dumps(entry_to_dict(entry), ensure_ascii=False).lower()


@router.get("/entries", response_model=EntryList, responses=_ERRORS)
async def list_entries(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
    kind: Annotated[EntryKind | None, Query()] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text anywhere in the entry")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EntryList:
    """The shop's entries (by kind, then id), filtered by kind and text."""
    knowledge = _trainer(services, shop_id, principal)
    entries = [
        e for e in await run_in_threadpool(knowledge.entries, shop_id) if _matches(e, kind, q)
    ]
    page = entries[offset : offset + limit]
    return EntryList(
        entries=[entry_to_dict(e) for e in page], total=len(entries), offset=offset, limit=limit
    )


@router.post("/entries", status_code=201, response_model=EntryOut, responses=_BODY_ERRORS)
async def create_entry(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    body: EntryBody,
    principal: Annotated[Principal, Depends(require("trainer"))],
) -> EntryOut:
    """Add one entry (the shop is created with its first entry). 409 if the id exists: use PUT."""
    knowledge = _trainer(services, shop_id, principal)
    check_shop_id(shop_id)
    entry = _entry(shop_id, body)
    if knowledge.store.exists(shop_id):
        try:
            knowledge.get(shop_id, entry.id)
        except EntryNotFound:
            pass
        else:
            raise ServiceError(
                409, "entry_exists", f"entry {entry.id!r} exists; PUT .../kb/entries/{entry.id}",
                "id",
            )  # fmt: skip
    report = await run_in_threadpool(knowledge.add, shop_id, [entry])
    _announce(services, shop_id, report.version)
    return EntryOut(entry=entry_to_dict(entry), version=report.version)


@router.get("/entries/{entry_id}", response_model=EntryOut, responses=_ERRORS)
async def get_entry(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    entry_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
) -> EntryOut:
    knowledge = _trainer(services, shop_id, principal)
    entry = await run_in_threadpool(knowledge.get, shop_id, entry_id)
    return EntryOut(entry=entry_to_dict(entry), version=knowledge.store.version(shop_id))


@router.put("/entries/{entry_id}", response_model=EntryOut, responses=_BODY_ERRORS)
async def replace_entry(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    entry_id: str,
    body: EntryBody,
    principal: Annotated[Principal, Depends(require("trainer"))],
) -> EntryOut:
    """Replace an existing entry (re-embedded only if its text changed)."""
    knowledge = _trainer(services, shop_id, principal)
    entry = _entry(shop_id, body, entry_id)
    await run_in_threadpool(knowledge.get, shop_id, entry_id)  # 404 unless it exists
    report = await run_in_threadpool(knowledge.add, shop_id, [entry])
    _announce(services, shop_id, report.version)
    return EntryOut(entry=entry_to_dict(entry), version=report.version)


@router.delete("/entries/{entry_id}", response_model=EntryDeleted, responses=_ERRORS)
async def delete_entry(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    entry_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
) -> EntryDeleted:
    knowledge = _trainer(services, shop_id, principal)
    version = await run_in_threadpool(knowledge.delete, shop_id, [entry_id])
    _announce(services, shop_id, version)
    return EntryDeleted(deleted=entry_id, version=version)


@router.post(
    "/import",
    response_model=ImportReportOut,
    responses={**_BODY_ERRORS, 422: {"model": ImportErrorResponse}},
)
async def import_file(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
    file: Annotated[UploadFile, File(description="CSV, TSV, XLSX, JSONL or Markdown (FAQ)")],
    kind: Annotated[str | None, Form(description="the kind of every row (else sniffed)")] = None,
    replace: Annotated[bool, Form(description="drop entries that are not in the file")] = False,
) -> ImportReportOut | JSONResponse:
    """Import a trainer's file. Every row is checked first: with any error nothing is applied
    and the 422 lists every row error (file, row as the spreadsheet numbers it, column)."""
    knowledge = _trainer(services, shop_id, principal)
    check_shop_id(shop_id)
    data = await file.read()
    name = file.filename or "upload"
    if not data:
        raise ServiceError(422, "invalid_request", "file: the uploaded file is empty", "file")

    def run() -> ImportReport:
        loaded = importers.read_bytes(shop_id, name, data, kind=kind or None)
        report = knowledge.add(shop_id, loaded.entries, replace_all=replace)
        return dataclasses.replace(report, left_out=tuple(map(str, loaded.left_out)))

    try:
        report = await run_in_threadpool(run)
    except KBImportError as exc:
        message = str(exc).splitlines()[0]
        row_errors = [
            {"file": e.file, "row": e.row, "column": e.column, "message": e.message}
            for e in exc.errors
        ]
        return JSONResponse(
            {"error": {"code": "import_failed", "message": message, "field": "file"},
             "row_errors": row_errors},
            status_code=422,
        )  # fmt: skip
    _announce(services, shop_id, report.version)
    return ImportReportOut(
        shop_id=report.shop_id, version=report.version, added=report.added,
        updated=report.updated, unchanged=report.unchanged,
        embedded_units=report.embedded_units, seconds=round(report.seconds, 3),
        left_out=list(report.left_out),
    )  # fmt: skip


@router.get("/search", response_model=SearchResponse, responses=_ERRORS)
async def search(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
    q: Annotated[
        str,
        Query(
            min_length=1, max_length=500, description="顾客的问题", examples=["这个杯子能装开水吗"]
        ),
    ],
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    kind: Annotated[list[EntryKind] | None, Query(description="only these kinds")] = None,
    product_id: Annotated[
        str | None, Query(max_length=64, description="only entries about this product")
    ] = None,
) -> SearchResponse:
    """What the copilot would retrieve for this question, with each retriever's score and rank."""
    knowledge = _trainer(services, shop_id, principal)
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


@router.get("/staleness", response_model=StalenessOut, responses=_ERRORS)
async def staleness(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
    within: Annotated[int, Query(ge=0, le=3660, description="days ahead to look")] = 7,
) -> StalenessOut:
    """Promotions ending within `within` days, ended ones still in the KB, and FAQ answers or
    scripts that quote an ended promotion or date (the copilot no longer offers those)."""
    knowledge = _trainer(services, shop_id, principal)
    entries = await run_in_threadpool(knowledge.entries, shop_id)
    day = today(services.suggester.clock)
    return _staleness_out(shop_id, staleness_report(entries, day, within))


def _staleness_out(shop_id: str, report: StalenessReport) -> StalenessOut:
    def dated(p: Promotion) -> PromotionDatesOut:
        return PromotionDatesOut(
            id=p.id, title=p.title, rule=p.rule_text,
            starts=p.starts.isoformat() if p.starts else None,
            ends=p.ends.isoformat() if p.ends else None,
            linked_entries=list(report.linked.get(p.id, ())),
        )  # fmt: skip

    return StalenessOut(
        shop_id=shop_id, day=report.day.isoformat(), within_days=report.within_days,
        ending=[dated(p) for p in report.ending], expired=[dated(p) for p in report.expired],
        stale=[StaleEntryOut(entry_id=e.entry_id, kind=e.kind, title=e.title,
                             reasons=list(e.reasons)) for e in report.stale],
        attention=report.attention,
    )  # fmt: skip
