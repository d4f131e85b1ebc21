"""Retrieval over one shop's knowledge: dense, keyword, and their fusion.

Every retriever answers the same narrow Protocol, `search(shop_id, query, ...)`, and returns
entry-level Hits: units (an FAQ phrasing, a product title) are ranked, then each entry takes the
rank of its best unit. Fusion is reciprocal-rank fusion by default because e5 cosine scores sit
in a narrow band (about 0.83-0.93) that shifts with the text; ranks are comparable, raw scores
are not. A weighted sum of per-query min-max normalised scores is the alternative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from kb.hints import DEFAULT_KIND_HINTS, KindHints, hinted_kinds
from kb.index import ShopIndex, ShopIndexes, UnitHit
from kb.models.embedder import Embedder, embed_query
from kb.types import Hit, RetrieverScore


@dataclass(frozen=True)
class RetrievalConfig:
    fusion: Literal["rrf", "weighted"] = "rrf"
    # Defaults chosen on bench/data/kb_questions.jsonl (both halves agree; see bench/kb_quality.py).
    dense_weight: float = 1.5
    keyword_weight: float = 1.0
    rrf_k: int = 60
    candidates: int = 50  # units fetched from each retriever before fusion
    kind_hints: KindHints = DEFAULT_KIND_HINTS
    kind_hint_weight: float = 1.0  # 0 turns the hints off


@dataclass(frozen=True)
class _Ranked:
    """One retriever's entry ranking: entry id -> (score, rank, best unit)."""

    name: str
    by_entry: dict[str, tuple[float, int, int]]


def _rank_entries(name: str, index: ShopIndex, hits: list[UnitHit]) -> _Ranked:
    by_entry: dict[str, tuple[float, int, int]] = {}
    for hit in hits:
        entry_id = index.unit_entry[hit.unit]
        if entry_id not in by_entry:
            by_entry[entry_id] = (hit.score, len(by_entry) + 1, hit.unit)
    return _Ranked(name, by_entry)


def _hint_ranking(index: ShopIndex, rankings: list[_Ranked], kinds: frozenset[str]) -> _Ranked:
    """The candidates of the hinted kinds, ordered by their best rank in the other rankings."""
    best: dict[str, tuple[int, float, int]] = {}
    for ranking in rankings:
        for entry_id, (score, rank, unit) in ranking.by_entry.items():
            if index.entries[entry_id].kind in kinds and rank < best.get(entry_id, (rank + 1,))[0]:
                best[entry_id] = (rank, score, unit)
    ordered = sorted(best.items(), key=lambda item: (item[1][0], item[0]))
    return _Ranked(
        "kind_hint",
        {
            entry_id: (1.0, position, unit)
            for position, (entry_id, (_, _, unit)) in enumerate(ordered, 1)
        },
    )


class HybridRetriever:
    """Dense + keyword with fusion; `use` limits it to one side (for comparisons)."""

    def __init__(
        self,
        indexes: ShopIndexes,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
        use: tuple[str, ...] = ("dense", "keyword"),
    ) -> None:
        self.indexes = indexes
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.use = use

    def search(
        self,
        shop_id: str,
        query: str,
        *,
        k: int = 5,
        kinds: Iterable[str] | None = None,
        product_id: str | None = None,
    ) -> list[Hit]:
        index = self.indexes.get(shop_id)
        mask = index.allowed(frozenset(kinds) if kinds is not None else None, product_id)
        n = self.config.candidates
        rankings = []
        if "dense" in self.use:
            vector = embed_query(self.embedder, query)
            rankings.append(_rank_entries("dense", index, index.search_dense(vector, n, mask)))
        if "keyword" in self.use:
            rankings.append(_rank_entries("keyword", index, index.search_keyword(query, n, mask)))
        hinted = (
            hinted_kinds(query, self.config.kind_hints) if self.config.kind_hint_weight else None
        )
        if hinted:
            rankings.append(_hint_ranking(index, rankings, hinted))
        return self._fuse(index, rankings, k)

    def _weight(self, name: str) -> float:
        weights = {"dense": self.config.dense_weight, "keyword": self.config.keyword_weight}
        return weights.get(name, self.config.kind_hint_weight)

    def _fuse(self, index: ShopIndex, rankings: list[_Ranked], k: int) -> list[Hit]:
        fused: dict[str, float] = {}
        for ranking in rankings:
            contributions = self._contributions(ranking)
            for entry_id, value in contributions.items():
                fused[entry_id] = fused.get(entry_id, 0.0) + self._weight(ranking.name) * value
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [self._hit(index, rankings, entry_id, score) for entry_id, score in best]

    def _contributions(self, ranking: _Ranked) -> dict[str, float]:
        if self.config.fusion == "rrf":
            return {
                e: 1.0 / (self.config.rrf_k + rank) for e, (_, rank, _) in ranking.by_entry.items()
            }
        scores = [s for s, _, _ in ranking.by_entry.values()]
        low, high = (min(scores), max(scores)) if scores else (0.0, 0.0)
        spread = (high - low) or 1.0
        return {e: (s - low) / spread for e, (s, _, _) in ranking.by_entry.items()}

    @staticmethod
    def _hit(index: ShopIndex, rankings: list[_Ranked], entry_id: str, score: float) -> Hit:
        """The matched text is the unit behind the entry's best rank among the retrievers."""
        found = [(r.by_entry[entry_id], r.name) for r in rankings if entry_id in r.by_entry]
        per_retriever = {name: RetrieverScore(raw, rank) for (raw, rank, _), name in found}
        (_, _, unit_pos), _ = min(found, key=lambda item: item[0][1])
        unit = index.units[unit_pos]
        return Hit(index.entries[entry_id], score, unit.text, unit.field, per_retriever)
