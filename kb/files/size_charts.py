"""A size chart sheet (尺码表): the sizes each product comes in, by height, weight, chest or foot.

Clothing and outdoor shops keep one beside their products, in no kind's headers:

    品类                          | 尺码 | 身高      | 体重      | 备注
    SY-JK01 男款（DN02、TS01同）   | M    | 165-170cm | 110-130斤 |
                                  | L    | 170-175cm | 130-145斤 |
    鞋码（SH01 偏小半码→拍大一码）
    鞋码 | 脚长(mm)
    35码 | 225

Each group (a label in the first column, the rows under it until the next label; or a note
row above a header of its own) becomes one FAQ: "SY-JK01 男款（DN02、TS01同）尺码表" answered
"M：身高165-170cm，体重110-130斤；L：…". A note alone on its row (羊毛袜 SY-SK01：M码=35-39)
is an FAQ of its own. Nothing is invented: a bare measure gets the unit its header gives
(脚长(mm)), or cm for a length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kb.files.headers import normalize_header
from kb.files.import_text import Record

_SIZE_HEADERS = frozenset(
    {"尺码", "码数", "鞋码", "尺寸", "码", "size", "号码", "型号", "号数", "圈号", "戒圈"}
)
# what a chart's columns measure in lengths (cm unless said), and with weight, all it measures
_LENGTH_WORDS = (
    "身高|胸围|腰围|臀围|脚长|肩宽|衣长|裤长|袖长|头围|颈围|脚宽|周长|内径|直径|手围|腕围"
)
_LENGTHS = re.compile(_LENGTH_WORDS)
_MEASURE = re.compile(f"体重|{_LENGTH_WORDS}")
_BARE = re.compile(r"^\d+(?:\.\d+)?(?:\s*[-~～至]\s*\d+(?:\.\d+)?)?$")
_UNIT_NOTE = re.compile(r"[（(]\s*(mm|cm|kg|斤|厘米|毫米)\s*[)）]", re.IGNORECASE)


@dataclass
class _Layout:
    size: int
    measures: list[tuple[int, str]]  # column, header
    notes: list[int]
    label: int | None


@dataclass
class _Group:
    label: str
    row: int
    lines: list[str] = field(default_factory=list)


def is_size_chart(headers: Sequence[str]) -> bool:
    return _layout(headers) is not None


def size_chart_records(
    label: str,
    headers: Sequence[str],
    rows: Sequence[tuple[int, list[str]]],
    sheet: str | None = None,
) -> list[Record]:
    """The chart's groups as FAQ records (see the module docstring); a chart with no label of
    its own is asked by its sheet's name (戒指尺码表)."""
    untitled = sheet.strip() if sheet and "尺码" in sheet else "尺码"
    layout = _layout(headers)
    if layout is None:
        return []
    groups: list[_Group] = []
    pending_note = ""
    for number, cells in rows:
        filled = [c.strip() for c in cells if c.strip()]
        if len(filled) == 1 and not _size_cell(cells, layout):
            pending_note = filled[0]
            groups.append(_Group(pending_note, number))
            continue
        if not any(re.search(r"\d", c) for c in filled):  # a chart of its own: 鞋码 | 脚长(mm)
            layout = _layout(cells) or layout
            if not (groups and groups[-1].label == pending_note and not groups[-1].lines):
                groups.append(_Group(pending_note or "、".join(filled), number))
            continue
        named = _cell(cells, layout.label) if layout.label is not None else ""
        if named or not groups:
            groups.append(_Group(named or pending_note or untitled, number))
        line = _line(cells, layout)
        if line:
            groups[-1].lines.append(line)
    return [_record(label, g) for g in groups if g.lines or len(g.label) > 12]


def _layout(headers: Sequence[str]) -> _Layout | None:
    names = [normalize_header(h) for h in headers]
    sizes = [i for i, n in enumerate(names) if n in _SIZE_HEADERS]
    measures = [(i, h.strip()) for i, h in enumerate(headers) if _MEASURE.search(h)]
    if not sizes or not measures:
        return None
    size = sizes[0]
    used = {size, *(i for i, _ in measures)}
    label = 0 if size > 0 and 0 not in used else None
    notes = [i for i in range(len(headers)) if i not in used and i != label and headers[i]]
    return _Layout(size, measures, notes, label)


def _size_cell(cells: Sequence[str], layout: _Layout) -> bool:
    return bool(_cell(cells, layout.size))


def _line(cells: Sequence[str], layout: _Layout) -> str:
    size = _cell(cells, layout.size)
    if not size:
        return ""
    parts = []
    for index, header in layout.measures:
        value = _cell(cells, index)
        named = _MEASURE.search(header)
        if value and named is not None:
            parts.append(f"{named.group(0)}{_with_unit(value, header)}")
    notes = [_cell(cells, i) for i in layout.notes if _cell(cells, i)]
    line = f"{size}：{'，'.join(parts)}" if parts else size
    return f"{line}（{'，'.join(notes)}）" if notes else line


def _with_unit(value: str, header: str) -> str:
    """225 under 脚长(mm) is 225mm; 165-170 under 身高 is 165-170cm; 110-130斤 stays."""
    if not _BARE.match(value):
        return value
    stated = _UNIT_NOTE.search(header)
    if stated:
        return value + stated.group(1)
    return value + ("cm" if _LENGTHS.search(header) else "")


def _cell(cells: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _record(label: str, group: _Group) -> Record:
    if group.lines:
        question = group.label if group.label.endswith("尺码表") else f"{group.label} 尺码表"
        answer = "；".join(group.lines)
    else:  # a note alone: 羊毛袜 SY-SK01：M码=35-39，L码=40-45
        head, _, _ = re.split(r"[：:]", group.label, maxsplit=1)[0].partition("（")
        question, answer = f"{head.strip()} 尺码", group.label
    values = {"question": question, "answer": answer}
    record = Record(label, group.row, "faq", values, tabular=True)
    record.columns = {"question": "尺码", "answer": "尺码"}
    return record
