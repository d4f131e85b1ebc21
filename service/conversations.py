"""Conversation turns in Redis, masked, with a TTL; and each conversation's generation counter.

    copilot:conv:{id}           hash: shop_id, updated, last_text
    copilot:conv:{id}:turns     list of JSON turns (the last max_turns)
    copilot:conv:{id}:gen       generation: bumped by every suggest and every customer turn
    copilot:{shop}:conversations  sorted set of ids by last update
    copilot:cancel              pub/sub channel: "{id} {generation}" on every bump

A stream of suggestions belongs to one generation; when the counter moves, the stream is
superseded, whichever replica moved it. Writes go in one MULTI, so a conversation is never
half-written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from copilot.masking import mask_pii
from copilot.types import Turn

PREFIX = "copilot"
CANCEL_CHANNEL = f"{PREFIX}:cancel"


@dataclass(frozen=True)
class StoredConversation:
    conversation_id: str
    shop_id: str
    turns: tuple[Turn, ...]
    updated: float


@dataclass(frozen=True)
class ConversationSummary:
    conversation_id: str
    updated: float
    last_text: str
    turns: int


class ConversationStore:
    def __init__(
        self, client: redis.Redis, ttl_seconds: int, max_turns: int, prefix: str = PREFIX
    ) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self.max_turns = max_turns
        self.prefix = prefix

    def _key(self, conversation_id: str, part: str = "") -> str:
        return f"{self.prefix}:conv:{conversation_id}{':' + part if part else ''}"

    def owner(self, conversation_id: str) -> str | None:
        raw = self.client.hget(self._key(conversation_id), "shop_id")
        return _text(raw) if raw else None

    def write(
        self,
        conversation_id: str,
        shop_id: str,
        turns: Sequence[Turn],
        *,
        replace: bool = False,
        bump: bool | None = None,
    ) -> tuple[int, int | None]:
        """Append (or replace with) turns, masked. -> (turns stored, new generation or None).
        By default a customer turn bumps the generation: the customer said something new."""
        now = time.time()
        meta, listed = self._key(conversation_id), self._key(conversation_id, "turns")
        if bump is None:
            bump = any(t.role == "customer" for t in turns)
        pipe = self.client.pipeline(transaction=True)
        if replace:
            pipe.delete(listed)
        if turns:
            pipe.rpush(listed, *(_turn_json(t) for t in turns))
        pipe.ltrim(listed, -self.max_turns, -1)
        count_at = len(pipe)
        pipe.llen(listed)
        last = mask_pii(turns[-1].text) if turns else ""
        pipe.hset(meta, mapping={"shop_id": shop_id, "updated": str(now), "last_text": last})
        pipe.zadd(f"{self.prefix}:{shop_id}:conversations", {conversation_id: now})
        for key in (meta, listed):
            pipe.expire(key, self.ttl)
        bump_at = len(pipe)
        if bump:
            self._queue_bump(pipe, conversation_id)
        results = pipe.execute()
        count = int(results[count_at])
        generation = int(results[bump_at]) if bump else None
        if generation is not None:
            self.client.publish(CANCEL_CHANNEL, f"{conversation_id} {generation}")
        return count, generation

    def get(self, conversation_id: str) -> StoredConversation | None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hgetall(self._key(conversation_id))
        pipe.lrange(self._key(conversation_id, "turns"), 0, -1)
        meta, raw_turns = pipe.execute()
        if not meta:
            return None
        fields = {_text(k): _text(v) for k, v in meta.items()}
        turns = tuple(_turn_from_json(raw) for raw in raw_turns)
        return StoredConversation(
            conversation_id, fields["shop_id"], turns, float(fields.get("updated", 0))
        )

    def recent(self, shop_id: str, limit: int = 50) -> list[ConversationSummary]:
        """Most recently updated first; expired conversations are dropped from the index."""
        index = f"{self.prefix}:{shop_id}:conversations"
        self.client.zremrangebyscore(index, "-inf", time.time() - self.ttl)
        ids = [_text(i) for i in self.client.zrevrange(index, 0, limit - 1)]
        pipe = self.client.pipeline(transaction=False)
        for conversation_id in ids:
            pipe.hgetall(self._key(conversation_id))
            pipe.llen(self._key(conversation_id, "turns"))
        results = pipe.execute()
        summaries = []
        for n, conversation_id in enumerate(ids):
            meta, count = results[2 * n], results[2 * n + 1]
            fields = {_text(k): _text(v) for k, v in meta.items()}
            if fields.get("shop_id") == shop_id:
                updated, last = float(fields.get("updated", 0)), fields.get("last_text", "")
                summaries.append(ConversationSummary(conversation_id, updated, last, int(count)))
        return summaries

    def generation(self, conversation_id: str) -> int:
        raw = self.client.get(self._key(conversation_id, "gen"))
        return int(raw) if raw else 0

    def bump(self, conversation_id: str) -> int:
        """A new generation: every older stream of this conversation is superseded."""
        pipe = self.client.pipeline(transaction=True)
        self._queue_bump(pipe, conversation_id)
        generation = int(pipe.execute()[0])
        self.client.publish(CANCEL_CHANNEL, f"{conversation_id} {generation}")
        return generation

    def _queue_bump(self, pipe: redis.client.Pipeline, conversation_id: str) -> None:
        key = self._key(conversation_id, "gen")
        pipe.incr(key)
        pipe.expire(key, self.ttl)


def _turn_json(turn: Turn) -> str:
    data = {"role": turn.role, "text": mask_pii(turn.text), "ts": turn.ts or time.time()}
    return json.dumps(data, ensure_ascii=False)


def _turn_from_json(raw: bytes | str) -> Turn:
    data = json.loads(raw)
    return Turn(data["role"], data["text"], data.get("ts"))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
