"""Read chats to replay: our conversations.jsonl (with alt_replies/intent/handoff labels), the
JDDC chat TSV or a generic CSV export, all through copilot.history.chatlogs (the importer the
history
bank uses), then cut them into ReplayItems: every agent turn that follows a customer turn.

A malformed line is skipped and counted (ChatLog.skipped names the line and the reason); a file
with nothing readable raises EvalInputError listing every problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from copilot.errors import HistoryImportError
from copilot.history.chatlogs import ChatFormat, ChatLog, TurnKey, read_chats
from copilot.types import Conversation
from eval.errors import EvalInputError
from eval.types import ReplayItem

DEFAULT_SHOP = "eval"


def read_corpus(
    path: Path | str, *, format: ChatFormat | None = None, shop_id: str | None = None
) -> ChatLog:
    """Conversations of one shop; those without a shop get `shop_id` (or "eval")."""
    try:
        log = read_chats(path, format=format)
    except HistoryImportError as exc:
        raise EvalInputError(f"cannot read {Path(path).name}", exc.errors) from exc
    shop = shop_id or next((c.shop_id for c in log.conversations if c.shop_id), DEFAULT_SHOP)
    kept = [c for c in log.conversations if c.shop_id in ("", shop)]
    others = len(log.conversations) - len(kept)
    if others:
        # Replies of another shop must not be replayed as this shop's (nor reach its bank).
        log.skipped.extend(_other_shop_errors(log, shop))
    conversations = [_with_shop(c, shop) for c in kept]
    return ChatLog(log.source, log.format, conversations, log.skipped, log.turn_labels)


def _other_shop_errors(log: ChatLog, shop: str) -> list[Any]:
    from copilot.errors import LineError

    return [
        LineError(log.source, None, f"conversation {c.conversation_id!r} is of shop {c.shop_id!r}")
        for c in log.conversations
        if c.shop_id not in ("", shop)
    ]


def _with_shop(conversation: Conversation, shop: str) -> Conversation:
    if conversation.shop_id == shop:
        return conversation
    return Conversation(
        shop,
        conversation.turns,
        conversation.order,
        conversation.notes,
        conversation.conversation_id,
    )


def replay_items(
    conversations: Sequence[Conversation], labels: Mapping[TurnKey, Mapping[str, Any]]
) -> Iterator[ReplayItem]:
    """Every agent turn right after a customer turn, with the turns before it as context."""
    for conversation in conversations:
        cid = conversation.conversation_id or ""
        turns = conversation.turns
        for index in range(1, len(turns)):
            if turns[index].role != "agent" or turns[index - 1].role != "customer":
                continue
            own = labels.get((cid, index), {})
            asked = labels.get((cid, index - 1), {})
            handoff = own.get("handoff", asked.get("handoff"))
            yield ReplayItem(
                conversation_id=cid,
                turn_index=index,
                context=Conversation(
                    conversation.shop_id,
                    turns[:index],
                    conversation.order,
                    conversation.notes,
                    cid,
                ),
                actual_reply=turns[index].text,
                alt_replies=_alt_replies(own.get("alt_replies")),
                gold_intent=str(asked["intent"]) if asked.get("intent") else None,
                gold_handoff=bool(handoff) if handoff is not None else None,
            )


def _alt_replies(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())
