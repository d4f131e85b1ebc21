"""A shop's history bank in memory, and how its replies are found and picked.

A reply's example customer messages are its units. By default (neighbour_pick) the examples
nearest the situation, by e5 cosine of the message and of the agent turn it answers, vote for
what their agents said, and the replies that win most votes are offered. The older selections
(rerank): units searched densely (FAISS over e5 "query:" vectors: both sides are customer
messages) and by keywords (bm25s over kb.tokens), ranks fused per reply (RRF), the top
replies re-ranked by fit, consensus (the JDDC 2019 podium's trick), log-count prior, context
and intent, weighted by HistoryConfig. Either way an example must clear the bank's own
relevance floor (calibrated on random unrelated pairs of its examples).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from copilot.history.mining import HistoryConfig, MinedReply
from copilot.text.similarity import (
    bigrams,
    normalized_key,
    overlap_matrix,
    overlaps_with,
    text_overlap_matrix,
)
from kb.models.embedder import Vectors
from kb.storage.shop_cache import (
    DICT_SLOT,
    OBJECT_OVERHEAD,
    keyword_index_bytes,
    object_bytes,
    strings_bytes,
)
from kb.tokens import tokenize


@dataclass
class BankIndex:
    """One shop's bank in memory, tagged with the version it was built from."""

    version: int
    embedding_model: str
    replies: list[MinedReply]
    unit_reply: list[int]
    unit_message: list[str]
    unit_context: list[str]  # the two turns before each example, normalised
    dense: Any  # faiss.IndexFlatIP
    keyword: Any  # bm25s.BM25, None for an empty bank
    log_max_count: float
    pair_similarities: np.ndarray  # sorted cosines of random unrelated example pairs
    unit_count: np.ndarray = field(default_factory=lambda: np.zeros(0))  # pairs per example
    # e5 vectors of the agent turns the examples answer, a row per example; None: a bank
    # stored before they were
    agent_matrix: np.ndarray | None = None
    # normalized_key of the replies re-ranked so far: the same replies come back query after
    # query; at most one short string a reply
    reply_keys: dict[int, str] = field(default_factory=dict, repr=False)
    # what the bank holds apart from reply_keys, estimated once at build
    built_bytes: int = 0

    @classmethod
    def build(
        cls, version: bytes | None, replies: dict[bytes, bytes], vectors: dict[bytes, bytes],
        meta: dict[bytes, bytes], agent_vectors: dict[bytes, bytes] | None = None,
    ) -> BankIndex:  # fmt: skip
        import bm25s
        import faiss

        dim = int(meta.get(b"dim", b"1"))
        model = meta.get(b"embedding_model", b"").decode()
        index = cls(int(version or 0), model, [], [], [], [], None, None, 1.0, np.zeros(0))
        rows, tokens, counts, agent_rows = [], [], [], []
        agent_vectors = agent_vectors or {}
        for raw_id, raw in sorted(replies.items()):
            data = json.loads(raw)
            position = len(index.replies)
            index.replies.append(
                MinedReply(raw_id.decode(), data["text"], data["count"], [], data["intents"])
            )
            rows.append(np.frombuffer(vectors[raw_id], dtype=np.float32).reshape(-1, dim))
            if raw_id in agent_vectors:
                agent_rows.append(
                    np.frombuffer(agent_vectors[raw_id], dtype=np.float32).reshape(-1, dim)
                )
            for example in data["examples"]:
                index.unit_reply.append(position)
                index.unit_message.append(example["message"])
                recent = " ".join(text for _, text in example["context"][-2:])
                index.unit_context.append(normalized_key(recent))
                tokens.append(example["tokens"] or [""])
                counts.append(example.get("count", 1))
        index.dense = faiss.IndexFlatIP(dim)
        if rows:
            matrix = np.ascontiguousarray(np.vstack(rows), dtype=np.float32)
            index.dense.add(matrix)
            index.pair_similarities = _random_pair_similarities(matrix, index.unit_reply)
            index.keyword = bm25s.BM25()
            index.keyword.index(tokens, show_progress=False)
            index.log_max_count = math.log1p(max(r.count for r in index.replies))
            index.unit_count = np.asarray(counts, dtype=np.float64)
            if len(agent_rows) == len(rows):
                index.agent_matrix = np.ascontiguousarray(np.vstack(agent_rows))
        index.built_bytes = index.estimate_built_bytes()
        return index

    def estimate_built_bytes(self) -> int:
        """Both vector matrices (FAISS's and the agent turns'), the keyword index, the arrays
        and the replies' and examples' texts."""
        vectors = int(self.dense.ntotal) * int(self.dense.d) * 4 if self.dense is not None else 0
        arrays = self.pair_similarities.nbytes + self.unit_count.nbytes
        if self.agent_matrix is not None:
            arrays += self.agent_matrix.nbytes
        replies = sum(object_bytes(r) for r in self.replies)
        texts = strings_bytes(self.unit_message) + strings_bytes(self.unit_context)
        positions = len(self.unit_reply) * (8 + 28)  # a list slot and an int each
        return vectors + arrays + keyword_index_bytes(self.keyword) + replies + texts + positions

    def resident_bytes(self) -> int:
        """What the bank holds now: grows with the reply keys kept as it serves."""
        # O(1), as it runs at every search: a key is a short string (~30 characters)
        return self.built_bytes + len(self.reply_keys) * (DICT_SLOT + 28 + OBJECT_OVERHEAD + 140)

    @cached_property
    def unrelated(self) -> float:
        """The median cosine of unrelated example pairs (once, not at every search)."""
        return float(np.median(self.pair_similarities))

    def reply_key(self, reply: int) -> str:
        """What consensus compares of a reply: its normalized_key (kept once computed)."""
        key = self.reply_keys.get(reply)
        if key is None:
            key = self.reply_keys[reply] = normalized_key(self.replies[reply].text)
        return key

    def dense_units(self, vector: Vectors, n: int) -> list[tuple[int, float]]:
        n = min(n, len(self.unit_reply))
        scores, ids = self.dense.search(vector.reshape(1, -1).astype(np.float32), n)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def keyword_units(self, message: str, n: int) -> list[tuple[int, float]]:
        words = tokenize(message)
        if self.keyword is None or not words:
            return []
        scores = self.keyword.get_scores(words)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


@dataclass(frozen=True)
class Scored:
    reply: MinedReply
    score: float
    unit: int  # the example that matched best
    parts: dict[str, float]
    grams: frozenset[str]  # the reply's character bigrams: what consensus compares


def _random_pair_similarities(
    matrix: np.ndarray, unit_reply: Sequence[int], pairs: int = 2000
) -> np.ndarray:
    """Cosines of random pairs of examples of different replies (seeded: a stable floor)."""
    if len(matrix) < 2:
        return np.zeros(0, dtype=np.float32)
    rng = np.random.default_rng(0)
    left = rng.integers(0, len(matrix), pairs)
    right = (left + rng.integers(1, len(matrix), pairs)) % len(matrix)
    replies = np.asarray(unit_reply)
    apart = replies[left] != replies[right]
    return np.sort(np.einsum("ij,ij->i", matrix[left[apart]], matrix[right[apart]]))


# float32 cosines of one text with itself land within this of 1.0, on either side (1.0000001
# with one CPU's kernels, 0.99999994 with another's)
_SAME_TEXT = 1e-6


def relevance_floor(index: BankIndex, config: HistoryConfig) -> float:
    """A hit must be this much closer than unrelated examples are. Never above what the same
    text scores: in a bank whose examples all say the same ("在吗" twice) the unrelated pairs
    are identical texts too, and the floor would otherwise shut out the very question asked."""
    if not len(index.pair_similarities):
        return config.min_similarity
    unrelated = min(index.unrelated, 1.0)
    floor = max(unrelated + config.relevance_margin * (1 - unrelated), config.min_similarity)
    return min(floor, 1.0 - _SAME_TEXT)


@dataclass
class Found:
    """A retrieved reply: fused score, its retrieved examples (best-ranked first), e5 cosine."""

    fused: float = 0.0
    units: list[int] = field(default_factory=list)
    best_rank: int = 1 << 30
    cosine: float = 0.0


def fuse(
    index: BankIndex, rankings: Iterable[tuple[float, list[tuple[int, float]]]], rrf_k: int
) -> dict[int, Found]:
    """Unit rankings -> replies, each ranked at its best example, fused by reciprocal rank."""
    found: dict[int, Found] = {}
    for position, (weight, hits) in enumerate(rankings):
        first: dict[int, tuple[int, float]] = {}
        for unit, score in hits:
            first.setdefault(index.unit_reply[unit], (unit, score))
        for rank, (reply, (unit, score)) in enumerate(first.items(), start=1):
            entry = found.setdefault(reply, Found())
            entry.fused += weight / (rrf_k + rank)
            if rank < entry.best_rank:  # the matched message shown is the best-ranked example
                entry.units.insert(0, unit)
                entry.best_rank = rank
            else:
                entry.units.append(unit)
            if position == 0:  # the dense ranking
                entry.cosine = score
    return found


def context_fits(index: BankIndex, units: Sequence[list[int]], recent: str) -> np.ndarray:
    """Per reply, the best bigram overlap of `recent` with the context of one of its examples."""
    if not recent or not units:
        return np.zeros(len(units))
    flat = [index.unit_context[u] for group in units for u in group]
    each = overlaps_with(normalized_key(recent), flat)
    return np.maximum.reduceat(each, np.cumsum([0, *map(len, units[:-1])]))


def consensus_scores(fit: np.ndarray, similar: np.ndarray) -> np.ndarray:
    """Each top reply's fit-weighted mean resemblance (similar: overlap_matrix) to the others.

    The sums run down the columns in rank order (cumsum), in the order a plain Python sum over
    the others would add them, so equal inputs give equal scores and ties break as they did.
    """
    if not len(fit):
        return np.zeros(0)
    voters = np.where(np.eye(len(fit), dtype=bool), 0.0, fit[:, None])  # [r, i]: r votes on i
    totals = np.cumsum(voters, axis=0)[-1]
    sums = np.cumsum(voters * similar, axis=0)[-1]
    return np.divide(sums, totals, out=np.zeros_like(sums), where=totals != 0)


def rerank(
    index: BankIndex,
    message: str,
    vector: Vectors,
    recent: str,
    intent: str | None,
    cfg: HistoryConfig,
) -> list[Scored]:
    """The top replies re-ranked by fit, consensus, count, context and intent; those below the
    bank's relevance floor dropped."""
    dense = index.dense_units(vector, cfg.candidates)
    keyword = index.keyword_units(message, cfg.candidates)
    found = fuse(index, ((cfg.dense_weight, dense), (cfg.keyword_weight, keyword)), cfg.rrf_k)
    top = sorted(found, key=lambda r: (-found[r].fused, r))[: cfg.rerank_depth]
    weights = (
        ("fit", cfg.fit_weight), ("consensus", cfg.consensus_weight), ("count", cfg.count_weight),
        ("context", cfg.context_weight), ("intent", cfg.intent_weight),
    )  # fmt: skip
    floor = relevance_floor(index, cfg)
    scored = []
    for r, parts in zip(top, _parts(index, top, found, recent, intent), strict=True):
        if parts["similarity"] >= floor:
            score = sum(weight * parts[name] for name, weight in weights)
            grams = bigrams(index.reply_key(r))
            scored.append(Scored(index.replies[r], score, found[r].units[0], parts, grams))
    return sorted(scored, key=lambda s: (-s.score, s.reply.id))


def _parts(
    index: BankIndex, top: list[int], found: dict[int, Found], recent: str, intent: str | None
) -> list[dict[str, float]]:
    """Each top reply's re-ranking signals (see HistoryConfig), the pairwise ones at once."""
    if not top:
        return []
    fused = np.array([found[r].fused for r in top])
    fit = fused / fused[0]
    agreement = consensus_scores(fit, text_overlap_matrix([index.reply_key(r) for r in top]))
    context = context_fits(index, [found[r].units for r in top], recent)
    columns = zip(top, fit.tolist(), agreement.tolist(), context.tolist(), strict=True)
    return [
        {
            "fit": fit_r,
            "consensus": agreement_r,
            "count": math.log1p(index.replies[r].count) / (index.log_max_count or 1.0),
            "context": context_r,
            "intent": 1.0 if intent and intent in index.replies[r].intents else 0.0,
            "similarity": found[r].cosine,  # shown, not weighted: e5's narrow band
        }
        for r, fit_r, agreement_r, context_r in columns
    ]


def consensus_pick(scored: Sequence[Scored], k: int, pool: int) -> list[Scored]:
    """Greedy minimum Bayes risk: from the best `pool` replies, k that together resemble as much
    of the pool as possible (each reply weighted by log(1 + count)); diverse by construction,
    since a reply like one already picked adds little."""
    candidates = list(scored[:pool])
    if not candidates:
        return []
    similar = overlap_matrix([s.grams for s in candidates])  # symmetric: voters x candidates
    # math.log1p, not numpy's: numpy's SIMD logarithms may differ from libm in the last bit
    weights = np.array([math.log1p(s.reply.count) for s in candidates])
    return [candidates[i] for i, _ in greedy_cover(weights, similar, k)]


def greedy_cover(
    weights: np.ndarray, wins: np.ndarray, k: int, bias: np.ndarray | float = 0.0
) -> list[tuple[int, float]]:
    """Greedy minimum Bayes risk: k columns of `wins` (voters x candidates: how much of each
    voter's weight a candidate wins) that together win the most weight, each with what it
    added (+ its `bias`, a tie-breaker). A candidate like one already chosen adds little.

    cumsum: each column summed down the voters in order, as a Python sum would add them;
    argmax: the first best, so the lowest index wins a tie."""
    covered = np.zeros(wins.shape[0])
    chosen: list[tuple[int, float]] = []
    for _ in range(min(k, wins.shape[1])):
        gains = np.cumsum(weights[:, None] * np.maximum(covered[:, None], wins), axis=0)[-1]
        gains = gains + bias
        gains[[c for c, _ in chosen]] = -np.inf
        best = int(np.argmax(gains))
        chosen.append((best, float(gains[best] - weights @ covered)))
        covered = np.maximum(covered, wins[:, best])
    return chosen


def neighbour_pick(
    index: BankIndex,
    vector: Vectors,
    agent_vector: Vectors | None,
    intent: str | None,
    k: int,
    cfg: HistoryConfig,
) -> list[Scored]:
    """What agents said in situations like this one: the `neighbours` examples nearest the
    query (message cosine, plus the agent turns' cosine weighted by neighbour_agent_weight)
    vote with their counts; greedy minimum Bayes risk then picks the k replies that together
    win most of the votes. Examples below the bank's relevance floor do not vote. A reply's
    score is the share of the votes it adds; the classified intent breaks ties."""
    units, cosine, votes = neighbour_votes(index, vector, agent_vector, cfg)
    if not len(units):
        return []
    pool, voter = np.unique(np.asarray(index.unit_reply)[units], return_inverse=True)
    resemblance = text_overlap_matrix([index.reply_key(int(r)) for r in pool])[voter]
    # A vote is won or not (the reply says what that example's reply said, or it does not), so
    # a second wording of a picked reply wins nothing; the bare resemblance only breaks ties.
    won = (resemblance >= cfg.neighbour_match).astype(np.float64)
    total = float(votes.sum())
    # Ties (equal votes: the same message in a small bank) go to the reply seen with the
    # classified intent, then to the one most like the others.
    seen_with = np.array([intent in index.replies[int(r)].intents for r in pool]) if intent else 0
    tie_break = 1e-4 * total * seen_with + 1e-6 * (votes @ resemblance)
    picked: list[Scored] = []
    for best, gain in greedy_cover(votes, won, k, tie_break):
        mine = np.flatnonzero(voter == best)  # nearest first
        reply = int(pool[best])
        parts = {"votes": float(votes[mine].sum()) / total, "similarity": float(cosine[mine].max())}
        picked.append(
            Scored(index.replies[reply], gain / total, int(units[mine[0]]), parts,
                   bigrams(index.reply_key(reply)))
        )  # fmt: skip
    return picked


def neighbour_votes(
    index: BankIndex, vector: Vectors, agent_vector: Vectors | None, cfg: HistoryConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The voting examples, nearest first: (units, message cosines, vote weights)."""
    floor = relevance_floor(index, cfg)
    found = [(u, s) for u, s in index.dense_units(vector, cfg.neighbour_prefetch) if s >= floor]
    units = np.array([u for u, _ in found], dtype=np.int64)
    cosine = np.array([s for _, s in found])
    fit = cosine.copy()
    if index.agent_matrix is not None and agent_vector is not None and len(units):
        fit += cfg.neighbour_agent_weight * (index.agent_matrix[units] @ agent_vector)
    nearest = np.argsort(-fit, kind="stable")[: cfg.neighbours]
    # Nearer examples weigh more, on the bank's own scale: the gap from the median cosine of
    # unrelated examples to 1 (e5's band moves with the domain).
    gap = max(1.0 - min(index.unrelated, 1.0), 1e-3) if len(index.pair_similarities) else 1.0
    fit = fit[nearest]
    best = fit[0] if len(fit) else 0.0
    nearness = np.exp((fit - best) / (cfg.neighbour_temperature * gap))
    return units[nearest], cosine[nearest], index.unit_count[units[nearest]] * nearness
