"""Suggestions while Redis is down: the same pipeline over what this replica already holds.

The knowledge indexes this process last built stay in memory; the intent classifier needs no
Redis. So a Redis outage costs the history bank, shop policies (defaults apply: never
auto-reply) and the LLM draft, but the agent still gets grounded KB answers for the request's
inline turns, marked degraded. Nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from copilot.pipeline import Suggester
from copilot.types import ShopPolicy
from kb.errors import ShopNotFound
from kb.index import IndexCache, ShopIndex
from kb.retrieval import HybridRetriever
from kb.types import Entry, Hit


class _FrozenIndexes:
    """IndexCache's interface over the indexes the live cache holds, without asking Redis."""

    def __init__(self, live: IndexCache) -> None:
        self.live = live

    def held(self) -> dict[str, ShopIndex]:
        return self.live.held()

    def get(self, shop_id: str) -> ShopIndex:
        index = self.held().get(shop_id)
        if index is None:
            raise ShopNotFound(shop_id)
        return index


class _FrozenStore:
    def __init__(self, indexes: _FrozenIndexes) -> None:
        self.indexes = indexes

    @contextmanager
    def consistent_versions(self) -> Iterator[None]:
        """Held indexes do not move: every read in a request already sees one state."""
        yield

    def exists(self, shop_id: str) -> bool:
        return shop_id in self.indexes.held()

    def version(self, shop_id: str) -> int:
        return self.indexes.get(shop_id).version

    def versions(self, shop_ids: Sequence[str]) -> dict[str, int]:
        return {shop_id: self.version(shop_id) for shop_id in shop_ids}

    def entries(self, shop_id: str) -> list[Entry]:
        return sorted(self.indexes.get(shop_id).entries.values(), key=lambda e: (e.kind, e.id))

    def shops(self) -> list[str]:
        return sorted(self.indexes.held())


class OfflineKnowledge:
    """The KnowledgeBase surface the pipeline reads (search, shops, store, indexes)."""

    def __init__(self, live: Suggester) -> None:
        self.indexes = _FrozenIndexes(live.kb.indexes)
        self.store = _FrozenStore(self.indexes)
        self.embedder = live.kb.embedder
        self.retriever = HybridRetriever(
            self.indexes,  # type: ignore[arg-type]  # duck-typed IndexCache
            live.kb.embedder,
            live.kb.retriever.config,
        )

    def shops(self) -> list[str]:
        return self.store.shops()

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


class _DefaultPolicies:
    """Shop policies are in Redis; without it every shop gets the cautious defaults."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def get(self, shop_id: str) -> ShopPolicy:
        return ShopPolicy(shop_id=shop_id, shop_name=self.names.get(shop_id, ""))


def offline_suggester(live: Suggester) -> Suggester:
    """A Suggester sharing the live one's models, reading only this process's memory."""
    suggester = Suggester(
        OfflineKnowledge(live),  # type: ignore[arg-type]  # duck-typed KnowledgeBase
        live.classifier,
        policies=_DefaultPolicies(live.shop_names),  # type: ignore[arg-type]
        clock=live.clock,
        history=None,
        generator=None,
        shop_names=live.shop_names,
        config=live.config,
    )
    suggester.sentiment = live.sentiment  # one loaded model, not two
    return suggester


def warm_indexes(live: Suggester) -> None:
    """Build shops' indexes now, as many as the index cache holds: first requests are fast,
    and an outage finds them held. A shop whose stored knowledge cannot be read is logged and
    left out (IndexCache.warm): one damaged key must not keep the service from starting."""
    live.kb.indexes.warm(live.kb.shops())
