"""What the copilot suggested, kept so feedback can be joined with it (stats, gaps, eval live).

    copilot:suggestion:{id}             JSON, expires after ttl_days
    copilot:shop:{shop}:suggestions     sorted set of ids, score = ts (trimmed to ttl_days on write)

(built by kb/storage/redis_keys.py, the one place that knows the layout)

The customer's message is masked before it is stored; candidate ids are "{suggestion_id}:{n}".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import redis

from copilot.clock import Clock, SystemClock, timestamp
from copilot.intents.rules import last_agent_turn
from copilot.text.masking import mask_pii
from copilot.types import Conversation, Suggestion
from kb.storage.redis_keys import ROOT, RedisKeys

PREFIX = ROOT


@dataclass(frozen=True)
class RecordedCandidate:
    id: str
    text: str
    role: str
    source: str  # Source.kind: kb | history | llm | template
    kb_entry_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuggestionRecord:
    suggestion_id: str
    shop_id: str
    conversation_id: str | None
    ts: float
    customer_msg: str  # masked
    intent: str
    confidence: float
    route: str
    queue: str | None
    retrieval_confident: bool
    candidates: tuple[RecordedCandidate, ...] = ()
    # masked: the agent's turn the message answers (what the reply selector reads beside it)
    agent_turn: str = ""


def candidate_id(suggestion_id: str, n: int) -> str:
    return f"{suggestion_id}:{n}"


def record_from_suggestion(
    suggestion_id: str,
    conversation: Conversation,
    suggestion: Suggestion,
    ts: float,
) -> SuggestionRecord:
    """The record of one suggestion, with the customer's message masked."""
    return SuggestionRecord(
        suggestion_id=suggestion_id,
        shop_id=suggestion.shop_id,
        conversation_id=conversation.conversation_id,
        ts=ts,
        customer_msg=mask_pii(conversation.last_customer_text),
        intent=suggestion.intent.label,
        confidence=suggestion.intent.confidence,
        route=suggestion.route.action,
        queue=suggestion.route.queue,
        retrieval_confident=suggestion.retrieval_confident,
        candidates=tuple(
            RecordedCandidate(
                candidate_id(suggestion_id, n),
                mask_pii(c.text),
                c.role,
                c.source.kind,
                c.source.kb_entry_ids,
            )
            for n, c in enumerate(suggestion.candidates, start=1)
        ),
        agent_turn=recorded_agent_turn(conversation),
    )


def recorded_agent_turn(conversation: Conversation) -> str:
    """The agent's turn before the customer's message, masked as the message is."""
    return mask_pii(last_agent_turn(conversation.turns[:-1]))


def record_to_dict(record: SuggestionRecord) -> dict[str, Any]:
    data = asdict(record)
    data["candidates"] = [
        {**c, "kb_entry_ids": list(c["kb_entry_ids"])} for c in data["candidates"]
    ]
    return data


def record_from_dict(data: dict[str, Any]) -> SuggestionRecord:
    candidates = tuple(
        RecordedCandidate(
            str(c["id"]), str(c["text"]), str(c["role"]), str(c["source"]),
            tuple(c.get("kb_entry_ids") or ()),
        )
        for c in data.get("candidates") or ()
    )  # fmt: skip
    return SuggestionRecord(
        suggestion_id=str(data["suggestion_id"]),
        shop_id=str(data["shop_id"]),
        conversation_id=data.get("conversation_id"),
        ts=float(data["ts"]),
        customer_msg=str(data.get("customer_msg", "")),
        intent=str(data.get("intent", "")),
        confidence=float(data.get("confidence", 0.0)),
        route=str(data.get("route", "")),
        queue=data.get("queue"),
        retrieval_confident=bool(data.get("retrieval_confident", False)),
        candidates=candidates,
        agent_turn=str(data.get("agent_turn", "")),
    )


class SuggestionLog:
    def __init__(
        self,
        client: redis.Redis,
        ttl_days: float = 30,
        prefix: str = PREFIX,
        *,
        clock: Clock = SystemClock(),  # noqa: B008  # frozen: one shared instance is safe
    ) -> None:
        self.client = client
        self.ttl_seconds = int(ttl_days * 86400)
        self.keys = RedisKeys(prefix)
        self.clock = clock

    def _key(self, suggestion_id: str) -> str:
        return self.keys.suggestion(suggestion_id)

    def _index(self, shop_id: str) -> str:
        return self.keys.shop(shop_id, "suggestions")

    def has_shop(self, shop_id: str) -> bool:
        """Has the shop any suggestion on record?"""
        return bool(self.client.exists(self._index(shop_id)))

    def put(self, record: SuggestionRecord) -> None:
        """Both keys in one transaction: a record is either findable by shop and id, or absent."""
        payload = json.dumps(record_to_dict(record), ensure_ascii=False)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._key(record.suggestion_id), payload, ex=self.ttl_seconds)
        pipe.zadd(self._index(record.shop_id), {record.suggestion_id: record.ts})
        cutoff = timestamp(self.clock) - self.ttl_seconds
        pipe.zremrangebyscore(self._index(record.shop_id), "-inf", cutoff)
        pipe.execute()

    def get(self, suggestion_id: str) -> SuggestionRecord | None:
        raw = self.client.get(self._key(suggestion_id))
        return record_from_dict(json.loads(raw)) if raw else None

    def recent(
        self, shop_id: str, since_ts: float, *, limit: int | None = None
    ) -> list[SuggestionRecord]:
        """The shop's records from since_ts on, oldest first; with `limit`, only the newest
        `limit` of them (ask one more than you keep to learn whether there were more)."""
        index = self._index(shop_id)
        if limit is None:
            ids = self.client.zrangebyscore(index, since_ts, "+inf")
        else:
            ids = self.client.zrevrangebyscore(index, "+inf", since_ts, start=0, num=limit)[::-1]
        if not ids:
            return []
        raws = self.client.mget([self._key(_text(i)) for i in ids])
        return [record_from_dict(json.loads(raw)) for raw in raws if raw]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
