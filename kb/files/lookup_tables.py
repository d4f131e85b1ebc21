"""A lookup sheet in no kind's headers: which car models a floor mat is cut for, which phones a
case fits, which refills a pen takes.

    脚垫版型表
    品牌 | 车型               | 年份       | 有无版型 | 备注
    大众 | 朗逸（含朗逸Plus） | 2018款至今 | 有       | 朗逸纯电没有

Each row becomes one FAQ, asked by the row's keys (every column but the last answering one and
the remarks) under the sheet's name, answered by the row as a trainer reads it: "大众 朗逸（含朗逸
Plus） 2018款至今，有无版型：有（朗逸纯电没有）". Nothing is inferred: a customer's 2019 朗逸 is
matched to "2018款至今" by the agent, not here.

Only a workbook sheet with three named columns or more, in headers that name no entry's
fields, is read so: a two-column sheet under headers we do not know is more likely a FAQ sheet
with its headers misnamed, and its trainer gets the error that says which headers to use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kb.files.headers import known_header
from kb.files.import_text import Record

MIN_COLUMNS = 3
_REMARK = re.compile(r"备注|说明|注意|提示|remark|note", re.IGNORECASE)


def is_lookup_table(sheet: str | None, headers: Sequence[str]) -> bool:
    """Three named columns or more, at most one of them a field we know (备注): a sheet whose
    headers name an entry's fields (商品编码, 商品标题) is an entry sheet missing its kind, and
    its trainer gets that error rather than a page of made-up questions."""
    named = [h for h in headers if h.strip() and not h.strip().isdigit()]
    fields = sum(1 for h in named if known_header(h))
    return sheet is not None and len(named) >= MIN_COLUMNS and fields <= 1


def lookup_records(
    label: str, sheet: str, headers: Sequence[str], rows: Sequence[tuple[int, list[str]]]
) -> list[Record]:
    """One FAQ record per row that has a key and something said of it."""
    columns = [i for i, h in enumerate(headers) if h.strip()]
    remarks = [i for i in columns if _REMARK.search(headers[i])]
    answering = [i for i in columns if i not in remarks]
    if len(answering) < 2:
        return []
    value_column = answering[-1]
    keys = answering[:-1]
    records = []
    for number, cells in rows:
        key = " ".join(_cell(cells, i) for i in keys if _cell(cells, i))
        value = _cell(cells, value_column)
        said = [_cell(cells, i) for i in remarks if _cell(cells, i)]
        if not key or not (value or said):
            continue
        answer = f"{key}，{headers[value_column].strip()}：{value}" if value else key
        if said:
            answer += f"（{'，'.join(said)}）" if value else f"：{'，'.join(said)}"
        values = {"question": f"{sheet.strip()} {key}", "answer": answer}
        record = Record(label, number, "faq", values, tabular=True)
        record.columns = {"question": headers[keys[0]], "answer": headers[value_column]}
        records.append(record)
    return records


def _cell(cells: Sequence[str], index: int) -> str:
    return " ".join(cells[index].split()) if index < len(cells) else ""
