"""KnowledgeSource: what the suggestion pipeline reads of per-shop knowledge.

The pipeline, grounding and the guardrails depend on this Protocol, not on KnowledgeBase, so
anything that can answer these reads can stand behind them: KnowledgeBase (Redis and the
byte-bounded index cache), the service's degraded mode (only the indexes this process holds,
service/degraded.py), or a test's own source.

`search` is the heart of it (a Retriever); the rest tell which shops exist, hand out a shop's
built index
(its entries, products and promotions, for the catalogue and the guardrails' facts) and keep a
request's reads on one version of every shop.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kb.index import ShopIndex
    from kb.models.embedder import Embedder
    from kb.types import Entry, Hit


class Retriever(Protocol):
    def search(
        self,
        shop_id: str,
        query: str,
        *,
        k: int = 5,
        kinds: Iterable[str] | None = None,
        product_id: str | None = None,
    ) -> list[Hit]:
        """The shop's entries that answer `query`, best first; raises ShopNotFound."""
        ...


@runtime_checkable
class KnowledgeSource(Retriever, Protocol):
    @property
    def embedder(self) -> Embedder:
        """The model the search embeds queries with; stages that embed the same message (the
        history bank, the intents) share its query cache."""
        ...

    def index(self, shop_id: str) -> ShopIndex:
        """The shop's built index (current version); raises ShopNotFound."""
        ...

    def held(self) -> Collection[str]:
        """Shops whose index is in memory now: what per-shop state derived from an index
        (catalogues, facts) keeps, so that it is bounded as the index cache is."""
        ...

    def warm(self, shop_ids: Iterable[str]) -> list[str]:
        """Build these shops' indexes while they fit; the shops built."""
        ...

    def shops(self) -> list[str]: ...

    def exists(self, shop_id: str) -> bool: ...

    def versions(self, shop_ids: Sequence[str]) -> dict[str, int]: ...

    def entries(self, shop_id: str) -> list[Entry]: ...

    def consistent_versions(self) -> AbstractContextManager[None]:
        """Reads inside the block see one version of every shop (one request, one state)."""
        ...
