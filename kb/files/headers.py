"""Column headers of import tables: which header means which field, per entry kind.

Trainers write spreadsheets with Chinese or English headers, so every canonical field (the
names `kb.files.codec.entry_from_dict` takes) has a list of accepted headers. The mapping is per
kind because one header can mean different things: 商品ID is a product's own id but, in an
FAQ table, the product the question is about.

Headers are compared after `normalize_header`: NFKC (full-width letters, colons and
parentheses become half-width), lower-cased, trimmed, a trailing annotation such as （元） or
a required-marker * dropped, inner spaces and hyphens turned into '_'.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from kb.types import ENTRY_KINDS, EntryKind

_ID = ("ID", "id", "编号")

# canonical field -> accepted headers; the first Chinese alias is what exports write.
FIELD_ALIASES: dict[EntryKind, dict[str, tuple[str, ...]]] = {
    "product": {
        "id": ("商品ID", "product_id", "id", "编号", "货号", "商品编码", "商品编号", "编码",
               "产品编号", "产品ID", "sku"),
        "title": ("名称", "商品名称", "标题", "title", "品名", "产品名", "产品名称", "商品名",
                  "商品标题", "产品标题", "宝贝标题", "宝贝名称"),
        "price": ("价格", "售价", "price", "日常价", "单价", "零售价", "原价"),
        "variants": ("规格", "specs", "variants", "规格/容量", "颜色/规格", "规格型号", "颜色",
                     "尺码", "口味", "款式"),
        "selling_points": ("卖点", "selling_points", "主要卖点", "产品卖点", "亮点"),
        "usage_notes": ("使用说明", "注意事项", "usage_notes", "备注", "注意事项/配件",
                        "使用方法"),
        "in_stock": ("库存", "是否有货", "in_stock", "stock", "库存情况", "库存状态"),
        "related": ("关联商品", "related"),
        "category": ("类目", "分类", "category"),
    },
    "faq": {
        "id": _ID,
        "question": ("问题", "标准问题", "question", "客户问题", "客户问", "顾客问题", "顾客问",
                     "q", "常见问题", "顾客常问", "客户常问", "常问问题", "买家问题"),
        "answer": ("答案", "回答", "answer", "标准回复", "怎么回", "参考回复", "回复", "答复",
                   "a", "标准答案", "回复话术", "回复参考", "参考答案"),
        "alt_questions": ("相似问法", "相似问题", "alt_questions"),
        "product_id": ("商品ID", "product_id"),
        "intent": ("意图", "intent"),
    },
    "policy": {
        "id": _ID,
        "topic": ("类别", "政策类型", "topic"),
        "title": ("标题", "名称", "title", "政策", "政策名称", "售后政策", "项目", "类型"),
        "content": ("内容", "政策内容", "content", "具体规则", "规定", "规则", "说明",
                    "详细说明", "具体政策", "政策说明", "规则说明"),
    },
    "promotion": {
        "id": _ID,
        "title": ("活动名称", "名称", "标题", "title", "活动", "活动主题", "活动名"),
        "rule": ("规则", "优惠规则", "rule", "活动内容", "优惠内容", "内容", "怎么玩", "优惠方式",
                 "玩法", "优惠", "力度", "优惠力度", "活动力度"),
        "product_ids": ("适用商品", "商品ID", "product_ids", "参与商品", "参加的商品", "商品",
                        "活动商品", "适用范围", "范围"),
        "starts": ("开始时间", "开始", "starts", "start", "开始日期"),
        "ends": ("结束时间", "结束", "ends", "end", "截止日期", "截止时间", "结束日期"),
        # one cell for both (12.1-12.12): kb.files.promotion_cells.split_period reads it
        "period": ("活动时间", "时间", "日期", "活动日期", "活动期间", "时间段", "有效期",
                   "活动周期", "起止时间"),
        "description": ("说明", "描述", "description", "注意", "备注"),
    },
    "script": {
        "id": _ID,
        "intent": ("意图", "intent"),
        "title": ("场景", "标题", "title", "使用场景", "场景名称"),
        "text": ("话术", "内容", "text", "话术内容", "回复内容"),
    },
}  # fmt: skip

# Fields read from a trainer's sheet and turned into others (a period into starts and ends):
# exports write the fields they became.
IMPORT_ONLY_FIELDS = frozenset({"period"})

# Headers in a trainer's own words, by what they end or start with, when no alias matches.
_WORDED: dict[EntryKind, tuple[tuple[str, re.Pattern[str]], ...]] = {
    "faq": (
        ("question", re.compile(r"(?:怎么问|问法|问题|顾客问|客户问|买家问)$")),
        ("answer", re.compile(r"^(?:怎么回|如何回|回复|回答|答复|答案|参考回|标准回)")),
    ),
    "policy": (("content", re.compile(r"^(?:具体|详细)(?:说明|规则|内容|规定)$")),),
    "promotion": (
        ("product_ids", re.compile(r"^(?:哪些|什么|适用|参与|参加)\S{0,2}(?:商品|产品|范围)$")),
    ),
}

# Columns that only number the rows: never a field, never a product fact.
ROW_NUMBER_HEADERS = frozenset(("序号", "no", "no.", "#", "行号"))

REQUIRED_FIELDS: dict[EntryKind, tuple[str, ...]] = {
    "product": ("id", "title", "price"),
    "faq": ("question", "answer"),
    "policy": ("title", "content"),
    "promotion": ("title", "rule"),
    "script": ("text",),
}

KIND_HEADERS = ("类型", "kind")

# Chinese display name of each kind: the 类型 value and the sheet name exports write.
KIND_NAMES: dict[EntryKind, str] = {
    "product": "商品",
    "faq": "问答",
    "policy": "政策",
    "promotion": "活动",
    "script": "话术",
}

# Values accepted in a 类型/kind cell (exact match after normalizing).
_KIND_VALUES: dict[str, EntryKind] = {
    **{kind: kind for kind in ENTRY_KINDS},
    **{name: kind for kind, name in KIND_NAMES.items()},
    "products": "product",
    "产品": "product",
    "faqs": "faq",
    "常见问题": "faq",
    "policies": "policy",
    "促销": "promotion",
    "promotions": "promotion",
    "scripts": "script",
}

# Words in a sheet name that imply its kind. Checked in this order, most specific first, so
# that "商品问答" is FAQ about products and "商品活动" a promotion, not a product list.
_SHEET_WORDS: tuple[tuple[str, EntryKind], ...] = (
    ("问答", "faq"),
    ("faq", "faq"),
    ("常见问题", "faq"),
    ("话术", "script"),
    ("script", "script"),
    ("政策", "policy"),
    ("polic", "policy"),
    ("活动", "promotion"),
    ("促销", "promotion"),
    ("promotion", "promotion"),
    ("售后", "policy"),  # 售后&发货规则: its 规则 column is a policy's content, not a deal
    ("发货", "policy"),
    ("商品", "product"),
    ("产品", "product"),
    ("product", "product"),
)

_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_ANNOTATION = re.compile(r"\s*(\([^()]*\)|\*)\s*$")
_SEPARATORS = re.compile(r"[\s\-]+")


def normalize_header(text: str) -> str:
    """'价格（元）' -> '价格', ' Product ID ' -> 'product_id', '问题*' -> '问题', '商品⏎名称' ->
    '商品名称' (a line break typed inside a Chinese header)."""
    value = unicodedata.normalize("NFKC", text).strip().lower()
    value = _CJK_GAP.sub("", value)
    value = _ANNOTATION.sub("", value)
    return _SEPARATORS.sub("_", value.strip())


_NORMALIZED: dict[EntryKind, dict[str, str]] = {
    kind: {normalize_header(alias): name for name, aliases in fields.items() for alias in aliases}
    for kind, fields in FIELD_ALIASES.items()
}
_KIND_HEADER_NAMES = frozenset(normalize_header(h) for h in KIND_HEADERS)


def display_name(kind: EntryKind, field: str) -> str:
    """The first Chinese header of a field: what exports write and errors show."""
    aliases = FIELD_ALIASES[kind][field]
    return next((a for a in aliases if not a.isascii()), aliases[0])


def describe_field(kind: EntryKind, field: str) -> str:
    """'答案 (answer; also 回答)': both languages, as error messages show a column."""
    shown = display_name(kind, field)
    others = [a for a in FIELD_ALIASES[kind][field] if a != shown and a.lower() != field]
    also = f"; also {', '.join(others)}" if others else ""
    return f"{shown} ({field}{also})"


def field_columns(kind: EntryKind, headers: Sequence[str]) -> dict[str, list[int]]:
    """Canonical field -> indexes of the columns that hold it, in file order."""
    columns: dict[str, list[int]] = {}
    for index, header in enumerate(headers):
        name = field_of(kind, header)
        if name is not None:
            columns.setdefault(name, []).append(index)
    return columns


def fields_named(kind: EntryKind, header: str) -> list[str]:
    """Every field a compound header names: 规格/颜色/价格 holds the specs and their prices."""
    parts = [normalize_header(p) for p in re.split(r"[/／&＆、]", header) if p.strip()]
    known = _NORMALIZED[kind]
    return list(dict.fromkeys(known[p] for p in parts if p in known))


def field_of(kind: EntryKind, header: str) -> str | None:
    """The field a header names; a trainer's compound header (规格/尺寸, 注意事项 / 配件) by
    its first part that names one; a header in the trainer's own words (顾客一般怎么问, 具体说明)
    by the words it ends or starts with."""
    known = _NORMALIZED[kind]
    name = normalize_header(header)
    if name in known:
        return known[name]
    parts = [normalize_header(p) for p in re.split(r"[/／&＆、]", header) if p.strip()]
    found = next((known[p] for p in parts if p in known), None)
    if found is None and name:
        found = next((f for f, words in _WORDED.get(kind, ()) if words.search(name)), None)
    return found


def kind_column(headers: Sequence[str], rows: Sequence[Sequence[str]] = ()) -> int | None:
    """Index of the 类型/kind column, if the table has one: a column so headed whose cells
    mostly name kinds (a policy sheet's 类型 column holds 7天无理由退换, not kinds)."""
    wanted = {normalize_header(h) for h in KIND_HEADERS}
    for index, header in enumerate(headers):
        if normalize_header(header) not in wanted:
            continue
        values = [r[index].strip() for r in rows if index < len(r) and r[index].strip()]
        kinds = sum(1 for v in values if kind_from_value(v))
        if not values or kinds * 2 >= len(values):
            return index
    return None


def known_header(header: str) -> bool:
    """The header names a field of some kind, or the kind column (for finding the header row)."""
    if normalize_header(header) in _KIND_HEADER_NAMES:
        return True
    return any(field_of(kind, header) is not None for kind in ENTRY_KINDS)


def kind_from_value(value: str) -> EntryKind | None:
    """'问答' / 'FAQ' / 'faq' -> 'faq'; None when the value names no kind."""
    return _KIND_VALUES.get(normalize_header(value))


# Sheets a trainer keeps beside the knowledge: a change log, notes, a table of contents.
_NOT_KNOWLEDGE = re.compile(r"更新记录|修改记录|变更|日志|目录|readme|changelog|版本记录|填写说明")


def knowledge_sheet(name: str) -> bool:
    """False for a change log, notes or contents sheet: it holds no entries."""
    return not _NOT_KNOWLEDGE.search(unicodedata.normalize("NFKC", name).lower())


def kind_from_sheet(name: str) -> EntryKind | None:
    """A sheet named 商品 / Products / 问答FAQ ... implies the kind of its rows."""
    lowered = unicodedata.normalize("NFKC", name).lower()
    return next((kind for word, kind in _SHEET_WORDS if word in lowered), None)


def kind_from_headers(headers: Sequence[str]) -> EntryKind | None:
    """Guess a table's kind from its signature headers; None when they fit no kind.

    One signature header is enough (问题 alone says FAQ), so that a table missing a required
    column is reported as exactly that rather than as "cannot tell the kind".
    """
    normalized = {normalize_header(h) for h in headers}

    def has(kind: EntryKind, *fields: str) -> bool:
        return all(f in field_columns(kind, headers) for f in fields)

    if has("faq", "question") or has("faq", "answer"):
        return "faq"
    named_product = bool(normalized & {"商品id", "product_id"}) and has("product", "title")
    if has("product", "price") or named_product:
        return "product"
    rules = field_columns("promotion", headers).get("rule", [])
    if any(normalize_header(headers[i]) != "内容" for i in rules):  # 内容 alone: see below
        return "promotion"
    # 内容 is a script's text, a policy's content and, on a sheet named 活动, a promotion's
    # rule; without the sheet's name only 话术/text says script.
    if normalized & {"话术", "text"}:
        return "script"
    if has("policy", "content"):
        return "policy"
    return None


def required_headers_help() -> str:
    """One line per kind naming its required headers, for 'cannot tell the kind' errors."""
    parts = []
    for kind in ENTRY_KINDS:
        names = ", ".join(f"{display_name(kind, f)}/{f}" for f in REQUIRED_FIELDS[kind])
        parts.append(f"{KIND_NAMES[kind]} ({kind}): {names}")
    return "; ".join(parts)
