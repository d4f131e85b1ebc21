"""Labelled intent examples: example files (JSONL, CSV/TSV) and the Redis store that
`copilot intents train` fills; the classifier (copilot.intents.classifier) learns from both."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from copilot.errors import IntentDataError, LineError
from copilot.intents.rules import INTENTS

if TYPE_CHECKING:
    import redis

# ---------------------------------------------------------------- labelled example files


@dataclass(frozen=True)
class LabelledExample:
    text: str
    label: str


_Row = tuple[int, "dict[str, str] | str"]  # (line, fields or the problem)
_HEADERS = {"text": ("text", "文本", "问题", "消息"), "label": ("label", "intent", "意图", "标签")}


def load_examples(path: Path | str) -> list[LabelledExample]:
    """Labelled examples from JSONL ({"text", "label"}) or CSV/TSV (text,label / 文本,意图).

    All problems are collected; IntentDataError lists each with its file and line.
    """
    path = Path(path)
    tabular = path.suffix.lower() in {".csv", ".tsv"}
    try:
        data = path.read_bytes()
        # Chinese Excel saves CSV as GBK/GB18030; JSONL is always UTF-8.
        raw = _decode(data) if tabular else data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IntentDataError([LineError(path.name, None, f"cannot read: {exc}")]) from exc
    rows = _table_rows(raw, path.suffix.lower() == ".tsv") if tabular else _jsonl_rows(raw)
    examples, errors = [], []
    for line, row in rows:
        problem = row if isinstance(row, str) else _problem(row)
        if problem:
            errors.append(LineError(path.name, line, problem))
        elif isinstance(row, dict):
            examples.append(LabelledExample(row["text"].strip(), row["label"].strip()))
    if not errors and not examples:
        errors.append(LineError(path.name, None, "no examples found"))
    if errors:
        raise IntentDataError(errors)
    return examples


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _problem(row: dict[str, str]) -> str:
    if not row.get("text", "").strip():
        return "text must not be empty"
    label = row.get("label", "").strip()
    return "" if label in INTENTS else f"unknown intent label {label!r}"


def _jsonl_rows(raw: str) -> list[_Row]:
    rows: list[_Row] = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((number, f"not valid JSON: {exc.msg}"))
            continue
        if not isinstance(data, dict):
            rows.append((number, "expected a JSON object"))
            continue
        rows.append((number, {key: str(data.get(key) or "") for key in _HEADERS}))
    return rows


def _table_rows(raw: str, tabs: bool) -> list[_Row]:
    reader = csv.reader(io.StringIO(raw), dialect="excel-tab" if tabs else "excel")
    header = [cell.strip().lower() for cell in next(reader, [])]
    where = {
        key: next((header.index(n) for n in names if n in header), -1)
        for key, names in _HEADERS.items()
    }
    if min(where.values()) < 0:
        return [(1, "the header must name the columns text,label (or 文本,意图)")]
    rows: list[_Row] = []
    for number, cells in enumerate(reader, 2):
        if any(cell.strip() for cell in cells):
            rows.append(
                (number, {key: cells[i] if i < len(cells) else "" for key, i in where.items()})
            )
    return rows


# ---------------------------------------------------------------- the example store


class IntentExampleStore:
    """Examples added with `copilot intents train`, in Redis: hashes text -> label under
    intents:examples:_global and intents:examples:{shop}; the same text again relabels it."""

    PREFIX = "intents:examples:"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def _key(self, shop_id: str | None) -> str:
        return self.PREFIX + (shop_id or "_global")

    def add(self, shop_id: str | None, examples: Iterable[LabelledExample]) -> int:
        mapping = {e.text: e.label for e in examples}
        if mapping:
            self.client.hset(self._key(shop_id), mapping=mapping)  # type: ignore[arg-type]
        return len(mapping)

    def all(self, shop_id: str | None) -> list[LabelledExample]:
        """Exactly the examples stored for this shop (None: the global ones)."""
        stored: dict[bytes | str, bytes | str] = self.client.hgetall(self._key(shop_id))  # type: ignore[assignment]
        return [LabelledExample(_str(t), _str(label)) for t, label in sorted(stored.items())]

    def shops(self) -> list[str]:
        names = (_str(key)[len(self.PREFIX) :] for key in self.client.scan_iter(self.PREFIX + "*"))
        return sorted(name for name in names if name != "_global")


def _str(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def train_from_file(store: IntentExampleStore, path: Path | str, shop_id: str | None = None) -> int:
    """`copilot intents train FILE [--shop S]`: validate the whole file, then store it."""
    return store.add(shop_id, load_examples(path))
