"""`copilot history train SHOP`: fit the reply selector (copilot.history.selector) on the
shop's bank.

Every bank example is a (message, agent turn, reply) triple with its vectors already stored, so
training is a small head over stored vectors, cheap on CPU: InfoNCE over the batch's other
replies plus hard negatives, the replies the neighbour vote offers for that example that are
not its own (nor resemble it: a near-same wording is not wrong). 10% of the examples are held
out (the pool of an example is voted without itself, as if it were a new message); they choose
the epoch and the blend with the vote share, and give recall@1/@3 of the true reply before
(vote share alone) and after. Feedback (copilot.history.selector_feedback) adds training rows only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from copilot.clock import Clock
from copilot.history.index import BankIndex, relevance_floor
from copilot.history.mining import HistoryConfig
from copilot.history.selector import SelectorModel, blend_scores, clock_stamp, pick_order, vote_pool
from copilot.text.similarity import overlaps_with

Tick = Callable[..., None]
Votes = tuple[np.ndarray, np.ndarray, np.ndarray]  # voting units, their cosines, their votes


@dataclass(frozen=True)
class TrainConfig:
    holdout: float = 0.1
    epochs: int = 12
    batch: int = 256
    hard_negatives: int = 7
    lr: float = 2e-3
    anchor: float = 1e-2  # pulls W toward its start, [I, 0]: few examples per reply overfit
    scale: float = 30.0  # start of the logit scale (e5 cosines span a narrow band)
    blends: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
    block: int = 512  # examples whose cosines with the whole bank are computed at once
    seed: int = 0
    threads: int | None = None
    # An agent's pick among offered replies (sent, dismissed) is a judgement; a bank example is
    # only what was once said, often the generic reply said most. A feedback row counts this
    # many times, so a shop's agents outvote its history's habits.
    feedback_repeats: int = 4


@dataclass(frozen=True)
class Recall:
    at_1: float
    at_3: float

    @property
    def mean(self) -> float:
        return (self.at_1 + self.at_3) / 2


@dataclass(frozen=True)
class TrainReport:
    examples: int  # bank examples (train + held out)
    heldout: int
    feedback_examples: int  # feedback rows trained on (with a positive)
    feedback_skipped: int  # feedback with negatives only: nothing to contrast them with
    in_pool: float  # held-out share whose true reply is in the neighbour pool (recall ceiling)
    before: Recall  # vote share alone
    after: Recall  # the blend chosen
    blend: float
    best_epoch: int
    seconds: float
    epoch_recalls: list[Recall] = field(default_factory=list)


@dataclass(frozen=True)
class Heldout:
    replies: list[np.ndarray]  # per example its pool's reply positions
    shares: list[np.ndarray]
    resemblance: list[np.ndarray]
    truth: np.ndarray  # per example its reply position


@dataclass(frozen=True)
class TrainData:
    messages: np.ndarray  # n x d
    agents: np.ndarray  # n x d
    target: np.ndarray  # n reply positions
    negatives: np.ndarray  # n x hard_negatives reply positions, -1: none


def split_units(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = max(1, round(n * share)) if n > 1 else 0
    return np.sort(order[cut:]), np.sort(order[:cut])


def batched_votes(
    index: BankIndex, rows: np.ndarray, cfg: HistoryConfig, block: int, tick: Tick
) -> list[Votes]:
    """neighbour_votes of each example `rows` as a query against the bank without itself
    (leave one out: its own vector would always win), many examples a matrix product."""
    matrix = index.dense.reconstruct_n(0, index.dense.ntotal)
    agents = index.agent_matrix
    floor = relevance_floor(index, cfg)
    gap = max(1.0 - min(index.unrelated, 1.0), 1e-3) if len(index.pair_similarities) else 1.0
    counts = index.unit_count
    out = []
    for start in range(0, len(rows), block):
        chunk = rows[start : start + block]
        sims = matrix[chunk] @ matrix.T
        sims[np.arange(len(chunk)), chunk] = -np.inf
        fetch = min(cfg.neighbour_prefetch, len(matrix) - 1)
        top = np.argpartition(-sims, fetch - 1, axis=1)[:, :fetch] if fetch > 0 else sims[:, :0]
        for i, unit in enumerate(chunk):
            cand = top[i][np.argsort(-sims[i, top[i]], kind="stable")]
            cosine = sims[i, cand]
            cand, cosine = cand[cosine >= floor], cosine[cosine >= floor]
            fit = cosine.copy()
            if agents is not None:
                fit += cfg.neighbour_agent_weight * (agents[cand] @ agents[unit])
            nearest = np.argsort(-fit, kind="stable")[: cfg.neighbours]
            fit = fit[nearest]
            best = fit[0] if len(fit) else 0.0
            votes = counts[cand[nearest]] * np.exp((fit - best) / (cfg.neighbour_temperature * gap))
            out.append((cand[nearest], cosine[nearest], votes))
        tick(len(chunk))
    return out


def hard_negatives(
    index: BankIndex, units: np.ndarray, votes: np.ndarray, truth: int, n: int, match: float
) -> np.ndarray:
    """The replies with most votes for this example that neither are nor resemble its own."""
    replies = np.asarray(index.unit_reply)[units]
    totals: dict[int, float] = {}
    for reply, vote in zip(replies.tolist(), votes.tolist(), strict=True):
        if reply != truth:
            totals[reply] = totals.get(reply, 0.0) + vote
    ranked = sorted(totals, key=lambda r: -totals[r])[: 3 * n]
    if ranked:
        like = overlaps_with(index.reply_key(truth), [index.reply_key(r) for r in ranked])
        ranked = [r for r, o in zip(ranked, like.tolist(), strict=True) if o < match]
    out = np.full(n, -1, dtype=np.int64)
    out[: min(n, len(ranked))] = ranked[:n]
    return out


def heldout_recall(
    held: Heldout, fits: Sequence[np.ndarray] | None, blend: float, match: float
) -> Recall:
    hits1 = hits3 = 0
    for i, replies in enumerate(held.replies):
        if not len(replies):
            continue
        scores = blend_scores(
            held.shares[i], fits[i] if fits is not None else held.shares[i], blend
        )
        order = [int(replies[j]) for j in pick_order(scores, held.resemblance[i], match, 3)]
        truth = int(held.truth[i])
        hits1 += bool(order) and order[0] == truth
        hits3 += truth in order
    n = max(len(held.replies), 1)
    return Recall(round(hits1 / n, 4), round(hits3 / n, 4))


def fit_selector(
    index: BankIndex,
    reply_vectors: np.ndarray,
    cfg: HistoryConfig,
    train_cfg: TrainConfig,
    *,
    clock: Clock,
    feedback: TrainData | None = None,
    feedback_skipped: int = 0,
    bar: Callable[[str, int], Tick] = lambda _label, _total: lambda _n=1: None,
) -> tuple[SelectorModel, TrainReport]:
    """Train on the bank (+ feedback rows); reply_vectors: a row per index.replies."""
    import torch

    started = time.perf_counter()
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    torch.manual_seed(train_cfg.seed)
    n = len(index.unit_reply)
    train_units, held_units = split_units(n, train_cfg.holdout, train_cfg.seed)
    pools = batched_votes(index, np.arange(n), cfg, train_cfg.block, bar("neighbour pools", n))
    unit_reply = np.asarray(index.unit_reply)
    matrix = index.dense.reconstruct_n(0, n)
    agents = index.agent_matrix if index.agent_matrix is not None else np.zeros_like(matrix)
    negatives = np.full((len(train_units), train_cfg.hard_negatives), -1, dtype=np.int64)
    for i, u in enumerate(train_units):
        negatives[i] = hard_negatives(index, pools[u][0], pools[u][2], int(unit_reply[u]),
                                      train_cfg.hard_negatives, cfg.neighbour_match)  # fmt: skip
    data = TrainData(matrix[train_units], agents[train_units], unit_reply[train_units], negatives)
    if feedback is not None and len(feedback.target):
        for _ in range(train_cfg.feedback_repeats):
            data = _concat(data, feedback)
    held = _heldout(index, pools, held_units, cfg.neighbour_match)
    before = heldout_recall(held, None, 0.0, cfg.neighbour_match)
    model: Any = _Scorer(matrix.shape[1], train_cfg.scale)
    vectors = torch.from_numpy(np.ascontiguousarray(reply_vectors, dtype=np.float32))
    optimiser = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)
    best: tuple[float, int, float, Recall, dict[str, torch.Tensor]] | None = None
    epochs: list[Recall] = []
    tick = bar("training", train_cfg.epochs)
    for epoch in range(1, train_cfg.epochs + 1):
        _epoch(model, optimiser, data, vectors, train_cfg)
        fits = _held_fits(model, index, matrix, agents, held_units, held, reply_vectors)
        recall, blend = max(
            ((heldout_recall(held, fits, b, cfg.neighbour_match), b) for b in train_cfg.blends),
            key=lambda rb: (rb[0].mean, -rb[1]),
        )
        epochs.append(recall)
        # the agents' own picks count beside the history's: an epoch that recalls what was
        # said but ranks what agents dismissed above what they sent is not the better one
        score = recall.mean + (_agreement(model, feedback, vectors) if feedback else 0.0)
        if best is None or score > best[0]:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = (score, epoch, blend, recall, state)
        tick()
    assert best is not None
    _, best_epoch, blend, after, state = best
    if after.mean <= before.mean:
        blend = 0.0  # no better than the votes on held-out examples: the votes decide
    model.load_state_dict(state)
    report = TrainReport(
        n, len(held_units), len(feedback.target) if feedback is not None else 0,
        feedback_skipped, round(_in_pool(held), 4), before, after if blend else before, blend,
        best_epoch, round(time.perf_counter() - started, 2), epochs,
    )  # fmt: skip
    return _model(model, blend, index, reply_vectors, clock, report), report


def _concat(a: TrainData, b: TrainData) -> TrainData:
    return TrainData(
        np.vstack([a.messages, b.messages]), np.vstack([a.agents, b.agents]),
        np.concatenate([a.target, b.target]), np.vstack([a.negatives, b.negatives]),
    )  # fmt: skip


def _heldout(index: BankIndex, pools: list[Votes], units: np.ndarray, match: float) -> Heldout:
    found = [vote_pool(index, pools[u][0], pools[u][1], pools[u][2], match) for u in units]
    return Heldout(
        [p.replies for p in found], [p.shares for p in found], [p.resemblance for p in found],
        np.asarray(index.unit_reply)[units],
    )  # fmt: skip


def _in_pool(held: Heldout) -> float:
    inside = sum(int(t) in set(r.tolist()) for r, t in zip(held.replies, held.truth, strict=True))
    return inside / max(len(held.replies), 1)


class _Scorer:
    """fit = scale * (W [m; a] + b) . r, W starting at [I, 0]: the message's own e5 match."""

    def __new__(cls, dim: int, scale: float):  # type: ignore[no-untyped-def]
        import torch

        class Scorer(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                start = torch.cat([torch.eye(dim), torch.zeros(dim, dim)], dim=1)
                self.register_buffer("start", start)
                self.weights = torch.nn.Parameter(start.clone())
                self.bias = torch.nn.Parameter(torch.zeros(dim))
                self.log_scale = torch.nn.Parameter(torch.tensor(math.log(scale)))

            def forward(self, m: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
                return torch.cat([m, a], dim=1) @ self.weights.T + self.bias

        return Scorer()


def _epoch(model: Any, optimiser: Any, data: TrainData, vectors: Any, cfg: TrainConfig) -> None:
    import torch

    n = len(data.target)
    order = torch.randperm(n)
    messages, agents = torch.from_numpy(data.messages), torch.from_numpy(data.agents)
    target, negatives = torch.from_numpy(data.target), torch.from_numpy(data.negatives)
    for start in range(0, n, cfg.batch):
        rows = order[start : start + cfg.batch]
        query = model(messages[rows], agents[rows])
        y = target[rows]
        in_batch = query @ vectors[y].T
        hard_ids = negatives[rows]
        hard = torch.einsum("bd,bhd->bh", query, vectors[hard_ids.clamp(min=0)])
        # another row with the same reply is no negative, nor is a missing hard one; masked
        # after scaling: -inf times the scale's gradient would be NaN
        same = (y[:, None] == y[None, :]) & ~torch.eye(len(rows), dtype=torch.bool)
        masked = torch.cat([same, hard_ids < 0], dim=1)
        logits = (model.log_scale.exp() * torch.cat([in_batch, hard], dim=1)).masked_fill(
            masked, -torch.inf
        )
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(rows)))
        loss = loss + cfg.anchor * (model.weights - model.start).pow(2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def _agreement(model: Any, feedback: TrainData, vectors: Any) -> float:
    """Share of the feedback rows with a dismissed reply where the model fits the sent reply
    better than every dismissed one."""
    import torch

    rows = np.flatnonzero((feedback.negatives >= 0).any(axis=1))
    if not len(rows):
        return 0.0
    with torch.no_grad():
        query = model(torch.from_numpy(feedback.messages[rows]),
                      torch.from_numpy(feedback.agents[rows]))  # fmt: skip
        fits = query @ vectors.T
        negatives = torch.from_numpy(feedback.negatives[rows])
        sent = fits.gather(1, torch.from_numpy(feedback.target[rows])[:, None])
        dismissed = fits.gather(1, negatives.clamp(min=0)).masked_fill(negatives < 0, -torch.inf)
        return float((sent[:, 0] > dismissed.max(dim=1).values).float().mean())


def _held_fits(
    model: Any, index: BankIndex, matrix: np.ndarray, agents: np.ndarray, units: np.ndarray,
    held: Heldout, reply_vectors: np.ndarray,
) -> list[np.ndarray]:  # fmt: skip
    import torch

    with torch.no_grad():
        query = model(torch.from_numpy(matrix[units]), torch.from_numpy(agents[units])).numpy()
        scale = float(model.log_scale.exp())
    return [scale * (reply_vectors[r] @ q) for r, q in zip(held.replies, query, strict=True)]


def _model(
    model: Any, blend: float, index: BankIndex, reply_vectors: np.ndarray, clock: Clock,
    report: TrainReport,
) -> SelectorModel:  # fmt: skip
    from dataclasses import asdict

    figures = {k: v for k, v in asdict(report).items() if k != "epoch_recalls"}
    return SelectorModel(
        weights=model.weights.detach().numpy().astype(np.float32),
        bias=model.bias.detach().numpy().astype(np.float32),
        scale=float(model.log_scale.detach().exp()),
        blend=blend,
        reply_ids=tuple(r.id for r in index.replies),
        reply_vectors=np.asarray(reply_vectors, dtype=np.float32),
        bank_version=index.version,
        embedding_model=index.embedding_model,
        trained_at=clock_stamp(clock.now()),
        report=figures,
    )
