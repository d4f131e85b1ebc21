"""The per-shop history response bank: what this shop's agents said, ready to suggest again.

    bank = ResponseBank(redis_client, embedder)
    bank.import_conversations(shop_id, conversations) -> BankReport   (all or nothing)
    bank.search(shop_id, message, context, k=3) -> list[HistoryHit]

Mining is copilot.history.mining. Redis is the source of truth: hist:shops, and per shop
hist:{shop}:version, :replies (id -> JSON: text, count, intents, examples with message, context,
keyword tokens and count), :vectors (id -> float32 rows, one per example: its message),
:agent_vectors (the same for the agent turn each example answers) and :meta. An import
replaces the bank in one MULTI/EXEC, so a failure leaves the old bank as it was. Each process
keeps an index per shop, rebuilt when the version moves (stored tokens: no jieba at rebuild),
in a ShopCache bounded by bytes (kb/storage/shop_cache.py; the service shares the KB indexes'
one): an
evicted bank is rebuilt from Redis on its next search.

Retrieval and re-ranking over the in-memory index are copilot.history.index.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np
import redis

from copilot.errors import CopilotError, HistoryImportError, HistoryUnavailable, LineError
from copilot.history.chatlogs import ChatFormat, ChatLog, read_chats
from copilot.history.index import BankIndex, Scored, consensus_pick, neighbour_pick, rerank
from copilot.history.mining import (
    NO_NAMES,
    HistoryConfig,
    MinedReply,
    MiningReport,
    ShopNames,
    clean_text,
    mine,
)
from copilot.history.selector import ReplySelector
from copilot.intents.rules import agent_context_text, last_agent_turn
from copilot.text.similarity import SLOT
from copilot.types import Conversation, HistoryHit, Turn
from kb.lifecycle import SupportsWarmUp
from kb.models.embedder import Embedder, Vectors
from kb.storage.recent import recent_reads
from kb.storage.shop_cache import ShopCache
from kb.tokens import tokenize
from kb.tokens import warm_up as warm_up_tokenizer

_SHOP_ID_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_EMBED_CHUNK = 256
# What stands for the agent's turn before a chat's first message: both sides embed it, so
# openings find openings.
CHAT_START = "会话开始"


@dataclass(frozen=True)
class BankReport:
    shop_id: str
    version: int
    conversations: int
    pairs: int  # agent replies seen
    replies: int  # distinct replies kept
    merged: int  # kept pairs folded into an existing reply
    dropped: Mapping[str, int]  # reason -> pairs
    embedded: int  # distinct example messages embedded
    seconds: float


@dataclass(frozen=True)
class BankStats:
    shop_id: str
    version: int
    replies: int
    examples: int
    pairs: int  # sum of the replies' counts
    embedding_model: str


class ResponseBank:
    def __init__(
        self,
        client: redis.Redis,
        embedder: Embedder,
        config: HistoryConfig | None = None,
        *,
        prefix: str = "hist",
        max_age: float = 0.0,
        selector: ReplySelector | None = None,
        cache: ShopCache | None = None,
    ) -> None:
        """`max_age` > 0: a shop's bank version may come from a read that recent (seconds;
        kb/storage/recent.py). `selector`: picks among the neighbour vote's replies
        (copilot.history.selector);
        where it has no opinion, neighbour_pick does. `cache`: where the banks' indexes are
        held, bounded by bytes; default: one of its own with the default bound."""
        self.client = client
        self.embedder = embedder
        self.config = config or HistoryConfig()
        self.prefix = prefix
        self.max_age = max_age
        self.selector = selector
        self._recent = recent_reads(client)
        self.cache = cache if cache is not None else ShopCache()
        self.namespace = f"history-bank:{prefix}"
        self._count = threading.Lock()
        self.builds = 0

    def warm_up(self) -> None:
        """Load the embedding model and jieba's dictionary; idempotent."""
        if isinstance(self.embedder, SupportsWarmUp):
            self.embedder.warm_up()
        warm_up_tokenizer()

    def import_conversations(
        self,
        shop_id: str,
        conversations: Sequence[Conversation],
        *,
        labels: Mapping[tuple[str, int], Mapping[str, Any]] | None = None,
        names: ShopNames = NO_NAMES,
        progress: bool = False,
    ) -> BankReport:
        """Mine the conversations into the shop's bank, replacing the old one (all or nothing).

        labels: per-turn extras (ChatLog.turn_labels); their "intent"s are kept per reply."""
        started = time.perf_counter()
        _check_shop_id(shop_id)
        with progress_bars(progress) as bar:
            tick = bar("mining conversations", len(conversations))
            replies, mined = mine(
                conversations, labels=labels, names=names, config=self.config, on_conversation=tick
            )
            if not replies:
                why = ", ".join(f"{k} {v}" for k, v in mined.dropped.items()) or "no agent replies"
                message = f"no usable replies among {mined.pairs} pairs (dropped: {why})"
                raise HistoryImportError([LineError(shop_id, None, message)])
            texts = {e.message for r in replies for e in r.examples}
            texts |= {agent_text(e.agent_turn) for r in replies for e in r.examples}
            messages = sorted(texts)
            matrix = self._embed(messages, bar("embedding messages", len(messages)))
        vectors = dict(zip(messages, matrix, strict=True))
        version = self._write(shop_id, replies, vectors, mined)
        return BankReport(
            shop_id, version, mined.conversations, mined.pairs, mined.replies, mined.merged,
            dict(mined.dropped), len(messages), time.perf_counter() - started,
        )  # fmt: skip

    def import_file(
        self,
        shop_id: str,
        path: Path | str,
        *,
        format: ChatFormat | None = None,
        names: ShopNames = NO_NAMES,
        progress: bool = False,
    ) -> tuple[ChatLog, BankReport]:
        """`copilot history import SHOP CHATS`: read, mine, store; the log lists skipped lines."""
        log = read_chats(path, format=format, shop_id=shop_id)
        report = self.import_conversations(
            shop_id, log.conversations, labels=log.turn_labels, names=names, progress=progress
        )
        return log, report

    def search(
        self,
        shop_id: str,
        message: str,
        context: Sequence[Turn] = (),
        k: int = 3,
        *,
        intent: str | None = None,
        query_vector: Vectors | None = None,
    ) -> list[HistoryHit]:
        """The bank's best replies to the customer's `message`; `context`: the turns before it.

        query_vector: the message's e5 "query:" vector, when the caller has already embedded it
        (raw or cleaned: personal data and placeholders barely move an e5 vector).
        A shop without a bank has no hits."""
        cleaned = clean_text(message)
        index = self.index(shop_id)
        if index is None or not index.unit_reply or not cleaned:
            return []
        if index.embedding_model != self.embedder.name:
            raise CopilotError(
                f"the history bank of {shop_id!r} was embedded with {index.embedding_model!r}, "
                f"not {self.embedder.name!r}; import its chats again"
            )
        if query_vector is None:
            query_vector = self.embedder.embed_batch([cleaned], role="query")[0]
        if self.config.selection == "neighbours":
            agent = agent_text(last_agent_turn(context))
            agent_vector = self.embedder.embed_batch([agent], role="query")[0]
            picked = None
            if self.selector is not None:
                picked = self.selector.select(
                    shop_id, index, query_vector, agent_vector, intent, k, self.config
                )
            if picked is None:
                picked = neighbour_pick(index, query_vector, agent_vector, intent, k, self.config)
            return [_hit(index, s) for s in picked]
        recent = " ".join(clean_text(t.text) for t in list(context)[-2:])
        scored = rerank(index, cleaned, query_vector, recent, intent, self.config)
        if self.config.selection == "consensus":
            scored = consensus_pick(scored, k, max(k, self.config.consensus_pool))
        return [_hit(index, s) for s in scored[:k]]

    def stats(self, shop_id: str) -> BankStats:
        index = self.index(shop_id)
        if index is None:
            return BankStats(shop_id, 0, 0, 0, 0, "")
        pairs = sum(r.count for r in index.replies)
        return BankStats(
            shop_id, index.version, len(index.replies), len(index.unit_reply), pairs,
            index.embedding_model,
        )  # fmt: skip

    def shops(self) -> list[str]:
        return sorted(m.decode() for m in self._call(self.client.smembers, f"{self.prefix}:shops"))

    # --- storage -----------------------------------------------------------------------------

    def _embed(self, texts: Sequence[str], tick: Callable[[int], None]) -> Vectors:
        chunks = []
        try:
            for start in range(0, len(texts), _EMBED_CHUNK):
                batch = texts[start : start + _EMBED_CHUNK]
                chunks.append(self.embedder.embed_batch(batch, role="query"))
                tick(len(batch))
        except Exception as exc:  # whatever the backend raises, nothing has been written
            raise CopilotError(f"embedding the history bank failed: {exc}") from exc
        return np.vstack(chunks).astype(np.float32, copy=False)

    def _write(
        self,
        shop_id: str,
        replies: list[MinedReply],
        vectors: Mapping[str, Vectors],
        mined: MiningReport,
    ) -> int:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(*(self._key(shop_id, name) for name in ("replies", "vectors", "agent_vectors")))
        tokens = {message: tokenize(message) for message in vectors}  # messages recur: once each
        pipe.hset(
            self._key(shop_id, "replies"), mapping={r.id: _reply_json(r, tokens) for r in replies}
        )
        pipe.hset(
            self._key(shop_id, "vectors"),
            mapping={
                r.id: np.vstack([vectors[e.message] for e in r.examples]).tobytes() for r in replies
            },
        )
        pipe.hset(
            self._key(shop_id, "agent_vectors"),
            mapping={
                r.id: np.vstack([vectors[agent_text(e.agent_turn)] for e in r.examples]).tobytes()
                for r in replies
            },
        )
        pipe.hset(
            self._key(shop_id, "meta"),
            mapping={
                "embedding_model": self.embedder.name,
                "dim": next(iter(vectors.values())).shape[-1],
                "imported_at": time.time(),
                "dropped": json.dumps(dict(mined.dropped)),
            },
        )
        pipe.sadd(f"{self.prefix}:shops", shop_id)
        pipe.incr(self._key(shop_id, "version"))
        try:
            return int(self._call(pipe.execute)[-1])
        finally:
            self._recent.forget((self.prefix, "version", shop_id))

    def held(self) -> dict[str, BankIndex]:
        """The banks' indexes held now, by shop (no Redis read)."""
        return cast(dict[str, BankIndex], self.cache.held(self.namespace))

    def index(self, shop_id: str) -> BankIndex | None:
        """The shop's bank in memory (built on a miss, kept in the byte-bounded cache), or
        None for a shop without one; what a learned selector trains on."""
        if not shop_id or not set(shop_id) <= _SHOP_ID_ALLOWED:
            return None
        return self.cache.get(
            (self.namespace, shop_id),
            lambda: self._build(shop_id),
            lambda index: index.version == self._version(shop_id),
        )

    def _build(self, shop_id: str) -> BankIndex:
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self._key(shop_id, "version"))
        for name in ("replies", "vectors", "meta", "agent_vectors"):
            pipe.hgetall(self._key(shop_id, name))
        index = BankIndex.build(*self._call(pipe.execute))
        with self._count:
            self.builds += 1
        return index

    def _version(self, shop_id: str) -> int:
        return self._recent.read(
            (self.prefix, "version", shop_id), self.max_age, partial(self._read_version, shop_id)
        )

    def _read_version(self, shop_id: str) -> int:
        raw = self._call(self.client.get, self._key(shop_id, "version"))
        return int(raw) if raw is not None else 0

    def _key(self, shop_id: str, name: str) -> str:
        return f"{self.prefix}:{shop_id}:{name}"

    @staticmethod
    def _call(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except (redis.RedisError, OSError) as exc:
            raise HistoryUnavailable(f"the history bank's Redis failed: {exc}") from exc


def agent_text(agent_turn: str) -> str:
    """The text embedded for the agent turn a message answers (the intent's context text)."""
    return agent_context_text(agent_turn) or CHAT_START


def _hit(index: BankIndex, scored: Scored) -> HistoryHit:
    reply = scored.reply
    return HistoryHit(
        reply_id=reply.id,
        text=reply.text,
        count=reply.count,
        score=round(scored.score, 6),
        matched_message=index.unit_message[scored.unit],
        slots=tuple(dict.fromkeys(SLOT.findall(reply.text))),
        intents=tuple(sorted(reply.intents, key=lambda i: (-reply.intents[i], i))),
        parts={name: round(value, 6) for name, value in scored.parts.items()},
    )


def _check_shop_id(shop_id: str) -> None:
    if not shop_id or len(shop_id) > 64 or not set(shop_id) <= _SHOP_ID_ALLOWED:
        message = f"shop id {shop_id!r}: use 1-64 lower-case letters, digits, '-' or '_'"
        raise HistoryImportError([LineError("<shop>", None, message)])


def _reply_json(reply: MinedReply, tokens: Mapping[str, list[str]]) -> str:
    examples = [
        {
            "message": e.message,
            "context": [list(t) for t in e.context],
            "tokens": tokens[e.message],
            "count": e.count,
        }
        for e in reply.examples
    ]
    data = {
        "text": reply.text,
        "count": reply.count,
        "intents": reply.intents,
        "examples": examples,
    }
    return json.dumps(data, ensure_ascii=False)


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[[str, int], Callable[..., None]]]:
    """Makes progress ticks: rich bars on stderr when enabled, no-ops otherwise."""
    if not enabled:
        yield lambda _label, _total: lambda _n=1: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True)) as bar:

        def task(label: str, total: int) -> Callable[..., None]:
            task_id = bar.add_task(label, total=max(total, 1))
            return lambda n=1: bar.advance(task_id, n)

        yield task
