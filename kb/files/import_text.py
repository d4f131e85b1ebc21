"""Text side of importing: the Record every reader produces, encoding sniffing, JSONL, Markdown.

A Record is one would-be entry before validation: its canonical field values plus where each
came from (file, row, column as the file names it), so that `kb.files.importers` can turn an
InvalidEntry into a RowError that points at the exact cell or line.

The Markdown FAQ form is documented in `kb.files.importers`.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any

from kb.errors import RowError
from kb.files.headers import KIND_NAMES, kind_from_value
from kb.types import ENTRY_KINDS, EntryKind

KIND_CHOICES = ", ".join(f"{name}/{kind}" for kind, name in KIND_NAMES.items())


@dataclass
class Record:
    """Field values of one entry-to-be and where each came from, for precise errors."""

    file: str
    row: int
    kind: EntryKind
    values: dict[str, Any]
    columns: dict[str, str] = field(default_factory=dict)  # field -> header as in the file
    rows: dict[str, int] = field(default_factory=dict)  # field -> line, where not `row`
    tabular: bool = False  # from a spreadsheet or CSV: cells as a trainer writes them

    def column_of(self, name: str) -> str:
        return self.columns.get(name, name)

    def row_of(self, name: str) -> int:
        return self.rows.get(name, self.row)


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    # Excel's "Unicode text" export is UTF-16 with a BOM; accepting it costs nothing.
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_text(data: bytes) -> str | None:
    """BOM -> that encoding; else strict UTF-8; else GB18030 (GBK exports); else None."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data[len(bom) :], encoding)
    return _checked(data, "utf-8") or _checked(data, "gb18030")


def _checked(data: bytes, encoding: str) -> str | None:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    # Text never holds NUL, but UTF-16 without a BOM "decodes" as UTF-8/GB18030 full of them.
    return None if "\x00" in text else text


def _lines(text: str) -> list[str]:
    # Not str.splitlines(): it also splits at U+2028, which JSON strings may hold unescaped.
    return [line.rstrip("\r") for line in text.split("\n")]


def read_jsonl(
    name: str, text: str, kind: EntryKind | None, errors: list[RowError]
) -> list[Record]:
    """One codec-form object per line with a "kind" key; blank lines are skipped."""
    records = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(
                RowError(name, number, None, f"not valid JSON: {exc.msg} (at {exc.colno})")
            )
            continue
        if not isinstance(data, dict):
            errors.append(RowError(name, number, None, "each line must be one JSON object {...}"))
            continue
        row_kind = kind or _jsonl_kind(name, number, data.get("kind"), errors)
        if row_kind is not None:
            values = {k: v for k, v in data.items() if k != "kind"}
            records.append(Record(name, number, row_kind, values))
    return records


def _jsonl_kind(name: str, number: int, raw: Any, errors: list[RowError]) -> EntryKind | None:
    if raw is None or str(raw).strip() == "":
        errors.append(RowError(name, number, "kind", f'missing "kind" ({", ".join(ENTRY_KINDS)})'))
        return None
    found = kind_from_value(str(raw))
    if found is None:
        errors.append(RowError(name, number, "kind", f"{raw!r} is not a kind ({KIND_CHOICES})"))
    return found


_TITLE = re.compile(r"^#\s")
_QUESTION = re.compile(r"^(?:##\s+|(?:Q|问)\s*[:：]\s*)(.*)$", re.IGNORECASE)
_ANSWER = re.compile(r"^(?:A|答)\s*[:：]\s*(.*)$", re.IGNORECASE)
_META = re.compile(
    r"^(相似问法|相似问题|alt_questions|商品ID|product_id|意图|intent|ID)\s*[:：]\s*(.*)$",
    re.IGNORECASE,
)
_META_FIELDS = {
    "相似问法": "alt_questions",
    "相似问题": "alt_questions",
    "alt_questions": "alt_questions",
    "商品id": "product_id",
    "product_id": "product_id",
    "意图": "intent",
    "intent": "intent",
    "id": "id",
}


@dataclass
class _Question:
    """A question being read: its line, metadata seen so far, and answer lines."""

    record: Record
    answer: list[str] = field(default_factory=list)
    answer_row: int | None = None

    def add_answer(self, number: int, text: str) -> None:
        if self.answer_row is None and text.strip():
            self.answer_row = number
        self.answer.append(text)

    def finish(self) -> Record:
        self.record.values["answer"] = "\n".join(self.answer).strip()
        if self.answer_row is not None:
            self.record.rows["answer"] = self.answer_row
        return self.record


def read_markdown(name: str, text: str, errors: list[RowError]) -> list[Record]:
    """FAQ in Markdown Q&A form (see kb.files.importers); title and text before the first Q
    ignored."""
    questions: list[_Question] = []
    for number, line in enumerate(_lines(text), start=1):
        stripped = line.strip()
        if (match := _QUESTION.match(stripped)) is not None:
            record = Record(name, number, "faq", {"question": match.group(1).strip()})
            record.columns = {"question": "问题", "answer": "答案"}
            questions.append(_Question(record))
        elif questions and not _TITLE.match(stripped):
            _read_body_line(questions[-1], number, line)
    if not questions:
        errors.append(RowError(name, None, None, "no questions found; start each with '## '"))
    return [q.finish() for q in questions]


def _read_body_line(question: _Question, number: int, line: str) -> None:
    """A metadata line (相似问法: ...) sets a field; anything else is answer text."""
    stripped = line.strip()
    if (meta := _META.match(stripped)) is not None:
        label, value = meta.group(1), meta.group(2).strip()
        name = _META_FIELDS[label.lower()]
        question.record.values[name] = value
        question.record.columns[name] = label
        question.record.rows[name] = number
    elif (answer := _ANSWER.match(stripped)) is not None:
        question.add_answer(number, answer.group(1))
    else:
        question.add_answer(number, line.rstrip())
