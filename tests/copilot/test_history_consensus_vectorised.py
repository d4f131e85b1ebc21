"""The vectorised bigram overlaps, consensus and re-ranking equal the straightforward pairwise
versions they replaced (kept here as the reference): same order, same picks, same scores.

The scores are compared bit for bit where Python's sum() adds floats one after another (3.11);
from 3.12 it compensates rounding, so the reference itself moves in the last bits there."""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from copilot.history.index import (
    BankIndex,
    Scored,
    consensus_pick,
    consensus_scores,
    fuse,
    rerank,
)
from copilot.history.mining import HistoryConfig, MinedReply
from copilot.text.similarity import (
    bigrams,
    normalized_key,
    overlap,
    overlap_matrix,
    overlaps_with,
    text_overlap_matrix,
)

EXACT = sys.version_info < (3, 12)
# A small alphabet, so that random texts share many bigrams; an emoji (outside the BMP), a lone
# surrogate and punctuation (dropped by normalized_key) as well.
ALPHABET = "亲发货退款订单快递您好的吗" + "ab1😡\udc80，"


def same(a: float, b: float) -> bool:
    return a == b if EXACT else math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)


def text(rng: random.Random, longest: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


# --- the reference: the pairwise code the vectorised functions replaced ----------------------


def ref_consensus(
    reply: int, top: list[int], fit: Mapping[int, float], grams: Mapping[int, frozenset[str]]
) -> float:
    others = [r for r in top if r != reply]
    total = sum(fit[r] for r in others)
    if not total:
        return 0.0
    return sum(fit[r] * overlap(grams[reply], grams[r]) for r in others) / total


def ref_rerank(
    index: BankIndex, message: str, vector: np.ndarray, recent: str, intent: str | None,
    cfg: HistoryConfig,
) -> list[Scored]:  # fmt: skip
    dense = index.dense_units(vector, cfg.candidates)
    keyword = index.keyword_units(message, cfg.candidates)
    found = fuse(index, ((cfg.dense_weight, dense), (cfg.keyword_weight, keyword)), cfg.rrf_k)
    top = sorted(found, key=lambda r: (-found[r].fused, r))[: cfg.rerank_depth]
    fit = {r: found[r].fused / found[top[0]].fused for r in top}
    grams = {r: bigrams(normalized_key(index.replies[r].text)) for r in top}
    recent_grams = bigrams(normalized_key(recent)) if recent else frozenset()
    weights = {"fit": cfg.fit_weight, "consensus": cfg.consensus_weight}
    weights |= {"count": cfg.count_weight, "context": cfg.context_weight}
    weights["intent"] = cfg.intent_weight
    floor = ref_floor(index, cfg)
    scored = []
    for r in top:
        reply, units = index.replies[r], found[r].units
        parts = {
            "fit": fit[r],
            "consensus": ref_consensus(r, top, fit, grams),
            "count": math.log1p(reply.count) / (index.log_max_count or 1.0),
            "context": max(
                overlap(recent_grams, bigrams(index.unit_context[u])) if recent_grams else 0.0
                for u in units
            ),
            "intent": 1.0 if intent and intent in reply.intents else 0.0,
            "similarity": found[r].cosine,
        }
        score = sum(weight * parts[name] for name, weight in weights.items())
        if parts["similarity"] >= floor:
            scored.append(Scored(reply, score, units[0], parts, grams[r]))
    return sorted(scored, key=lambda s: (-s.score, s.reply.id))


def ref_floor(index: BankIndex, config: HistoryConfig) -> float:
    if not len(index.pair_similarities):
        return config.min_similarity
    unrelated = float(np.median(index.pair_similarities))
    return max(unrelated + config.relevance_margin * (1 - unrelated), config.min_similarity)


def ref_consensus_pick(scored: Sequence[Scored], k: int, pool: int) -> list[Scored]:
    candidates = list(scored[:pool])
    grams = [s.grams for s in candidates]
    weights = [math.log1p(s.reply.count) for s in candidates]
    similar = [[overlap(a, b) for b in grams] for a in grams]
    covered = [0.0] * len(candidates)
    chosen: list[int] = []
    for _ in range(min(k, len(candidates))):
        gains = [
            -1.0 if i in chosen
            else sum(w * max(c, s) for w, c, s in zip(weights, covered, similar[i], strict=True))
            for i in range(len(candidates))
        ]  # fmt: skip
        best = max(range(len(candidates)), key=lambda i: (gains[i], -i))
        chosen.append(best)
        covered = [max(c, s) for c, s in zip(covered, similar[best], strict=True)]
    return [candidates[i] for i in chosen]


# --- bigram overlaps -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_overlap_matrices_equal_pairwise_overlap(seed: int) -> None:
    rng = random.Random(seed)
    texts = [text(rng) for _ in range(rng.randint(0, 25))]
    texts += rng.sample(texts, min(3, len(texts)))  # duplicates: overlap 1
    grams = [bigrams(t) for t in texts]
    expected = [[overlap(a, b) for b in grams] for a in grams]
    for matrix in (overlap_matrix(grams), text_overlap_matrix(texts)):
        assert matrix.shape == (len(texts), len(texts))
        assert matrix.tolist() == expected  # bit for bit: counts, sqrt and division are exact


def test_overlap_matrix_takes_any_gram_sets() -> None:
    """Not only bigrams: a one-character text's gram, or strings of other lengths."""
    grams = [frozenset({"abc", "d"}), frozenset({"ab", "cd"}), frozenset({"d"}), frozenset()]
    expected = [[overlap(a, b) for b in grams] for a in grams]
    assert overlap_matrix(grams).tolist() == expected


@pytest.mark.parametrize("seed", range(40))
def test_overlaps_with_equals_overlap(seed: int) -> None:
    rng = random.Random(seed)
    query = text(rng, 8)
    others = [text(rng, 30) for _ in range(rng.randint(0, 30))]
    expected = [overlap(bigrams(query), bigrams(other)) for other in others]
    assert overlaps_with(query, others).tolist() == expected


# --- consensus ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_consensus_scores_equal_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(0, 60)
    top = list(range(n))
    fused = sorted((rng.random() for _ in top), reverse=True)
    fit = {r: fused[r] / fused[0] for r in top}
    grams = {r: bigrams(text(rng, 20)) for r in top}
    expected = [ref_consensus(r, top, fit, grams) for r in top]
    similar = overlap_matrix([grams[r] for r in top])
    got = consensus_scores(np.array(fused) / (fused[0] if fused else 1.0), similar).tolist()
    assert len(got) == n and all(same(a, b) for a, b in zip(got, expected, strict=True))


def scored_pool(rng: random.Random, n: int) -> list[Scored]:
    texts = [text(rng, 16) for _ in range(n)]
    if n > 2:  # the same words twice, and equal counts: ties the greedy must break alike
        texts[-1] = texts[0]
    pool = []
    for i, reply in enumerate(texts):
        mined = MinedReply(f"h-{i:03d}", reply, rng.choice([1, 1, 2, 5, 30]), [])
        pool.append(Scored(mined, 3.0 - i / 100, 0, {}, bigrams(normalized_key(reply))))
    return pool


@pytest.mark.parametrize("seed", range(60))
def test_consensus_pick_equals_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    pool = scored_pool(rng, rng.randint(0, 35))
    for k, size in ((3, 30), (rng.randint(0, 8), rng.randint(0, 40)), (len(pool) + 2, 40)):
        assert consensus_pick(pool, k, size) == ref_consensus_pick(pool, k, size)


# --- the whole re-rank on a synthetic bank ---------------------------------------------------

DIM = 16
INTENTS = ("logistics_tracking", "refund", "product_question")


@pytest.fixture(scope="module")
def bank() -> BankIndex:
    """~150 replies, 1-3 examples each, random vectors: retrieval is real FAISS and bm25s."""
    rng = random.Random(7)
    vectors_rng = np.random.default_rng(7)
    replies, vectors = {}, {}
    texts = [text(rng, 24) or "好的亲" for _ in range(150)]
    texts += texts[:5]  # the same words under another id
    for i, reply in enumerate(texts):
        examples = []
        for _ in range(rng.randint(1, 3)):
            message = text(rng, 10) or "在吗"
            turns = [[rng.choice(("customer", "agent")), text(rng, 20)] for _ in range(3)]
            examples.append(
                {"message": message, "context": turns[: rng.randint(0, 3)], "tokens": list(message)}
            )
        intents = {rng.choice(INTENTS): rng.randint(1, 4)} if rng.random() < 0.6 else {}
        record = {"text": reply, "count": rng.randint(1, 60), "intents": intents}
        replies[f"h-{i:04d}".encode()] = json.dumps(record | {"examples": examples}).encode()
        matrix = vectors_rng.normal(size=(len(examples), DIM)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        vectors[f"h-{i:04d}".encode()] = matrix.tobytes()
    meta = {b"dim": str(DIM).encode(), b"embedding_model": b"random"}
    return BankIndex.build(b"1", replies, vectors, meta)


def comparable(scored: list[Scored]) -> list[tuple[object, ...]]:
    return [(s.reply.id, s.unit, s.grams, sorted(s.parts)) for s in scored]


@pytest.mark.parametrize("seed", range(25))
def test_rerank_equals_the_reference(bank: BankIndex, seed: int) -> None:
    rng = random.Random(seed)
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    vector /= np.linalg.norm(vector)
    message = text(rng, 10) or "发货"
    recent = rng.choice(["", text(rng, 30), "亲"])
    intent = rng.choice([None, *INTENTS])
    cfg = HistoryConfig(rerank_depth=rng.choice([1, 12, 60]), relevance_margin=rng.random() / 4)
    got = rerank(bank, message, vector, recent, intent, cfg)
    expected = ref_rerank(bank, message, vector, recent, intent, cfg)
    assert got and comparable(got) == comparable(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert same(mine.score, theirs.score)
        assert all(same(mine.parts[name], theirs.parts[name]) for name in theirs.parts)
    picked = [s.reply.id for s in consensus_pick(got, 3, 30)]
    assert picked == [s.reply.id for s in ref_consensus_pick(expected, 3, 30)]
