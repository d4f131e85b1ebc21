"""The seeded train/test split by conversation id, and the leakage guard.

Only the train part feeds the response bank; a replayed reply must never be in it, or the
bank would simply look its answer up.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from copilot.types import Conversation
from eval.errors import EvalInputError, LeakageError


def split_conversations(
    conversations: Sequence[Conversation], *, test_share: float = 0.2, seed: int = 0
) -> tuple[list[Conversation], list[Conversation]]:
    """(train, test): a seeded shuffle of the ids, so the split ignores file order."""
    if not 0 < test_share < 1:
        raise EvalInputError(f"test share must be between 0 and 1, not {test_share}")
    ids = sorted({c.conversation_id or "" for c in conversations})
    random.Random(seed).shuffle(ids)
    test_ids = set(ids[: max(1, round(len(ids) * test_share))])
    train = [c for c in conversations if (c.conversation_id or "") not in test_ids]
    test = [c for c in conversations if (c.conversation_id or "") in test_ids]
    return train, test


def check_no_leakage(train: Sequence[Conversation], test: Sequence[Conversation]) -> None:
    """Raise if a replayed conversation, under its id or as an exact copy, feeds the bank."""
    train_ids = {c.conversation_id for c in train}
    shared = sorted(str(c.conversation_id) for c in test if c.conversation_id in train_ids)
    if shared:
        raise LeakageError(
            f"{len(shared)} replayed conversation(s) also feed the response bank "
            f"(e.g. {shared[:3]}); give --history a file without them, or drop --history"
        )
    train_texts = {_fingerprint(c) for c in train}
    copies = sorted(str(c.conversation_id) for c in test if _fingerprint(c) in train_texts)
    if copies:
        raise LeakageError(
            f"{len(copies)} replayed conversation(s) appear word for word in the bank's chats "
            f"under another id (e.g. {copies[:3]}); remove the duplicates"
        )


def _fingerprint(conversation: Conversation) -> tuple[tuple[str, str], ...]:
    return tuple((t.role, t.text) for t in conversation.turns)
