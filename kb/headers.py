"""Column headers of import tables: which header means which field, per entry kind.

Trainers write spreadsheets with Chinese or English headers, so every canonical field (the
names `kb.codec.entry_from_dict` takes) has a list of accepted headers. The mapping is per
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
        "id": ("商品ID", "product_id", "id", "编号"),
        "title": ("名称", "商品名称", "标题", "title"),
        "price": ("价格", "售价", "price"),
        "variants": ("规格", "specs", "variants"),
        "selling_points": ("卖点", "selling_points"),
        "usage_notes": ("使用说明", "注意事项", "usage_notes"),
        "in_stock": ("库存", "是否有货", "in_stock", "stock"),
        "related": ("关联商品", "related"),
        "category": ("类目", "分类", "category"),
    },
    "faq": {
        "id": _ID,
        "question": ("问题", "标准问题", "question"),
        "answer": ("答案", "回答", "answer"),
        "alt_questions": ("相似问法", "相似问题", "alt_questions"),
        "product_id": ("商品ID", "product_id"),
        "intent": ("意图", "intent"),
    },
    "policy": {
        "id": _ID,
        "topic": ("类别", "政策类型", "topic"),
        "title": ("标题", "名称", "title"),
        "content": ("内容", "政策内容", "content"),
    },
    "promotion": {
        "id": _ID,
        "title": ("活动名称", "名称", "标题", "title"),
        "rule": ("规则", "优惠规则", "rule"),
        "product_ids": ("适用商品", "商品ID", "product_ids"),
        "starts": ("开始时间", "开始", "starts", "start"),
        "ends": ("结束时间", "结束", "ends", "end"),
        "description": ("说明", "描述", "description"),
    },
    "script": {
        "id": _ID,
        "intent": ("意图", "intent"),
        "title": ("场景", "标题", "title"),
        "text": ("话术", "内容", "text"),
    },
}

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
    ("商品", "product"),
    ("产品", "product"),
    ("product", "product"),
)

_ANNOTATION = re.compile(r"\s*(\([^()]*\)|\*)\s*$")
_SEPARATORS = re.compile(r"[\s\-]+")


def normalize_header(text: str) -> str:
    """'价格（元）' -> '价格', ' Product ID ' -> 'product_id', '问题*' -> '问题'."""
    value = unicodedata.normalize("NFKC", text).strip().lower()
    value = _ANNOTATION.sub("", value)
    return _SEPARATORS.sub("_", value.strip())


_NORMALIZED: dict[EntryKind, dict[str, str]] = {
    kind: {normalize_header(alias): name for name, aliases in fields.items() for alias in aliases}
    for kind, fields in FIELD_ALIASES.items()
}


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
        name = _NORMALIZED[kind].get(normalize_header(header))
        if name is not None:
            columns.setdefault(name, []).append(index)
    return columns


def kind_column(headers: Sequence[str]) -> int | None:
    """Index of the 类型/kind column, if the table has one."""
    wanted = {normalize_header(h) for h in KIND_HEADERS}
    return next((i for i, h in enumerate(headers) if normalize_header(h) in wanted), None)


def kind_from_value(value: str) -> EntryKind | None:
    """'问答' / 'FAQ' / 'faq' -> 'faq'; None when the value names no kind."""
    return _KIND_VALUES.get(normalize_header(value))


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
    if has("promotion", "rule"):
        return "promotion"
    # 内容 is both a script's text and a policy's content; only 话术/text says script.
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
