"""Conversation turns in Redis, masked, with a TTL; and each conversation's generation counter.

A conversation id is the shop's own (e.g. its platform's chat id): the same id in two shops is
two conversations, and another shop's id is simply unknown here. Keys (kb/storage/redis_keys.py):

    copilot:shop:{shop}:conv:{id}         hash: shop_id, updated, last_text
    copilot:shop:{shop}:conv:{id}:turns   list of JSON turns (the last max_turns)
    copilot:shop:{shop}:conv:{id}:gen     generation: bumped by every suggest and customer turn
    copilot:shop:{shop}:conversations     sorted set of ids by last update
    copilot:cancel                        pub/sub channel: "{conversation key} {generation}"

The cancel message names the conversation by its key, which holds the shop and the id escaped
(no spaces), so a bump in one shop never cancels a stream of the same id in another.

A stream of suggestions belongs to one generation; when the counter moves, the stream is
superseded, whichever replica moved it. A write is one Lua script: the turns, the generation
bump and its announcement happen atomically, so a conversation is never half-written; and in
one round trip where they were three (every suggest writes: half the CPU, 265 against 560 us).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from copilot.clock import Clock, timestamp
from copilot.text.masking import mask_pii
from copilot.types import Turn
from kb.storage.redis_keys import ROOT, RedisKeys

PREFIX = ROOT
CANCEL_CHANNEL = f"{PREFIX}:cancel"

# KEYS: meta, turns, generation, the shop's index. ARGV: shop, now, masked last text, ttl,
# max turns, replace (0/1), bump (0/1), id, cancel channel, turns (JSON)...
# -> {turns stored, generation or 0 when not bumped}.
_WRITE = """
if ARGV[6] == '1' then redis.call('DEL', KEYS[2]) end
for i = 10, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
local count = redis.call('LLEN', KEYS[2])
redis.call('HSET', KEYS[1], 'shop_id', ARGV[1], 'updated', ARGV[2], 'last_text', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
local generation = 0
if ARGV[7] == '1' then
  generation = redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  redis.call('PUBLISH', ARGV[9], KEYS[1] .. ' ' .. generation)
end
return {count, generation}
"""


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
        self,
        client: redis.Redis,
        ttl_seconds: int,
        max_turns: int,
        prefix: str = PREFIX,
        *,
        clock: Clock,
    ) -> None:
        self.client = client
        self.clock = clock
        self.ttl = ttl_seconds
        self.max_turns = max_turns
        self.keys = RedisKeys(prefix)
        self._write = client.register_script(_WRITE)

    def name(self, shop_id: str, conversation_id: str) -> str:
        """What the cancel channel calls this conversation (its key: unique across shops)."""
        return self.keys.conversation(shop_id, conversation_id)

    def write(
        self,
        shop_id: str,
        conversation_id: str,
        turns: Sequence[Turn],
        *,
        replace: bool = False,
        bump: bool | None = None,
    ) -> tuple[int, int | None]:
        """Append (or replace with) turns, masked. -> (turns stored, new generation or None).
        By default a customer turn bumps the generation: the customer said something new."""
        if bump is None:
            bump = any(t.role == "customer" for t in turns)
        now = timestamp(self.clock)
        masked = [mask_pii(t.text) for t in turns]
        keys = [
            self.keys.conversation(shop_id, conversation_id),
            self.keys.conversation(shop_id, conversation_id, "turns"),
            self.keys.conversation(shop_id, conversation_id, "gen"),
            self.keys.shop(shop_id, "conversations"),
        ]
        turns_json = [_turn_json(t, text, now) for t, text in zip(turns, masked, strict=True)]
        args: list[str | int] = [shop_id, str(now), masked[-1] if masked else "", self.ttl,
                                 self.max_turns, int(replace), int(bump), conversation_id,
                                 CANCEL_CHANNEL, *turns_json]  # fmt: skip
        result: list[Any] = self._write(keys=keys, args=args)
        return int(result[0]), int(result[1]) if bump else None

    def get(self, shop_id: str, conversation_id: str) -> StoredConversation | None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hgetall(self.keys.conversation(shop_id, conversation_id))
        pipe.lrange(self.keys.conversation(shop_id, conversation_id, "turns"), 0, -1)
        meta, raw_turns = pipe.execute()
        if not meta:
            return None
        fields = {_text(k): _text(v) for k, v in meta.items()}
        turns = tuple(_turn_from_json(raw) for raw in raw_turns)
        return StoredConversation(conversation_id, shop_id, turns, float(fields.get("updated", 0)))

    def recent(self, shop_id: str, limit: int = 50) -> list[ConversationSummary]:
        """Most recently updated first; expired conversations are dropped from the index."""
        index = self.keys.shop(shop_id, "conversations")
        self.client.zremrangebyscore(index, "-inf", timestamp(self.clock) - self.ttl)
        ids = [_text(i) for i in self.client.zrevrange(index, 0, limit - 1)]
        pipe = self.client.pipeline(transaction=False)
        for conversation_id in ids:
            pipe.hgetall(self.keys.conversation(shop_id, conversation_id))
            pipe.llen(self.keys.conversation(shop_id, conversation_id, "turns"))
        results = pipe.execute()
        summaries = []
        for n, conversation_id in enumerate(ids):
            meta, count = results[2 * n], results[2 * n + 1]
            fields = {_text(k): _text(v) for k, v in meta.items()}
            if fields:
                updated, last = float(fields.get("updated", 0)), fields.get("last_text", "")
                summaries.append(ConversationSummary(conversation_id, updated, last, int(count)))
        return summaries

    def generation(self, shop_id: str, conversation_id: str) -> int:
        raw = self.client.get(self.keys.conversation(shop_id, conversation_id, "gen"))
        return int(raw) if raw else 0

    def bump(self, shop_id: str, conversation_id: str) -> int:
        """A new generation: every older stream of this conversation is superseded."""
        key = self.keys.conversation(shop_id, conversation_id, "gen")
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, self.ttl)
        generation = int(pipe.execute()[0])
        self.client.publish(CANCEL_CHANNEL, f"{self.name(shop_id, conversation_id)} {generation}")
        return generation


def _turn_json(turn: Turn, masked_text: str, now: float) -> str:
    data = {"role": turn.role, "text": masked_text, "ts": turn.ts or now}
    return json.dumps(data, ensure_ascii=False)


def _turn_from_json(raw: bytes | str) -> Turn:
    data = json.loads(raw)
    return Turn(data["role"], data["text"], data.get("ts"))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
