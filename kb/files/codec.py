"""Entries to plain dicts and back, with validation that names the failing field.

The dict form is the JSONL import/export format and what Redis stores. Values may arrive as
spreadsheet strings ("a|b", "是", "89.00"), so parsing is lenient in form and strict in meaning:
a price that is not a number, an empty answer or an unknown kind raise InvalidEntry(field, ...).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from kb.errors import InvalidEntry
from kb.types import (
    ENTRY_KINDS,
    FAQ,
    Entry,
    EntryKind,
    Policy,
    Product,
    Promotion,
    PromotionRule,
    Script,
    Variant,
)

_LIST_SEPARATORS = re.compile(r"\s*[|｜]\s*")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
# a stock column ticked or crossed (√ / ×) says the same as 有货 / 缺货
_TRUE = {"1", "true", "yes", "y", "是", "有", "有货", "在售", "现货", "√", "✓", "✔"}
_FALSE = {"0", "false", "no", "n", "否", "无", "无货", "缺货", "售罄", "下架", "×", "✗", "✘", "x"}


def split_list(value: Any) -> tuple[str, ...]:
    """'a|b｜c' or ['a', 'b'] -> ('a', 'b', 'c'); empty parts dropped."""
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(p for p in _LIST_SEPARATORS.split(str(value).strip()) if p)


def _text(data: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    raw = data.get(name)
    value = "" if raw is None else str(raw).strip()
    if required and not value:
        raise InvalidEntry(name, "must not be empty")
    return value


def parse_money(value: Any, field: str) -> Decimal:
    text = str(value).strip().replace("¥", "").replace("￥", "").replace("元", "").replace(",", "")
    try:
        money = Decimal(text)
    except InvalidOperation:
        raise InvalidEntry(field, f"{value!r} is not a number (write e.g. 89 or 89.90)") from None
    if not money.is_finite() or money < 0:
        raise InvalidEntry(field, f"{value!r} must be a non-negative number")
    return (
        money.quantize(Decimal("0.01")).normalize()
        if money != money.to_integral()
        else money.quantize(Decimal("1"))
    )


def parse_bool(value: Any, field: str, default: bool) -> bool:
    if value is None or str(value).strip() == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidEntry(field, f"{value!r} is not yes/no (write 是/否, 有货/缺货, true/false)")


def parse_date(value: Any, field: str) -> date | None:
    if value is None or str(value).strip() == "":
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()[:10].replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidEntry(field, f"{value!r} is not a date (write 2026-11-11)") from None


def parse_variants(value: Any) -> tuple[Variant, ...]:
    """'500ml|750ml=109' or [{'name': '750ml', 'price': 109}] -> Variants (price overrides base)."""
    if isinstance(value, list | tuple) and value and isinstance(value[0], Mapping):
        return tuple(
            Variant(
                str(v["name"]).strip(),
                None if v.get("price") in (None, "") else parse_money(v["price"], "variants"),
            )
            for v in value
        )
    variants = []
    for part in split_list(value):
        name, sep, price = part.partition("=")
        variants.append(Variant(name.strip(), parse_money(price, "variants") if sep else None))
    return tuple(variants)


_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_DIGIT_RUN = re.compile(rf"[{''.join(_CN_DIGITS)}]+(?=[件折])")
_NUM = r"(\d+(?:\.\d+)?)"
_RULE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"满{_NUM}件.*?{_NUM}折"), "items_percent"),
    (re.compile(rf"(?:券|优惠券).*?满{_NUM}(?:元)?减{_NUM}|满{_NUM}(?:元)?减{_NUM}.*券"), "coupon"),
    (re.compile(rf"满{_NUM}(?:元)?减{_NUM}"), "threshold"),
    (re.compile(rf"(?:立减|直降|减){_NUM}"), "direct"),
    (re.compile(rf"{_NUM}折"), "percent"),
)


def _discount_multiplier(digits: str, rule: str, field: str) -> Decimal:
    """'8' -> 0.8, '8.5' -> 0.85, '95' -> 0.95 (Chinese 折 notation); 10折 and 0折 are refused."""
    value = Decimal(digits)
    multiplier = value / 100 if value > 10 else value / 10
    if not Decimal(0) < multiplier < Decimal(1):
        raise InvalidEntry(field, f"{rule!r}: a discount must be between 0 and 10 折")
    return multiplier


# Conditions our arithmetic does not model: a bundle (面霜+精华同时购买), buying N of a thing to
# get the reduction (拍2袋立减20), a gift, a second item at half price, several offers in one cell.
_NOT_COMPUTED = re.compile(r"同时购买|搭配|[+＋]|任一|拍\d|买\d|第二|送|赠|[；;]|秒杀价|到手价")


def parse_rule(text: str, field: str = "rule") -> PromotionRule:
    """Parse 满199减20, 满2件9折, 8折, 立减10元, 店铺券满100减10 into a PromotionRule; any other
    wording is a rule of type "other" (promotion math leaves it out)."""
    # Whole runs: 八五折 is 85折 (0.85), not 八 + 5折.
    normalized = _CN_DIGIT_RUN.sub(
        lambda m: "".join(str(_CN_DIGITS[c]) for c in m.group(0)), text.strip()
    )
    for pattern, rule_type in _RULE_PATTERNS:
        match = pattern.search(normalized)
        if not match:
            continue
        if rule_type in ("direct", "percent") and _NOT_COMPUTED.search(normalized):
            return PromotionRule("other")  # a price cut under a condition we do not model
        groups = [g for g in match.groups() if g is not None]
        if rule_type == "items_percent":
            return PromotionRule(
                "percent",
                min_items=int(Decimal(groups[0])),
                percent=_discount_multiplier(groups[1], text, field),
            )
        if rule_type in ("coupon", "threshold"):
            threshold, amount = Decimal(groups[0]), Decimal(groups[1])
            if amount >= threshold:
                raise InvalidEntry(
                    field, f"{text!r}: the discount must be smaller than the threshold"
                )
            return PromotionRule(
                "coupon" if rule_type == "coupon" else "threshold",
                threshold=threshold,
                amount=amount,
            )
        if rule_type == "direct":
            return PromotionRule("direct", amount=Decimal(groups[0]))
        return PromotionRule("percent", percent=_discount_multiplier(groups[0], text, field))
    if not text.strip():
        raise InvalidEntry(field, "must not be empty")
    # A trainer's own wording (第二件半价, 秒杀价59.9元): kept and listed, never computed.
    return PromotionRule("other")


def derive_id(kind: EntryKind, key: str) -> str:
    """A stable id from an entry's identifying text, so re-importing a file updates in place."""
    return f"{kind}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:10]}"


def _entry_id(data: Mapping[str, Any], kind: EntryKind, key: str) -> str:
    given = _text(data, "id")
    if not given:
        return derive_id(kind, key)
    if not _ID_PATTERN.match(given):
        raise InvalidEntry("id", f"{given!r}: use letters, digits, '-', '_', '.', ':' (at most 64)")
    return given


def entry_from_dict(shop_id: str, data: Mapping[str, Any], kind: str | None = None) -> Entry:
    """Build and validate an entry; raises InvalidEntry naming the field at fault."""
    kind = kind or _text(data, "kind")
    if kind not in ENTRY_KINDS:
        raise InvalidEntry("kind", f"{kind!r} is not one of {', '.join(ENTRY_KINDS)}")
    builder = _BUILDERS[kind]
    return builder(shop_id, data)


def _product(shop_id: str, data: Mapping[str, Any]) -> Product:
    product_id = _text(data, "id", required=True)
    if not _ID_PATTERN.match(product_id):
        raise InvalidEntry(
            "id", f"{product_id!r}: use letters, digits, '-', '_', '.', ':' (at most 64)"
        )
    if data.get("price") in (None, ""):
        raise InvalidEntry("price", "must not be empty")
    return Product(
        shop_id=shop_id,
        id=product_id,
        title=_text(data, "title", required=True),
        price=parse_money(data["price"], "price"),
        variants=parse_variants(data.get("variants")),
        selling_points=split_list(data.get("selling_points")),
        usage_notes=_text(data, "usage_notes"),
        in_stock=parse_bool(data.get("in_stock"), "in_stock", default=True),
        related=split_list(data.get("related")),
        category=_text(data, "category"),
    )


def _faq(shop_id: str, data: Mapping[str, Any]) -> FAQ:
    question = _text(data, "question", required=True)
    return FAQ(
        shop_id=shop_id,
        id=_entry_id(data, "faq", question),
        question=question,
        answer=_text(data, "answer", required=True),
        alt_questions=split_list(data.get("alt_questions")),
        product_id=_text(data, "product_id") or None,
        intent=_text(data, "intent"),
    )


def _policy(shop_id: str, data: Mapping[str, Any]) -> Policy:
    title = _text(data, "title", required=True)
    return Policy(
        shop_id=shop_id,
        id=_entry_id(data, "policy", title),
        topic=_text(data, "topic") or "other",
        title=title,
        content=_text(data, "content", required=True),
    )


def _promotion(shop_id: str, data: Mapping[str, Any]) -> Promotion:
    title = _text(data, "title", required=True)
    rule_text = _text(data, "rule", required=True)
    starts, ends = parse_date(data.get("starts"), "starts"), parse_date(data.get("ends"), "ends")
    if starts and ends and ends < starts:
        raise InvalidEntry("ends", f"{ends} is before the start {starts}")
    return Promotion(
        shop_id=shop_id,
        id=_entry_id(data, "promotion", title),
        title=title,
        rule_text=rule_text,
        rule=parse_rule(rule_text),
        product_ids=split_list(data.get("product_ids")),
        starts=starts,
        ends=ends,
        description=_text(data, "description"),
    )


def _script(shop_id: str, data: Mapping[str, Any]) -> Script:
    title = _text(data, "title") or _text(data, "intent")
    text = _text(data, "text", required=True)
    if not title:
        raise InvalidEntry("title", "a script needs a title (the situation) or an intent")
    return Script(
        shop_id=shop_id,
        id=_entry_id(data, "script", f"{_text(data, 'intent')}|{title}"),
        intent=_text(data, "intent"),
        title=title,
        text=text,
    )


_BUILDERS: dict[str, Callable[[str, Mapping[str, Any]], Entry]] = {
    "product": _product,
    "faq": _faq,
    "policy": _policy,
    "promotion": _promotion,
    "script": _script,
}


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """The JSONL/Redis form: lists stay lists, money is a string, dates ISO."""
    data: dict[str, Any] = {"kind": entry.kind, "id": entry.id}
    if isinstance(entry, Product):
        data |= {
            "title": entry.title,
            "price": str(entry.price),
            "variants": [{"name": v.name, "price": _money_text(v.price)} for v in entry.variants],
            "selling_points": list(entry.selling_points),
            "usage_notes": entry.usage_notes,
            "in_stock": entry.in_stock,
            "related": list(entry.related),
            "category": entry.category,
        }
    elif isinstance(entry, FAQ):
        data |= {
            "question": entry.question,
            "answer": entry.answer,
            "alt_questions": list(entry.alt_questions),
            "product_id": entry.product_id,
            "intent": entry.intent,
        }
    elif isinstance(entry, Policy):
        data |= {"topic": entry.topic, "title": entry.title, "content": entry.content}
    elif isinstance(entry, Promotion):
        data |= {
            "title": entry.title,
            "rule": entry.rule_text,
            "product_ids": list(entry.product_ids),
            "starts": entry.starts.isoformat() if entry.starts else None,
            "ends": entry.ends.isoformat() if entry.ends else None,
            "description": entry.description,
        }
    else:
        data |= {"intent": entry.intent, "title": entry.title, "text": entry.text}
    return data
