"""Past chats -> the shop's response bank (what agents actually said, mined and deduplicated)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from copilot.errors import HistoryImportError
from copilot.history.bank import BankReport, ResponseBank
from copilot.history.chatlogs import ChatLog, parse_chats
from copilot.history.mining import ShopNames
from kb.storage.store import check_shop_id
from service.auth import ensure_shop, require
from service.errors import ServiceError, error_responses
from service.principals import Principal
from service.schemas import HistoryImportReport, LineErrorOut, SelectorJobOut, SelectorResultOut
from service.selector_jobs import JobState
from service.services import Services, ServicesDep

router = APIRouter(tags=["history"])
# 400: a multipart body that cannot be parsed
_ERRORS = error_responses(400, 401, 403, 413, 422, 429, 503)
_MAX_SKIPPED_SHOWN = 100


def _names(services: Services, shop_id: str) -> ShopNames:
    """The shop's own name, and every other shop's, so replies naming another shop are dropped."""
    known: dict[str, str] = dict(services.suggester.shop_names)
    own = known.get(shop_id)
    return ShopNames(
        own=(own,) if own else (),
        others=tuple(name for shop, name in known.items() if shop != shop_id and name),
    )


@router.post(
    "/v1/shops/{shop_id}/history/import", response_model=HistoryImportReport, responses=_ERRORS
)
async def import_history(
    request: Request,
    services: ServicesDep,
    shop_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
    file: Annotated[UploadFile, File(description="chat logs: JSONL, JDDC TSV or CSV")],
    format: Annotated[
        Literal["jsonl", "jddc", "csv"] | None, Form(description="default: sniffed")
    ] = None,
) -> HistoryImportReport | JSONResponse:
    """Mine the uploaded chats into the shop's response bank, replacing its old bank (all or
    nothing). Unreadable lines are skipped and listed; a file with nothing usable is a 422."""
    ensure_shop(principal, shop_id)
    check_shop_id(shop_id)
    bank = services.suggester.history
    if not isinstance(bank, ResponseBank):
        raise ServiceError(503, "history_unavailable", "this service runs without a history bank")
    data = await file.read()
    name = file.filename or "upload"
    if not data:
        raise ServiceError(422, "invalid_request", "file: the uploaded file is empty", "file")
    names = _names(services, shop_id)

    def run() -> tuple[ChatLog, BankReport]:
        log = parse_chats(name, data, format=format, shop_id=shop_id)
        report = bank.import_conversations(
            shop_id, log.conversations, labels=log.turn_labels, names=names
        )
        return log, report

    try:
        log, report = await run_in_threadpool(run)
    except HistoryImportError as exc:
        message = str(exc).splitlines()[0]
        return JSONResponse(
            {
                "error": {"code": "import_failed", "message": message, "field": "file"},
                "line_errors": [
                    {"file": e.file, "line": e.line, "message": e.message} for e in exc.errors
                ],
            },
            status_code=422,
        )
    return HistoryImportReport(
        shop_id=shop_id, format=log.format, version=report.version,
        conversations=report.conversations, pairs=report.pairs, replies=report.replies,
        merged=report.merged, dropped=dict(report.dropped), embedded=report.embedded,
        seconds=round(report.seconds, 3),
        skipped=[LineErrorOut(file=e.file, line=e.line, message=e.message)
                 for e in log.skipped[:_MAX_SKIPPED_SHOWN]],
    )  # fmt: skip


_JOB_ERRORS = error_responses(401, 403, 404, 409, 413, 422, 429, 503)


@router.post(
    "/v1/shops/{shop_id}/history/selector/job",
    response_model=SelectorJobOut,
    status_code=202,
    responses=_JOB_ERRORS,
)
async def start_selector_job(
    services: ServicesDep,
    shop_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
) -> SelectorJobOut:
    """Start learning which history replies fit a conversation from the shop's bank and its
    agents' feedback. Answers at once (202); GET the same path for progress and the result.
    One job per shop at a time (409 while one runs)."""
    ensure_shop(principal, shop_id)
    check_shop_id(shop_id)
    job = await run_in_threadpool(services.selector_jobs.start, shop_id)
    return _job_out(job)


@router.get(
    "/v1/shops/{shop_id}/history/selector/job",
    response_model=SelectorJobOut,
    responses=_JOB_ERRORS,
)
async def selector_job(
    services: ServicesDep,
    shop_id: str,
    principal: Annotated[Principal, Depends(require("trainer"))],
) -> SelectorJobOut:
    """The shop's latest selector job: running (stage, done of total), done (the held-out
    recall before and after) or failed (why)."""
    ensure_shop(principal, shop_id)
    check_shop_id(shop_id)
    job = await run_in_threadpool(services.selector_jobs.status, shop_id)
    if job is None:
        raise ServiceError(404, "job_not_found", f"shop {shop_id!r} has no selector job yet")
    return _job_out(job)


def _job_out(job: JobState) -> SelectorJobOut:
    result = SelectorResultOut(**job.result) if job.result is not None else None
    return SelectorJobOut(**{**asdict(job), "result": result})
