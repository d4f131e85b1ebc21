"""Train and store one shop's reply selector: reply vectors, feedback, fit, save.

    train_shop(bank, shop_id, store=SelectorStore(client), clock=clock) -> TrainResult

Reply vectors (e5 "passage:" of each distinct bank reply) are kept per shop in
{prefix}:{shop}:reply_vectors (reply id -> float32 row): reply ids are the hash of the reply's
text, so a bank imported again only embeds the replies it did not have.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from copilot.clock import Clock
from copilot.errors import CopilotError
from copilot.feedback.log import FeedbackLog
from copilot.feedback.records import SuggestionLog
from copilot.history.bank import ResponseBank, agent_text, progress_bars
from copilot.history.index import BankIndex
from copilot.history.selector import SelectorStore
from copilot.history.selector_feedback import feedback_examples
from copilot.history.selector_training import TrainConfig, TrainData, TrainReport, fit_selector

# (label, total) -> advance(n=1): what progress_bars hands out, and what a job may pass instead
Ticks = Callable[[str, int], Callable[..., None]]
_EMBED_CHUNK = 128
_MODEL_FIELD = "__model"  # the embedder the stored rows came from


@dataclass(frozen=True)
class TrainResult:
    shop_id: str
    version: int  # the stored model's
    bank_version: int
    replies_embedded: int
    report: TrainReport


def train_shop(
    bank: ResponseBank,
    shop_id: str,
    *,
    store: SelectorStore,
    clock: Clock,
    feedback: tuple[FeedbackLog, SuggestionLog] | None = None,
    config: TrainConfig = TrainConfig(),  # noqa: B008  # frozen
    progress: bool | Ticks = False,
) -> TrainResult:
    """Fit the shop's selector on its current bank (+ feedback) and store it. `progress`: rich
    bars on stderr (True), none (False), or a tick maker of one's own (a service job's)."""
    index = bank.index(shop_id)  # the bank's own in-memory index: vectors already decoded
    if index is None or len(index.unit_reply) < 10:
        raise CopilotError(f"{shop_id!r} has too small a history bank to learn from; import chats")
    bars = nullcontext(progress) if callable(progress) else progress_bars(progress)
    with bars as bar:
        vectors, embedded = reply_vectors(bank, shop_id, index, bar)
        rows, skipped = _feedback_rows(bank, shop_id, index, feedback)
        model, report = fit_selector(
            index, vectors, bank.config, config, clock=clock, feedback=rows,
            feedback_skipped=skipped, bar=bar,
        )  # fmt: skip
    version = store.save(shop_id, model)
    return TrainResult(shop_id, version, index.version, embedded, report)


def reply_vectors(
    bank: ResponseBank, shop_id: str, index: BankIndex, bar: Callable[..., Callable[..., None]]
) -> tuple[np.ndarray, int]:
    """A row per index.replies; only replies without a stored row are embedded."""
    key = f"{bank.prefix}:{shop_id}:reply_vectors"
    stored: dict[bytes, bytes] = bank.client.hgetall(key)  # type: ignore[assignment]
    if stored.get(_MODEL_FIELD.encode(), b"").decode() != bank.embedder.name:
        stored = {}
        bank.client.delete(key)
    todo = [r for r in index.replies if r.id.encode() not in stored]
    tick = bar("embedding replies", len(todo))
    new: dict[str, bytes] = {}
    for start in range(0, len(todo), _EMBED_CHUNK):
        chunk = todo[start : start + _EMBED_CHUNK]
        matrix = bank.embedder.embed_batch([r.text for r in chunk], role="passage")
        new |= {
            r.id: np.asarray(v, dtype=np.float32).tobytes()
            for r, v in zip(chunk, matrix, strict=True)
        }
        tick(len(chunk))
    if new:
        mapping: dict[str, bytes] = {**new, _MODEL_FIELD: bank.embedder.name.encode()}
        bank.client.hset(key, mapping=mapping)  # type: ignore[arg-type]
    rows: list[bytes] = [new.get(r.id) or stored[r.id.encode()] for r in index.replies]
    return np.vstack([np.frombuffer(b, dtype=np.float32) for b in rows]), len(todo)


def _feedback_rows(
    bank: ResponseBank,
    shop_id: str,
    index: BankIndex,
    feedback: tuple[FeedbackLog, SuggestionLog] | None,
) -> tuple[TrainData | None, int]:
    """Training rows of the suggestions with a positive; how many had negatives only. The agent
    turn is embedded as the bank embeds its examples' (agent_text: the chat's start when none)."""
    if feedback is None:
        return None, 0
    log, suggestions = feedback
    examples = feedback_examples(index, suggestions.recent(shop_id, 0.0), log.events(shop_id))
    usable = [e for e in examples if e.positives]
    if not usable:
        return None, len(examples)
    rows = [(e, p) for e in usable for p in e.positives]
    messages = bank.embedder.embed_batch([e.message for e, _ in rows], role="query")
    agents = bank.embedder.embed_batch([agent_text(e.agent_turn) for e, _ in rows], role="query")
    negatives = np.full((len(rows), TrainConfig.hard_negatives), -1, dtype=np.int64)
    for i, (e, _) in enumerate(rows):
        picked = e.negatives[: negatives.shape[1]]
        negatives[i, : len(picked)] = picked
    data = TrainData(
        np.asarray(messages, dtype=np.float32), np.asarray(agents, dtype=np.float32),
        np.array([p for _, p in rows], dtype=np.int64), negatives,
    )  # fmt: skip
    return data, len(examples) - len(usable)


def summary(result: TrainResult) -> list[str]:
    """What `copilot history train` prints."""
    r = result.report
    return [
        f"trained {result.shop_id}: selector version {result.version} on bank version "
        f"{result.bank_version}, {r.examples} examples ({r.heldout} held out), "
        f"{r.feedback_examples} feedback rows ({r.feedback_skipped} negatives-only skipped), "
        f"{result.replies_embedded} replies embedded, {r.seconds:.1f}s",
        f"held-out recall@1 {r.before.at_1:.3f} -> {r.after.at_1:.3f}, "
        f"recall@3 {r.before.at_3:.3f} -> {r.after.at_3:.3f} "
        f"(true reply in the pool: {r.in_pool:.3f}); blend {r.blend}, epoch {r.best_epoch}",
    ]
