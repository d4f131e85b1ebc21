"""Scoring replayed turns: how close the suggestions came to what the agent actually sent.

Texts are compared after copilot.history.mining.clean_text (JDDC placeholders such as [订单x]
and personal data become the same slots the bank stores) with spaces removed, so a bank reply
is not penalised for its slot where the agent's text had a placeholder.

- ROUGE-L: character LCS F1 (beta 1), the best over the references (actual + alt replies).
- BLEU: character BLEU-4 of the top candidate, nltk sentence_bleu with smoothing method1
  against all references at once, as the JDDC 2019 challenge scored.
- Semantic: cosine of the project's e5 vectors, the best over the references.
- accept@k at threshold t: one of the first k candidates reaches t.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from copilot.history.mining import clean_text
from eval.acts import act_metrics
from eval.types import TurnRecord
from kb.models.embedder import Embedder

ROUGE_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SEMANTIC_THRESHOLDS = (0.80, 0.82, 0.84, 0.86, 0.88, 0.90, 0.92, 0.94, 0.96, 0.98)
ACCEPT = 0.5  # ROUGE-L of accept_at_k
ACCEPT_LOOSE = 0.3


def normalize(text: str) -> str:
    return "".join(clean_text(text).split())


def lcs_length(a: str, b: str) -> int:
    """Longest common subsequence of characters, bit-parallel (Hyyrö 2004): O(len(b)) big-int
    steps instead of a Python loop over every cell."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for ch in b:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rouge_l(candidate: str, reference: str) -> float:
    """Character ROUGE-L F1 of two already-normalised texts."""
    lcs = lcs_length(candidate, reference)
    if not lcs:
        return 0.0
    precision, recall = lcs / len(candidate), lcs / len(reference)
    return 2 * precision * recall / (precision + recall)


def bleu4(candidate: str, references: Sequence[str]) -> float:
    """Character BLEU-4, smoothing method1, against every reference (JDDC 2019's score)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    refs = [list(r) for r in references if r]
    if not candidate or not refs:
        return 0.0
    score = sentence_bleu(refs, list(candidate), smoothing_function=SmoothingFunction().method1)
    return float(score)


class SemanticScorer:
    """Cosine of e5 vectors, each distinct text embedded once."""

    def __init__(self, embedder: Embedder, batch: int = 256) -> None:
        self.embedder = embedder
        self.batch = batch
        self._vectors: dict[str, np.ndarray] = {}

    def prepare(self, texts: Sequence[str]) -> None:
        todo = sorted({t for t in texts if t and t not in self._vectors})
        for start in range(0, len(todo), self.batch):
            chunk = todo[start : start + self.batch]
            vectors = self.embedder.embed_batch(chunk, role="query")
            self._vectors.update(zip(chunk, np.asarray(vectors, dtype=np.float32), strict=True))

    def similarity(self, a: str, b: str) -> float:
        if not a or not b:
            return 0.0
        self.prepare([a, b])
        return float(np.dot(self._vectors[a], self._vectors[b]))


@dataclass(frozen=True)
class TurnScores:
    rouge: tuple[float, ...]  # per candidate, best over the references
    semantic: tuple[float, ...] | None
    bleu: float  # of the top candidate (0 without one)
    chars_saved: int  # LCS of the best candidate with the actual reply, when accepted
    reply_chars: int


def score_turns(
    candidates: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    semantic: SemanticScorer | None = None,
) -> list[TurnScores]:
    cands = [[normalize(t) for t in texts] for texts in candidates]
    refs = [[normalize(t) for t in texts] for texts in references]
    if semantic is not None:
        semantic.prepare([t for group in (*cands, *refs) for t in group])
    return [_score(c, r, semantic) for c, r in zip(cands, refs, strict=True)]


def _score(cands: list[str], refs: list[str], semantic: SemanticScorer | None) -> TurnScores:
    rouge = tuple(max((rouge_l(c, r) for r in refs if r), default=0.0) for c in cands)
    sem = None
    if semantic is not None:
        sem = tuple(max((semantic.similarity(c, r) for r in refs), default=0.0) for c in cands)
    actual = refs[0] if refs else ""
    saved = 0
    if rouge and max(rouge[:3]) >= ACCEPT:
        best = max(range(min(3, len(cands))), key=lambda i: rouge[i])
        saved = lcs_length(cands[best], actual)
    return TurnScores(rouge, sem, bleu4(cands[0], refs) if cands else 0.0, saved, len(actual))


def accepted(values: Sequence[float] | None, k: int, threshold: float) -> bool:
    return bool(values) and max(values[:k]) >= threshold  # type: ignore[index]


def quality_metrics(
    scores: Sequence[TurnScores], *, calibrated: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The acceptance figures every system and baseline gets, with 95% bootstrap intervals."""
    n = len(scores)
    m: dict[str, Any] = {"turns": n}
    if not n:
        return m
    m["coverage"] = _mean([bool(s.rouge) for s in scores])
    for k in (1, 3):
        m[f"accept_at_{k}"] = _mean([accepted(s.rouge, k, ACCEPT) for s in scores])
        m[f"accept_at_{k}_rl03"] = _mean([accepted(s.rouge, k, ACCEPT_LOOSE) for s in scores])
        m[f"accept_at_{k}_ci"] = bootstrap_ci([accepted(s.rouge, k, ACCEPT) for s in scores])
    m["jddc_bleu"] = _mean([s.bleu for s in scores])
    m["rouge_l_top1"] = _mean([s.rouge[0] if s.rouge else 0.0 for s in scores])
    m["rouge_curve"] = _curve([s.rouge for s in scores], ROUGE_THRESHOLDS)
    if all(s.semantic is not None for s in scores):
        m["semantic_curve"] = _curve([s.semantic for s in scores], SEMANTIC_THRESHOLDS)
    for name, threshold in (calibrated or {}).items():
        field = "rouge" if name == "rouge_l" else "semantic"
        values = [getattr(s, field) for s in scores]
        m[f"accept_at_1_calibrated_{name}"] = _mean([accepted(v, 1, threshold) for v in values])
        m[f"accept_at_3_calibrated_{name}"] = _mean([accepted(v, 3, threshold) for v in values])
    saved, typed = sum(s.chars_saved for s in scores), sum(s.reply_chars for s in scores)
    m["chars_saved"] = saved
    m["chars_saved_share"] = round(saved / typed, 4) if typed else 0.0
    return m


def _curve(values: Sequence[Sequence[float] | None], thresholds: Sequence[float]) -> list[dict]:
    return [
        {
            "threshold": t,
            "accept_at_1": _mean([accepted(v, 1, t) for v in values]),
            "accept_at_3": _mean([accepted(v, 3, t) for v in values]),
        }
        for t in thresholds
    ]


def system_metrics(records: Sequence[TurnRecord], scores: Sequence[TurnScores]) -> dict[str, Any]:
    """What only the pipeline has: intents, routes, guardrails, upsell, latency, breakdowns."""
    m: dict[str, Any] = {}
    m.update(intent_metrics(records))
    m.update(handoff_metrics(records))
    shown = [c for r in records for c in r.candidates]
    m["guardrail_violation_rate"] = _mean([bool(c.flags) for c in shown]) if shown else 0.0
    m["upsell_rate"] = _mean([r.upsell is not None for r in records]) if records else 0.0
    negative = [r for r in records if "negative_sentiment" in r.route_reasons]
    m["negative_turns"] = len(negative)
    m["upsell_on_negative_rate"] = _mean([r.upsell is not None for r in negative])
    m.update(act_metrics([[c.text for c in r.candidates] for r in records]))
    m["latency_ms"] = latency_metrics(records)
    m["by_intent"] = _breakdown(records, scores, lambda r: r.intent)
    m["by_route"] = _breakdown(records, scores, lambda r: r.route)
    m["by_source"] = source_breakdown(records, scores)
    return m


def intent_metrics(records: Sequence[TurnRecord]) -> dict[str, Any]:
    labelled = [r for r in records if r.gold_intent]
    if not labelled:
        return {"intent_labelled": 0}
    pairs = [(str(r.gold_intent), r.intent) for r in labelled]
    return {
        "intent_labelled": len(pairs),
        "intent_accuracy": _mean([g == p for g, p in pairs]),
        "intent_macro_f1": macro_f1(pairs),
    }


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Mean F1 over the gold labels (a label never gold but predicted counts as a false
    positive of nothing: it lowers the precision of no class, as sklearn's labels=gold)."""
    gold = sorted({g for g, _ in pairs})
    f1s = []
    for label in gold:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return round(sum(f1s) / len(f1s), 4)


def handoff_metrics(records: Sequence[TurnRecord]) -> dict[str, Any]:
    labelled = [r for r in records if r.gold_handoff is not None]
    if not labelled:
        return {"handoff_labelled": 0}
    tp = sum(1 for r in labelled if r.gold_handoff and r.route == "handoff")
    predicted = sum(1 for r in labelled if r.route == "handoff")
    actual = sum(1 for r in labelled if r.gold_handoff)
    return {
        "handoff_labelled": len(labelled),
        "handoff_precision": round(tp / predicted, 4) if predicted else 0.0,
        "handoff_recall": round(tp / actual, 4) if actual else 0.0,
    }


def latency_metrics(records: Sequence[TurnRecord]) -> dict[str, dict[str, float]]:
    stages: dict[str, list[float]] = {}
    for record in records:
        for stage, ms in record.latency_ms.items():
            stages.setdefault(stage, []).append(ms)
    return {
        stage: {
            "p50": round(float(np.percentile(v, 50)), 2),
            "p95": round(float(np.percentile(v, 95)), 2),
            "n": len(v),
        }
        for stage, v in sorted(stages.items())
    }


def _breakdown(
    records: Sequence[TurnRecord], scores: Sequence[TurnScores], key: Callable[[TurnRecord], str]
) -> dict[str, dict[str, float]]:
    groups: dict[str, list[TurnScores]] = {}
    for record, score in zip(records, scores, strict=True):
        groups.setdefault(key(record), []).append(score)
    return {
        name: {
            "turns": len(group),
            "accept_at_1": _mean([accepted(s.rouge, 1, ACCEPT) for s in group]),
            "accept_at_3": _mean([accepted(s.rouge, 3, ACCEPT) for s in group]),
        }
        for name, group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    }


def source_breakdown(
    records: Sequence[TurnRecord], scores: Sequence[TurnScores]
) -> dict[str, dict[str, float]]:
    """Per candidate source: candidates shown, the share accepted, and top-1 wins."""
    shown: Counter[str] = Counter()
    good: Counter[str] = Counter()
    top: Counter[str] = Counter()
    for record, score in zip(records, scores, strict=True):
        for candidate, value in zip(record.candidates, score.rouge, strict=True):
            shown[candidate.source] += 1
            good[candidate.source] += value >= ACCEPT
        if record.candidates and score.rouge[0] >= ACCEPT:
            top[record.candidates[0].source] += 1
    return {
        s: {"shown": shown[s], "accepted": good[s], "rate": round(good[s] / shown[s], 4),
            "top1_accepted": top[s]}
        for s in sorted(shown)
    }  # fmt: skip


def bootstrap_ci(
    values: Sequence[float | bool], *, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> list[float]:
    """Percentile bootstrap interval of the mean."""
    data = np.asarray(values, dtype=float)
    if not len(data):
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def paired_delta(
    a: Sequence[float | bool], b: Sequence[float | bool], *, resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """mean(a) - mean(b) over the same turns, with a paired 95% bootstrap interval."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    delta = round(float(diff.mean()), 4) if len(diff) else 0.0
    return {"delta": delta, "ci": bootstrap_ci(diff, resamples=resamples, seed=seed)}


def _mean(values: Sequence[float | bool]) -> float:
    return round(float(np.mean(values)), 4) if len(values) else 0.0
