"""Domain types of the eval harness: a turn to replay, and what the replay recorded for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from copilot.history.chatlogs import TurnKey
from copilot.types import Conversation


@dataclass(frozen=True)
class ReplayItem:
    """An agent turn that follows a customer turn, with the context the agent had."""

    conversation_id: str
    turn_index: int  # of the agent's reply in the conversation
    context: Conversation  # every turn before the reply
    actual_reply: str
    alt_replies: tuple[str, ...] = ()
    gold_intent: str | None = None  # labelled on the customer turn
    gold_handoff: bool | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.conversation_id, self.turn_index)

    @property
    def customer_msg(self) -> str:
        return self.context.last_customer_text

    @property
    def references(self) -> tuple[str, ...]:
        return (self.actual_reply, *self.alt_replies)


@dataclass(frozen=True)
class ReplayedCandidate:
    text: str
    role: str
    source: str  # Source.kind: kb | history | llm | template
    score: float
    flags: tuple[str, ...] = ()  # guardrail codes of blocking flags


@dataclass(frozen=True)
class TurnRecord:
    """One line of DIR/turns.jsonl."""

    conversation_id: str
    turn_index: int
    customer_msg: str
    actual_reply: str
    alt_replies: tuple[str, ...]
    candidates: tuple[ReplayedCandidate, ...]
    intent: str
    intent_confidence: float
    route: str
    route_reasons: tuple[str, ...] = ()
    latency_ms: dict[str, float] = field(default_factory=dict, hash=False)
    gold_intent: str | None = None
    gold_handoff: bool | None = None
    upsell: str | None = None  # the upsell kind offered, if any
    degraded: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.conversation_id, self.turn_index)

    @property
    def references(self) -> tuple[str, ...]:
        return (self.actual_reply, *self.alt_replies)

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.candidates]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnRecord:
        candidates = tuple(
            ReplayedCandidate(
                str(c["text"]), str(c.get("role", "answer")), str(c.get("source", "")),
                float(c.get("score", 0.0)), tuple(c.get("flags") or ()),
            )
            for c in data["candidates"]
        )  # fmt: skip
        return cls(
            conversation_id=str(data["conversation_id"]),
            turn_index=int(data["turn_index"]),
            customer_msg=str(data["customer_msg"]),
            actual_reply=str(data["actual_reply"]),
            alt_replies=tuple(data.get("alt_replies") or ()),
            candidates=candidates,
            intent=str(data.get("intent", "")),
            intent_confidence=float(data.get("intent_confidence", 0.0)),
            route=str(data.get("route", "")),
            route_reasons=tuple(data.get("route_reasons") or ()),
            latency_ms={k: float(v) for k, v in (data.get("latency_ms") or {}).items()},
            gold_intent=data.get("gold_intent"),
            gold_handoff=data.get("gold_handoff"),
            upsell=data.get("upsell"),
            degraded=tuple(data.get("degraded") or ()),
        )


@dataclass(frozen=True)
class Example:
    """A replayed turn as the report shows it: the system's and BM25's best ROUGE-L."""

    item: ReplayItem
    record: TurnRecord
    system_rouge: float
    bm25_rouge: float
    bm25_top: str


@dataclass(frozen=True)
class Prepared:
    """A run's corpus split and read: the train side that builds the bank, the turns to replay."""

    shop_id: str
    train: list[Conversation]
    train_labels: dict[TurnKey, dict[str, Any]]
    items: list[ReplayItem]
    skipped: int
