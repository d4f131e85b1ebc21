"""Read past chat logs into Conversations: our JSONL, the JDDC chat TSV, or a generic CSV export.

    read_chats(path, format=None, shop_id=None) -> ChatLog
    parse_chats(name, data, format=None, shop_id=None) -> ChatLog   (uploaded bytes)

A malformed line is skipped and recorded in ChatLog.skipped (file, line, reason); only a file in
which nothing at all can be read raises HistoryImportError. Per-turn extras that
copilot.types.Turn does not hold (alt_replies, intent, handoff, the JDDC flags and SKU) are kept
in ChatLog.turn_labels[(conversation_id, turn_index)], for the history bank and the eval harness.

JSONL (.jsonl, .ndjson, .json)
    One conversation per line: {"conversation_id", "shop_id"?, "turns": [{"role", "text",
    "ts"?, ...extras}]}. Roles: customer/agent (or user/buyer/顾客/买家, seller/客服/商家...).
    ts: unix seconds (or milliseconds), or an ISO date-time (naive ones are China time). Turns
    are kept as written, so turn_labels indexes match the file.
JDDC (the chat TSV of JD.com's dialogue challenge)
    Seven tab-separated columns: session id, customer id, sent by agent (1) or customer (0),
    transferred flag, repeat flag, SKU ("nan" when none), text. "NULL"/empty texts are not
    messages. Consecutive messages of one side form one turn, joined with "，".
CSV (.csv, or a .tsv/.txt that is not JDDC)
    A header row naming conversation id, sender role and text (time and intent optional), in
    Chinese or English (会话ID/conversation_id, 发送方/role, 内容/text, 时间/time, 意图/intent);
    UTF-8, UTF-8 with BOM or GBK. Rows are numbered as a spreadsheet shows them (header = 1).
    Rows of a conversation need not be adjacent; with times on every row they are sorted by
    time. Consecutive messages of one side form one turn, as for JDDC.

`shop_id`, when given, is the shop of every conversation; a JSONL line naming another shop is
skipped (its replies must never reach this shop's bank).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

from copilot.clock import CHINA as CHINA
from copilot.errors import HistoryImportError, LineError
from copilot.types import Conversation, SpeakerRole, Turn
from kb.files.headers import normalize_header
from kb.files.import_text import decode_text

ChatFormat: TypeAlias = Literal["jsonl", "jddc", "csv"]
TurnKey: TypeAlias = tuple[str, int]
FORMATS: tuple[ChatFormat, ...] = ("jsonl", "jddc", "csv")
TURN_JOINER = "，"

_ROLES: dict[str, SpeakerRole] = {
    **dict.fromkeys(
        ("customer", "user", "buyer", "client", "顾客", "买家", "客户", "用户"), "customer"
    ),
    **dict.fromkeys(
        ("agent", "seller", "staff", "assistant", "service", "客服", "商家", "卖家", "店家"),
        "agent",
    ),
}
_JSONL_CORE = frozenset({"role", "text", "ts"})
_NULL_TEXTS = frozenset({"", "null", "nan", "none"})
_CSV_FIELDS: dict[str, tuple[str, ...]] = {
    "conversation_id": (
        "conversation_id", "session_id", "chat_id", "dialog_id", "会话id", "会话编号", "会话",
        "对话id", "对话编号", "session",
    ),
    "role": (
        "role", "sender", "from", "speaker", "发送方", "发送者", "角色", "是否客服发送", "身份",
    ),
    "text": ("text", "content", "message", "msg", "内容", "消息", "消息内容", "聊天内容", "文本"),
    "ts": ("ts", "time", "timestamp", "created_at", "sent_at", "时间", "发送时间", "消息时间"),
    "intent": ("intent", "意图", "标签"),
    "shop_id": ("shop_id", "shop", "店铺", "店铺id"),
}  # fmt: skip
_CSV_REQUIRED = ("conversation_id", "role", "text")
_CSV_HELP = {
    "conversation_id": "会话ID/conversation_id",
    "role": "发送方/role",
    "text": "内容/text",
}


@dataclass(frozen=True)
class ChatLog:
    source: str
    format: ChatFormat
    conversations: list[Conversation] = field(default_factory=list)
    skipped: list[LineError] = field(default_factory=list)
    turn_labels: dict[TurnKey, dict[str, Any]] = field(default_factory=dict)

    @property
    def turns(self) -> int:
        return sum(len(c.turns) for c in self.conversations)


def read_chats(
    path: Path | str, *, format: ChatFormat | None = None, shop_id: str | None = None
) -> ChatLog:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HistoryImportError(
            [LineError(path.name, None, f"cannot read: {exc.strerror or exc}")]
        ) from exc
    return parse_chats(path.name, data, format=format, shop_id=shop_id)


def parse_chats(
    name: str, data: bytes, *, format: ChatFormat | None = None, shop_id: str | None = None
) -> ChatLog:
    text = decode_text(data)
    if text is None:
        raise HistoryImportError([LineError(name, None, "unknown encoding; save as UTF-8")])
    if format is not None and format not in FORMATS:
        raise HistoryImportError([LineError(name, None, f"unknown format {format!r}: {FORMATS}")])
    chosen = format or sniff_format(name, text)
    log = ChatLog(name, chosen)
    _READERS[chosen](log, text, shop_id)
    if not log.conversations:
        raise HistoryImportError(log.skipped or [LineError(name, None, "no conversations")])
    return log


def sniff_format(name: str, text: str) -> ChatFormat:
    suffix = Path(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.lstrip().startswith("{"):
        return "jsonl"
    fields = first.split("\t")
    return "jddc" if len(fields) >= 7 and fields[2].strip() in ("0", "1") else "csv"


# --- JSONL -----------------------------------------------------------------------------------


def _read_jsonl(log: ChatLog, text: str, shop_id: str | None) -> None:
    seen: set[str] = set()
    # Not str.splitlines(): it also splits at U+2028, which JSON strings may hold unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            conversation, labels = _jsonl_conversation(line, number, shop_id)
        except ValueError as exc:
            log.skipped.append(LineError(log.source, number, str(exc)))
            continue
        key = conversation.conversation_id or ""
        if key in seen:
            log.skipped.append(LineError(log.source, number, f"duplicate conversation id {key!r}"))
            continue
        seen.add(key)
        log.conversations.append(conversation)
        log.turn_labels.update(labels)


def _jsonl_conversation(
    line: str, number: int, shop_id: str | None
) -> tuple[Conversation, dict[TurnKey, dict[str, Any]]]:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    turns_raw = raw.get("turns")
    if not isinstance(turns_raw, list) or not turns_raw:
        raise ValueError("'turns' must be a non-empty list")
    conversation_id = str(raw.get("conversation_id") or f"line-{number}")
    own = raw.get("shop_id")
    if shop_id is not None and own not in (None, "", shop_id):
        raise ValueError(f"belongs to shop {own!r}, not {shop_id!r}")
    turns, labels = [], {}
    for index, item in enumerate(turns_raw):
        turn, extras = _jsonl_turn(item, index)
        turns.append(turn)
        if extras:
            labels[(conversation_id, index)] = extras
    conversation = Conversation(
        shop_id=shop_id or str(own or ""),
        turns=tuple(turns),
        conversation_id=conversation_id,
    )
    return conversation, labels


def _jsonl_turn(item: Any, index: int) -> tuple[Turn, dict[str, Any]]:
    where = f"turn {index + 1}"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: not an object")
    role = parse_role(item.get("role"))
    if role is None:
        raise ValueError(f"{where}: role {item.get('role')!r} is neither customer nor agent")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: 'text' must be a non-empty string")
    try:
        ts = parse_ts(item.get("ts"))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    extras = {k: v for k, v in item.items() if k not in _JSONL_CORE}
    return Turn(role, text.strip(), ts), extras


# --- JDDC TSV --------------------------------------------------------------------------------


@dataclass
class _Message:
    conversation_id: str
    role: SpeakerRole
    text: str
    ts: float | None = None
    labels: dict[str, Any] = field(default_factory=dict)
    shop_id: str = ""


def _read_jddc(log: ChatLog, text: str, shop_id: str | None) -> None:
    messages: list[_Message] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            message = _jddc_message(line)
        except ValueError as exc:
            if number == 1 and "sent-by-agent" in str(exc):
                continue  # a header row
            log.skipped.append(LineError(log.source, number, str(exc)))
            continue
        if message is not None:
            messages.append(message)
    _group(log, messages, shop_id)


def _jddc_message(line: str) -> _Message | None:
    fields = line.split("\t", 6)
    if len(fields) < 7:
        raise ValueError(f"expected 7 tab-separated columns, found {len(fields)}")
    session, _customer, by_agent, transferred, repeat, sku, text = (f.strip() for f in fields)
    if not session:
        raise ValueError("empty session id")
    if by_agent not in ("0", "1"):
        raise ValueError(f"sent-by-agent must be 0 or 1, not {by_agent!r}")
    for label, value in (("transferred", transferred), ("repeat", repeat)):
        if value not in ("0", "1"):
            raise ValueError(f"{label} flag must be 0 or 1, not {value!r}")
    if text.lower() in _NULL_TEXTS:
        return None  # JDDC writes NULL where a side said nothing
    labels: dict[str, Any] = {}
    if transferred == "1":
        labels["handoff"] = True
    if repeat == "1":
        labels["repeat"] = True
    if sku.lower() not in _NULL_TEXTS:
        labels["sku"] = sku
    return _Message(session, "agent" if by_agent == "1" else "customer", text, labels=labels)


def _group(log: ChatLog, messages: list[_Message], shop_id: str | None) -> None:
    """Messages -> conversations (first-appearance order); one side's run becomes one turn."""
    by_conversation: dict[str, list[_Message]] = {}
    for message in messages:
        by_conversation.setdefault(message.conversation_id, []).append(message)
    for conversation_id, group in by_conversation.items():
        if all(m.ts is not None for m in group):
            group.sort(key=lambda m: m.ts or 0.0)  # stable: equal times keep file order
        turns: list[Turn] = []
        for message in group:
            if turns and turns[-1].role == message.role:
                last = turns[-1]
                turns[-1] = Turn(last.role, last.text + TURN_JOINER + message.text, last.ts)
                _merge_labels(log.turn_labels, (conversation_id, len(turns) - 1), message.labels)
                continue
            turns.append(Turn(message.role, message.text, message.ts))
            _merge_labels(log.turn_labels, (conversation_id, len(turns) - 1), message.labels)
        shop = shop_id or group[0].shop_id
        log.conversations.append(Conversation(shop, tuple(turns), conversation_id=conversation_id))


def _merge_labels(labels: dict[TurnKey, dict[str, Any]], key: TurnKey, new: dict[str, Any]) -> None:
    if not new:
        return
    current = labels.setdefault(key, {})
    for name, value in new.items():
        current.setdefault(name, value)  # the first message of the turn wins


# --- CSV -------------------------------------------------------------------------------------


def _read_csv(log: ChatLog, text: str, shop_id: str | None) -> None:
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=_delimiter(text))]
    start = next((i for i, row in enumerate(rows) if any(c.strip() for c in row)), None)
    if start is None:
        return
    columns = _csv_columns(rows[start])
    missing = [name for name in _CSV_REQUIRED if name not in columns]
    if missing:
        wanted = ", ".join(_CSV_HELP[name] for name in missing)
        log.skipped.append(LineError(log.source, start + 1, f"missing column(s): {wanted}"))
        return
    messages = []
    for index in range(start + 1, len(rows)):
        row = rows[index]
        if not any(cell.strip() for cell in row):
            continue
        try:
            message = _csv_message(row, columns)
            if shop_id is not None and message.shop_id not in ("", shop_id):
                raise ValueError(f"belongs to shop {message.shop_id!r}, not {shop_id!r}")
            messages.append(message)
        except ValueError as exc:
            log.skipped.append(LineError(log.source, index + 1, str(exc)))
    _group(log, messages, shop_id)


def _delimiter(text: str) -> str:
    header = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" if header.count("\t") > header.count(",") else ","


def _csv_columns(header: list[str]) -> dict[str, int]:
    aliases = {normalize_header(a): name for name, names in _CSV_FIELDS.items() for a in names}
    found: dict[str, int] = {}
    for position, title in enumerate(header):
        name = aliases.get(normalize_header(title))
        if name is not None and name not in found:
            found[name] = position
    return found


def _csv_message(row: list[str], columns: dict[str, int]) -> _Message:
    def cell(name: str) -> str:
        position = columns.get(name)
        return row[position].strip() if position is not None and position < len(row) else ""

    conversation_id, text = cell("conversation_id"), cell("text")
    if not conversation_id:
        raise ValueError("empty conversation id")
    role = parse_role(cell("role"))
    if role is None:
        raise ValueError(f"sender {cell('role')!r} is neither customer nor agent")
    if not text:
        raise ValueError("empty text")
    labels = {"intent": cell("intent")} if cell("intent") else {}
    return _Message(
        conversation_id, role, text, parse_ts(cell("ts") or None), labels, cell("shop_id")
    )


# --- shared ----------------------------------------------------------------------------------


def parse_role(value: Any) -> SpeakerRole | None:
    """customer/agent and their synonyms; "1"/"0" as JDDC's sent-by-agent flag."""
    if value in (1, "1"):
        return "agent"
    if value in (0, "0"):
        return "customer"
    return _ROLES.get(str(value).strip().lower()) if value is not None else None


def parse_ts(value: Any) -> float | None:
    """Unix seconds (milliseconds when huge) or an ISO date-time; naive times are China time."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"ts {value!r} is not a time")
    if isinstance(value, int | float):
        return float(value) / 1000 if value > 1e11 else float(value)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return number / 1000 if number > 1e11 else number
    try:
        moment = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError as exc:
        raise ValueError(f"time {text!r} is not a unix time or YYYY-MM-DD HH:MM:SS") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    return moment.timestamp()


_READERS: dict[ChatFormat, Callable[[ChatLog, str, str | None], None]] = {
    "jsonl": _read_jsonl,
    "jddc": _read_jddc,
    "csv": _read_csv,
}
