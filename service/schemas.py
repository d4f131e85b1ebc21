"""Request and response models of the HTTP API (the only place they live)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Request bodies are validated strictly: the spec says boolean, number or integer and the API
# takes exactly that, never `0` for false, `false` for a timestamp or "3" for a quantity (a
# client sending those has a bug worth a 422, not a guess).
_STRICT = ConfigDict(strict=True)


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class RetrieverScoreOut(BaseModel):
    score: float
    rank: int


class HitOut(BaseModel):
    entry_id: str
    kind: str
    score: float = Field(description="fused score (reciprocal-rank fusion by default)")
    matched_text: str
    matched_field: str
    retrievers: dict[str, RetrieverScoreOut]
    entry: dict[str, Any]


class SearchResponse(BaseModel):
    shop_id: str
    query: str
    version: int
    hits: list[HitOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "shop_id": "demo-pdd",
                    "query": "这个杯子能装开水吗",
                    "version": 1,
                    "hits": [
                        {
                            "entry_id": "pdd-faq-01",
                            "kind": "faq",
                            "score": 0.0328,
                            "matched_text": "保温杯能装开水吗",
                            "matched_field": "question",
                            "retrievers": {"dense": {"score": 0.93, "rank": 1}},
                            "entry": {
                                "kind": "faq",
                                "question": "保温杯能装开水吗",
                                "answer": "可以的亲~",
                            },
                        }
                    ],
                }
            ]
        }
    }


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


# --- feedback, stats, gaps (service/routes/feedback.py) ----------------------------------------


class FeedbackIn(BaseModel):
    suggestion_id: str = Field(min_length=1, max_length=100)
    candidate_id: str | None = Field(
        default=None, max_length=110, description="the candidate acted on, e.g. 'SUGGESTION_ID:1'"
    )
    action: Literal["shown", "inserted", "edited", "sent", "dismissed"]
    final_text: str | None = Field(
        default=None, max_length=5000, description="what was finally sent (masked when stored)"
    )
    ms_to_send: int | None = Field(default=None, ge=0, le=86_400_000)

    model_config = {
        "strict": True,
        "json_schema_extra": {
            "examples": [
                {
                    "suggestion_id": "s-3f9c2a",
                    "candidate_id": "s-3f9c2a:1",
                    "action": "sent",
                    "final_text": "可以的亲~这款保温杯可以装开水哦",
                    "ms_to_send": 4200,
                }
            ]
        },
    }


class FeedbackAccepted(BaseModel):
    accepted: bool = True


class RateRow(BaseModel):
    shown: int
    accepted: int
    rate: float


class DayRow(RateRow):
    day: str = Field(description="YYYY-MM-DD, China time")


class StatsResponse(BaseModel):
    shop_id: str
    since: str = Field(description="start of the window, ISO 8601")
    suggestions: int = Field(description="suggestions made in the window")
    shown: int
    inserted: int
    sent: int
    edited: int
    dismissed: int
    accepted: int
    acceptance_rate: float = Field(
        description="accepted / shown: inserted, or sent within edit distance 0.3"
    )
    mean_edit_distance: float | None = Field(
        description="sent text vs the candidate, normalised (0 = unchanged)"
    )
    mean_ms_to_send: float | None
    unmatched_events: int = Field(description="feedback for suggestions no longer recorded")
    by_intent: dict[str, RateRow]
    by_source: dict[str, RateRow]
    by_route: dict[str, RateRow]
    by_day: list[DayRow]
    truncated: bool = Field(
        default=False,
        description="the window held more than the service reads at once "
        "(COPILOT_MAX_STATS_EVENTS): only its newest part, from `counted_since`, is counted",
    )
    counted_since: str = Field(
        description="start of what was counted, ISO 8601: `since` unless truncated"
    )


class GapGroupOut(BaseModel):
    question: str = Field(description="the commonest wording (masked)")
    count: int
    examples: list[str]
    intent: str


class GapsResponse(BaseModel):
    shop_id: str
    since: str
    groups: list[GapGroupOut]
    truncated: bool = Field(
        default=False,
        description="the window held more suggestions than the service reads at once "
        "(COPILOT_MAX_STATS_EVENTS): only the newest, from `counted_since`, are grouped",
    )
    counted_since: str = Field(
        description="start of what was grouped, ISO 8601: `since` unless truncated"
    )


# --- knowledge base and history uploads (service/routes/kb.py, history.py) ---------------------


class EntryList(BaseModel):
    entries: list[dict[str, Any]] = Field(description="entries as kb.files.codec.entry_to_dict")
    total: int = Field(description="entries matching kind/q, before offset/limit")
    offset: int
    limit: int


class PromotionDatesOut(BaseModel):
    id: str
    title: str
    rule: str
    starts: str | None = Field(description="YYYY-MM-DD, or null when open")
    ends: str | None
    linked_entries: list[str] = Field(description="FAQ and script ids whose text names it")


class StaleEntryOut(BaseModel):
    entry_id: str
    kind: str
    title: str
    reasons: list[str] = Field(description="what is out of date, e.g. 满99减10（11月30日已结束）")


class StalenessOut(BaseModel):
    shop_id: str
    day: str = Field(description="the service's today (YYYY-MM-DD, China time)")
    within_days: int
    ending: list[PromotionDatesOut] = Field(description="live promotions ending within the days")
    expired: list[PromotionDatesOut] = Field(description="ended promotions still in the KB")
    stale: list[StaleEntryOut] = Field(
        description="FAQ answers and scripts that quote an ended promotion or date: the "
        "copilot no longer offers them"
    )
    attention: int = Field(description="stale entries plus promotions ending soon (the badge)")


class EntryOut(BaseModel):
    entry: dict[str, Any]
    version: int = Field(description="the shop's KB version after this change")


class EntryDeleted(BaseModel):
    deleted: str
    version: int


class ImportReportOut(BaseModel):
    shop_id: str
    version: int
    added: int
    updated: int
    unchanged: int
    embedded_units: int
    seconds: float
    left_out: list[str] = []  # rows not imported: a question without an answer yet


class RowErrorOut(BaseModel):
    file: str
    row: int | None
    column: str | None
    message: str


class ImportErrorResponse(BaseModel):
    error: ErrorBody
    row_errors: list[RowErrorOut]


class LineErrorOut(BaseModel):
    file: str
    line: int | None
    message: str


class SelectorResultOut(BaseModel):
    version: int = Field(description="the stored selector's version")
    bank_version: int = Field(description="the history bank version it was trained on")
    examples: int
    heldout: int
    feedback_examples: int
    recall_at_1: list[float] = Field(description="held-out recall@1 [vote alone, selector]")
    recall_at_3: list[float] = Field(description="held-out recall@3 [vote alone, selector]")
    blend: float
    seconds: float


class SelectorJobOut(BaseModel):
    job_id: str
    shop_id: str
    state: Literal["running", "done", "failed"]
    stage: str = Field(description="what it is doing now (embedding replies, training...)")
    done: int
    total: int
    started_at: float = Field(description="Unix seconds")
    finished_at: float | None = None
    result: SelectorResultOut | None = None
    error: str | None = Field(default=None, description="why it failed")


class HistoryImportReport(BaseModel):
    shop_id: str
    format: str
    version: int
    conversations: int
    pairs: int
    replies: int
    merged: int
    dropped: dict[str, int]
    embedded: int
    seconds: float
    skipped: list[LineErrorOut] = Field(description="lines that could not be read (first 100)")


# --- suggest, conversations, shops ----------------------------------------------------------------


# Something besides whitespace (the characters Python's str.strip removes, spelled out: JSON
# Schema's \s and the validator's differ), as the turns' reader requires.
NOT_BLANK = r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class TurnIn(BaseModel):
    role: Literal["customer", "agent"]
    # documented, and checked by the turns' reader ("must not be empty" names the field)
    text: str = Field(
        min_length=1, json_schema_extra={"pattern": NOT_BLANK}, description="what was said"
    )
    ts: float | None = Field(default=None, description="unix seconds")

    model_config = _STRICT


class OrderItemIn(BaseModel):
    product_id: str = Field(min_length=1)
    quantity: int = Field(default=1, ge=1)
    unit_price: str | float | None = Field(default=None, description="元; unset: the KB price")
    variant: str | None = None

    model_config = _STRICT


class OrderIn(BaseModel):
    status: Literal["unpaid", "paid", "shipped", "delivered", "after_sales"]
    items: list[OrderItemIn] = Field(default_factory=list)
    amount: str | float | None = Field(default=None, description="what the customer pays, 元")
    tracking_number: str | None = None
    order_id: str | None = None

    model_config = _STRICT


_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


class SuggestRequest(BaseModel):
    shop_id: str = Field(min_length=1, max_length=64)
    conversation_id: str | None = Field(default=None, pattern=_ID_PATTERN)
    turns: list[TurnIn] | None = Field(
        default=None, description="inline turns (win over, and replace, the stored ones)"
    )
    order: OrderIn | None = None
    notes: str = Field(default="", max_length=2000, description="what the agent knows")
    use_llm: bool = Field(default=True, description="false: retrieval and history only (fast)")

    model_config = {
        "strict": True,
        "json_schema_extra": {
            "examples": [
                {
                    "shop_id": "demo-pdd",
                    "conversation_id": "c-1",
                    "turns": [{"role": "customer", "text": "这个杯子能装开水吗"}],
                },
                {
                    "shop_id": "demo-pdd",
                    "conversation_id": "c-2",
                    "turns": [
                        {"role": "customer", "text": "我买的杯子到哪了"},
                        {"role": "agent", "text": "亲，我帮您查一下物流哦"},
                        {"role": "customer", "text": "快点啊，急用"},
                    ],
                    "order": {
                        "status": "shipped",
                        "items": [{"product_id": "pdd-p01", "quantity": 1}],
                        "tracking_number": "YT1234567890",
                    },
                    "use_llm": False,
                },
            ]
        },
    }


class IntentScoreOut(BaseModel):
    label: str
    score: float


class IntentOut(BaseModel):
    label: str
    confidence: float
    top: list[IntentScoreOut]
    family: str
    reasons: list[str]


class RouteOut(BaseModel):
    action: Literal["assist", "auto", "handoff"]
    queue: str | None
    reasons: list[str]


class SourceOut(BaseModel):
    kind: Literal["kb", "history", "llm", "template"]
    kb_entry_ids: list[str]
    kb_titles: list[str]
    history_reply_ids: list[str]
    llm: bool


class FlagOut(BaseModel):
    code: str
    message: str
    severity: str


class CandidateOut(BaseModel):
    id: str = Field(description="{suggestion_id}:{n}; send it back with feedback")
    text: str
    role: str
    source: SourceOut
    evidence: list[str]
    score: float
    flags: list[FlagOut]


class UpsellOut(BaseModel):
    kind: str
    text: str
    reason: str
    product_ids: list[str]


class SuggestResponse(BaseModel):
    suggestion_id: str
    shop_id: str
    conversation_id: str | None
    intent: IntentOut
    route: RouteOut
    candidates: list[CandidateOut]
    upsell: UpsellOut | None
    timings_ms: dict[str, float]
    degraded: list[str] = Field(description="what was skipped: llm_timeout, redis_unavailable...")
    retrieval_confident: bool = Field(
        default=False, description="both retrievers agree on the top KB entry"
    )
    cached: bool = Field(default=False, description="served from the suggestion cache")


class TurnsRequest(BaseModel):
    shop_id: str = Field(min_length=1, max_length=64)
    turns: list[TurnIn] = Field(min_length=1)

    model_config = {
        "strict": True,
        "json_schema_extra": {
            "examples": [{"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": "在吗？"}]}]
        },
    }


class TurnsResponse(BaseModel):
    conversation_id: str
    shop_id: str
    turns: int


class ConversationOut(BaseModel):
    conversation_id: str
    shop_id: str
    turns: list[TurnIn]


class ConversationSummaryOut(BaseModel):
    conversation_id: str
    updated: float
    last_text: str
    turns: int


class ConversationListOut(BaseModel):
    conversations: list[ConversationSummaryOut]


class ShopOut(BaseModel):
    shop_id: str
    name: str
    entries: int
    version: int


class ShopListOut(BaseModel):
    shops: list[ShopOut]


# --- end of the service core's schemas ------------------------------------------------------------
