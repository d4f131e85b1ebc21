"""What the shop's agents did with history suggestions, as training examples for the selector.

A history candidate the agent sent, edited or inserted is a positive for the customer's message
it answered; one dismissed is a negative (a dismissal naming no candidate: all of that
suggestion's history candidates). Candidates are matched back to bank replies by their text: a
record keeps the text shown (slots filled, personal data masked), not the reply id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from copilot.feedback.log import FeedbackEvent
from copilot.feedback.records import SuggestionRecord
from copilot.history.index import BankIndex
from copilot.text.similarity import normalized_key, overlaps_with

POSITIVE = frozenset({"sent", "edited", "inserted"})
SAME_REPLY = 0.8  # bigram overlap at which a shown text is taken for a bank reply


@dataclass(frozen=True)
class FeedbackExample:
    message: str  # the customer's message, masked as recorded
    agent_turn: str  # the agent's turn it answered, masked as recorded ("" in older records)
    positives: tuple[int, ...]  # bank reply positions
    negatives: tuple[int, ...]


def feedback_examples(
    index: BankIndex, records: Sequence[SuggestionRecord], events: Iterable[FeedbackEvent]
) -> list[FeedbackExample]:
    """One example per suggestion with feedback on a history candidate that maps to the bank."""
    by_id = {r.suggestion_id: r for r in records}
    grouped: dict[str, list[FeedbackEvent]] = defaultdict(list)
    for event in events:
        if event.suggestion_id in by_id:
            grouped[event.suggestion_id].append(event)
    keys = [index.reply_key(i) for i in range(len(index.replies))]
    exact = {key: i for i, key in enumerate(keys)}
    found = []
    for sid, evs in sorted(grouped.items()):
        example = _example(by_id[sid], evs, lambda text: _reply_of(text, keys, exact))
        if example is not None:
            found.append(example)
    return found


def _example(
    record: SuggestionRecord,
    events: Sequence[FeedbackEvent],
    reply_of: Callable[[str], int | None],
) -> FeedbackExample | None:
    history = {c.id: c for c in record.candidates if c.source == "history"}
    positives: set[int] = set()
    negatives: set[int] = set()
    for event in events:
        named = [history[event.candidate_id]] if event.candidate_id in history else []
        if event.action in POSITIVE:
            targets = positives
        elif event.action == "dismissed":
            targets = negatives
            named = named or ([] if event.candidate_id else list(history.values()))
        else:
            continue
        for candidate in named:
            reply = reply_of(candidate.text)
            if reply is not None:
                targets.add(reply)
    negatives -= positives  # dismissed once, sent later: the agent's last word
    if not (positives or negatives) or not record.customer_msg:
        return None
    return FeedbackExample(
        record.customer_msg, record.agent_turn, tuple(sorted(positives)), tuple(sorted(negatives))
    )


def _reply_of(text: str, keys: Sequence[str], exact: dict[str, int]) -> int | None:
    key = normalized_key(text)
    if key in exact:
        return exact[key]
    if not key or not keys:
        return None
    overlaps = overlaps_with(key, keys)
    best = int(np.argmax(overlaps))
    return best if overlaps[best] >= SAME_REPLY else None
