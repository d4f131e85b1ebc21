"""Domain types of the suggestion pipeline: the conversation in, the suggestion out.

Money is Decimal and computed in code. Every decision carries its reasons (reason codes), so an
agent, a trainer and an offline eval can all see why the copilot said what it said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeAlias

SpeakerRole: TypeAlias = Literal["customer", "agent"]
SourceKind: TypeAlias = Literal["kb", "history", "llm", "template"]
OrderStatus: TypeAlias = Literal["unpaid", "paid", "shipped", "delivered", "after_sales"]
RouteAction: TypeAlias = Literal["assist", "auto", "handoff"]
HandoffQueue: TypeAlias = Literal["after_sales", "supervisor", "merchant"]
CandidateRole: TypeAlias = Literal["answer", "clarify", "script", "upsell"]
FlagSeverity: TypeAlias = Literal["block", "warn"]
UpsellKind: TypeAlias = Literal["related", "threshold", "payment_reminder"]


@dataclass(frozen=True)
class Turn:
    role: SpeakerRole
    text: str
    ts: float | None = None  # unix seconds


@dataclass(frozen=True)
class OrderItem:
    product_id: str
    quantity: int = 1
    unit_price: Decimal | None = None  # None: the KB price applies
    variant: str | None = None


@dataclass(frozen=True)
class Order:
    status: OrderStatus
    items: tuple[OrderItem, ...] = ()
    amount: Decimal | None = None  # what the customer pays; None: computed from items
    tracking_number: str | None = None
    order_id: str | None = None


@dataclass(frozen=True)
class Conversation:
    shop_id: str
    turns: tuple[Turn, ...]
    order: Order | None = None
    notes: str = ""  # what the agent knows about the customer
    conversation_id: str | None = None

    @property
    def last_customer_text(self) -> str:
        """The customer's latest message: consecutive customer turns at the end, joined."""
        tail: list[str] = []
        for turn in reversed(self.turns):
            if turn.role != "customer":
                if tail:
                    break
                continue
            tail.append(turn.text)
        return "，".join(reversed(tail))

    @property
    def customer_texts(self) -> tuple[str, ...]:
        """Every message of the customer's, oldest first."""
        return tuple(t.text for t in self.turns if t.role == "customer")

    @property
    def earlier_customer_texts(self) -> tuple[str, ...]:
        """The customer's messages before the last turn, oldest first."""
        return tuple(t.text for t in self.turns[:-1] if t.role == "customer")


@dataclass(frozen=True)
class IntentScore:
    label: str
    score: float


@dataclass(frozen=True)
class Intent:
    label: str
    confidence: float  # calibrated: the share of held-out messages at this score that were right
    top: tuple[IntentScore, ...] = ()
    family: str = ""  # pre_sales, in_sales, after_sales, express, general
    reasons: tuple[str, ...] = ()  # e.g. "knn", "rule:退货", "context:follow_up"


@dataclass(frozen=True)
class Route:
    action: RouteAction
    queue: HandoffQueue | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    kb_entry_ids: tuple[str, ...] = ()
    history_reply_ids: tuple[str, ...] = ()
    llm: bool = False

    @property
    def kind(self) -> SourceKind:
        """llm (a draft), history (a bank reply), kb (from the shop's entries and records), or
        template (the intent's next step, from nothing of the shop's: copilot/templates.py)."""
        if self.llm:
            return "llm"
        if self.history_reply_ids:
            return "history"
        return "kb" if self.kb_entry_ids else "template"


@dataclass(frozen=True)
class GuardFlag:
    code: (
        str  # unsupported_number, other_shop, placeholder, off_platform, promise, banned, too_long
    )
    message: str
    severity: FlagSeverity = "block"


@dataclass(frozen=True)
class Candidate:
    text: str
    role: CandidateRole
    source: Source
    score: float
    evidence: tuple[str, ...] = ()  # the KB texts it rests on
    flags: tuple[GuardFlag, ...] = ()

    @property
    def blocked(self) -> bool:
        return any(flag.severity == "block" for flag in self.flags)


@dataclass(frozen=True)
class Upsell:
    kind: UpsellKind
    text: str
    reason: str
    product_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    shop_id: str
    intent: Intent
    route: Route
    candidates: tuple[Candidate, ...]
    upsell: Upsell | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict, hash=False)
    degraded: tuple[str, ...] = ()  # what was skipped: "llm_timeout", "history_unavailable", ...
    # Both retrievers put the same KB entry first: the KB knows the answer. False marks a gap a
    # trainer may want to fill.
    retrieval_confident: bool = False
    # Pieces (about tokens) the model wrote for the draft, shown or not: the decode-rate metric
    # counts these, as what streams to the agent is checked clauses, not tokens.
    draft_tokens: int = 0


@dataclass(frozen=True)
class ShopPolicy:
    """Per-shop rules for routing and guardrails (kb/demo/shops.json holds the demo shops')."""

    shop_id: str
    shop_name: str = ""
    auto_reply: bool = False  # may high-confidence FAQ answers go out without an agent?
    auto_min_confidence: float = 0.9
    handoff_min_confidence: float = 0.35  # below this the intent is a guess: a human decides
    refund_limit: Decimal = Decimal(0)  # refunds an agent may approve without a specialist
    compensation_limit: Decimal = Decimal(0)  # 赔付 an agent may promise without a specialist
    banned_phrases: tuple[str, ...] = ()  # added to the built-in off-platform list
    max_reply_chars: int = 300
    repeat_limit: int = 3  # the same question unresolved this many times: hand off


@dataclass(frozen=True)
class HistoryHit:
    """A reply from the shop's history bank (copilot.history) that fits the message."""

    reply_id: str
    text: str
    count: int  # how many times agents said it (near-duplicates included)
    score: float
    matched_message: str  # the past customer message that matched best
    slots: tuple[str, ...] = ()  # "{订单号}"...: fill from the order context or drop the hit
    intents: tuple[str, ...] = ()  # most frequent first
    parts: Mapping[str, float] = field(default_factory=dict, hash=False)  # score components
