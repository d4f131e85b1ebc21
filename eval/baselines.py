"""Baselines replayed over the very bank the pipeline uses (mined from the same train chats):

- bm25: the customer's message against the bank's example messages with BM25 (bm25s over
  kb.tokens), replies in the order of their best example;
- most_frequent: the replies most often given for the turn's intent (the labelled intent, else
  the pipeline's), the bank's most frequent replies when that intent has none.

Both obey the pipeline's rule for history replies: a reply with a slot the order cannot fill
({姓名}, {数字}...) is not sendable as is, so it is not suggested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from copilot.history.chatlogs import TurnKey
from copilot.history.mining import MinedReply, clean_text, mine
from copilot.text.similarity import SLOT
from copilot.types import Conversation
from eval.types import ReplayItem
from kb.tokens import tokenize

_FILLABLE = {"{订单号}": "order_id", "{运单号}": "tracking_number"}


def mine_bank(
    conversations: Sequence[Conversation], labels: Mapping[TurnKey, Mapping[str, Any]]
) -> list[MinedReply]:
    """The same mining the ResponseBank does on import (same defaults)."""
    replies, _ = mine(conversations, labels=labels)
    return replies


def sendable(text: str, conversation: Conversation) -> str | None:
    order = conversation.order
    for slot in dict.fromkeys(SLOT.findall(text)):
        attribute = _FILLABLE.get(slot)
        value = getattr(order, attribute, None) if order is not None and attribute else None
        if not value:
            return None
        text = text.replace(slot, str(value))
    return text


class Bm25Baseline:
    name = "bm25"

    def __init__(self, replies: Sequence[MinedReply], depth: int = 50) -> None:
        import bm25s

        self.replies = list(replies)
        self.depth = depth
        self.unit_reply: list[int] = []
        tokens: list[list[str]] = []
        for position, reply in enumerate(self.replies):
            for example in reply.examples:
                self.unit_reply.append(position)
                tokens.append(tokenize(example.message) or [""])
        self.index = bm25s.BM25()
        if tokens:
            self.index.index(tokens, show_progress=False)

    def suggest(self, item: ReplayItem, k: int = 3) -> list[str]:
        words = tokenize(clean_text(item.customer_msg))
        if not words or not self.unit_reply:
            return []
        scores = self.index.get_scores(words)
        n = min(self.depth, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.lexsort((top, -scores[top]))]  # by score, ties by position: deterministic
        chosen: list[str] = []
        seen: set[int] = set()
        for unit in top:
            reply = self.unit_reply[int(unit)]
            if scores[unit] <= 0 or reply in seen:
                continue
            seen.add(reply)
            text = sendable(self.replies[reply].text, item.context)
            if text:
                chosen.append(text)
            if len(chosen) == k:
                break
        return chosen


class MostFrequentBaseline:
    name = "most_frequent"

    def __init__(self, replies: Sequence[MinedReply]) -> None:
        ordered = sorted(replies, key=lambda r: (-r.count, r.id))
        self.overall = [r.text for r in ordered]
        by_intent: dict[str, list[tuple[int, str, str]]] = {}
        for reply in replies:
            for intent, count in reply.intents.items():
                by_intent.setdefault(intent, []).append((-count, reply.id, reply.text))
        self.by_intent = {i: [t for *_, t in sorted(v)] for i, v in by_intent.items()}

    def suggest(self, item: ReplayItem, intent: str, k: int = 3) -> list[str]:
        chosen: list[str] = []
        for text in (*self.by_intent.get(item.gold_intent or intent, ()), *self.overall):
            usable = sendable(text, item.context)
            if usable and usable not in chosen:
                chosen.append(usable)
            if len(chosen) == k:
                break
        return chosen
