"""Suggestions while Redis is down: the same pipeline over what this replica already holds.

The knowledge indexes this process last built stay in memory; the intent classifier needs no
Redis. So a Redis outage costs the history bank, shop policies (defaults apply: never
auto-reply) and the LLM draft, but the agent still gets grounded KB answers for the request's
inline turns, marked degraded. Nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager

from copilot.pipeline import Suggester
from copilot.types import ShopPolicy
from kb.errors import ShopNotFound
from kb.index import IndexCache, ShopIndex
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder
from kb.retrieval import HybridRetriever
from kb.types import Entry, Hit


class _FrozenIndexes:
    """The indexes the live cache holds, without asking Redis."""

    def __init__(self, live: IndexCache) -> None:
        self.live = live

    def get(self, shop_id: str) -> ShopIndex:
        index = self.live.held().get(shop_id)
        if index is None:
            raise ShopNotFound(shop_id)
        return index


class OfflineKnowledge:
    """A KnowledgeSource over the indexes this process already holds: what serves while Redis
    is down. Held indexes do not move, so every read in a request sees one state."""

    def __init__(self, live: KnowledgeBase) -> None:
        self.live_indexes = live.indexes
        self._indexes = _FrozenIndexes(live.indexes)
        self._embedder = live.embedder
        self.retriever = HybridRetriever(self._indexes, live.embedder, live.retriever.config)

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def search(
        self,
        shop_id: str,
        query: str,
        *,
        k: int = 5,
        kinds: Iterable[str] | None = None,
        product_id: str | None = None,
    ) -> list[Hit]:
        return self.retriever.search(shop_id, query, k=k, kinds=kinds, product_id=product_id)

    def index(self, shop_id: str) -> ShopIndex:
        return self._indexes.get(shop_id)

    def held(self) -> Collection[str]:
        return self.live_indexes.held().keys()

    def warm(self, shop_ids: Iterable[str]) -> list[str]:
        held = self.held()
        return [shop_id for shop_id in shop_ids if shop_id in held]

    def shops(self) -> list[str]:
        return sorted(self.held())

    def exists(self, shop_id: str) -> bool:
        return shop_id in self.held()

    def versions(self, shop_ids: Sequence[str]) -> dict[str, int]:
        return {shop_id: self.index(shop_id).version for shop_id in shop_ids}

    def entries(self, shop_id: str) -> list[Entry]:
        return sorted(self.index(shop_id).entries.values(), key=lambda e: (e.kind, e.id))

    @contextmanager
    def consistent_versions(self) -> Iterator[None]:
        yield


class _DefaultPolicies:
    """Shop policies are in Redis; without it every shop gets the cautious defaults."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def get(self, shop_id: str) -> ShopPolicy:
        return ShopPolicy(shop_id=shop_id, shop_name=self.names.get(shop_id, ""))


def offline_suggester(live: Suggester, knowledge: KnowledgeBase) -> Suggester:
    """A Suggester sharing the live one's models, reading only this process's memory."""
    suggester = Suggester(
        OfflineKnowledge(knowledge),
        live.classifier,
        policies=_DefaultPolicies(live.shop_names),
        clock=live.clock,
        history=None,
        generator=None,
        shop_names=live.shop_names,
        config=live.config,
    )
    suggester.sentiment = live.sentiment  # one loaded model, not two
    return suggester


def warm_indexes(knowledge: KnowledgeBase) -> None:
    """Build shops' indexes now, as many as the index cache holds: first requests are fast,
    and an outage finds them held. A shop whose stored knowledge cannot be read is logged and
    left out (IndexCache.warm): one damaged key must not keep the service from starting."""
    knowledge.indexes.warm(knowledge.shops())
