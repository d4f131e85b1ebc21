"""Promotion math in code (Decimal, no model): what an order costs and what would make it cheaper.

Stacking, kept simple and matching how the demo shops word their offers:

- every promotion is evaluated on its scope: the order lines whose product is in its product_ids
  (all lines when the list is empty), at list price (the order's unit price, else the variant's,
  else the product's); thresholds are checked against those list prices, not against prices
  already lowered by another promotion;
- 满减 (threshold) and coupons apply once per order (not 每满) when the scope subtotal reaches the
  threshold; 满N件M折 when the scope holds at least N items; a plain N折 on the whole scope;
  立减 per unit in scope (never below zero);
- an order gets the single best non-coupon promotion plus at most one coupon; a promotion or
  coupon whose title or description says it does not stack (不叠加, 不与…叠加, 不可叠加,
  不与其他优惠同享, 不参加全店满减) is never combined with another one;
- the best combination is the largest total discount (ties: fewer promotions, then id order),
  capped at the subtotal.

Money renders as "¥178" / "¥21.5" (two decimals, trailing zeros dropped) everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import product as cartesian
from typing import Literal, TypeAlias

from copilot.types import Order, OrderItem
from kb.types import Product, Promotion, Variant

NudgeKind: TypeAlias = Literal["amount", "items"]

CENT = Decimal("0.01")
ZERO = Decimal(0)
_NO_STACKING = re.compile(
    r"不叠加|不可叠加|不能叠加|不[与和跟][^，。；]*?(?:叠加|同享|共享|同时使用)"
    r"|不(?:参加|参与)[^，。；]*?(?:满减|优惠|活动|券)"
)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def yuan(value: Decimal) -> str:
    """¥178, ¥21.5, ¥103.2, ¥0: the one way money is written to customers."""
    text = format(money(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"¥{text}"


@dataclass(frozen=True)
class QuoteLine:
    product_id: str
    title: str
    variant: str | None
    unit_price: Decimal
    quantity: int

    @property
    def total(self) -> Decimal:
        return money(self.unit_price * self.quantity)

    @property
    def label(self) -> str:
        return f"{self.title}（{self.variant}）" if self.variant else self.title


@dataclass(frozen=True)
class AppliedPromotion:
    promotion_id: str
    title: str
    rule_text: str
    discount: Decimal
    coupon: bool = False


@dataclass(frozen=True)
class Nudge:
    """What the customer could add to unlock a promotion, and what it would save."""

    promotion_id: str
    rule_text: str
    kind: NudgeKind
    reward: Decimal  # the discount the promotion would give once reached
    text: str
    missing_amount: Decimal | None = None
    missing_items: int | None = None


@dataclass(frozen=True)
class PromotionQuote:
    day: date
    lines: tuple[QuoteLine, ...]
    subtotal: Decimal
    applicable: tuple[AppliedPromotion, ...]  # every promotion the order reaches, on its own
    applied: tuple[AppliedPromotion, ...]  # the best combination (see the module docstring)
    discount: Decimal
    payable: Decimal
    nudges: tuple[Nudge, ...]
    unknown_products: tuple[str, ...]  # order items we could not price (not in this shop)
    sentences: tuple[str, ...]
    # active rules on these lines that are not computed (满199送小样, 秒杀价59.9): stated, so the
    # quote never says "no offer applies" while one may
    uncomputed: tuple[str, ...] = ()
    # a running cut to a quoted product's own price, in the sheet's words ("M1 4K套装直降30，
    # 到手219"): the totals above are list prices, so no payable is claimed
    price_cuts: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "；".join(self.sentences)

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def numbers(self) -> tuple[Decimal, ...]:
        """Every amount this quote computed: guardrails accept them as supported."""
        values = [self.subtotal, self.discount, self.payable]
        values += [line.unit_price for line in self.lines] + [line.total for line in self.lines]
        values += [Decimal(line.quantity) for line in self.lines] + [Decimal(self.item_count)]
        values += [a.discount for a in self.applicable]
        for nudge in self.nudges:
            values.append(nudge.reward)
            if nudge.missing_amount is not None:
                values.append(nudge.missing_amount)
            if nudge.missing_items is not None:
                values.append(Decimal(nudge.missing_items))
        return tuple(dict.fromkeys(money(Decimal(v)) for v in values))


_BRACKETED = re.compile(r"[（(][^）)]*[）)]")


def unit_price(product: Product, variant: str | None) -> tuple[Decimal, str | None]:
    """The list price of a product (of its variant when named and known) and the variant name."""
    if variant:
        for option in product.variants:
            if option.name.lower() == variant.strip().lower():
                return (option.price if option.price is not None else product.price), option.name
        # "150*200cm 燕麦" is the 150*200cm option in a colour: its price, when only one fits
        prices = {o.price for o in product.variants if o.price is not None and _names(variant, o)}
        if len(prices) == 1:
            return prices.pop(), variant
    return product.price, variant


def _names(variant: str, option: Variant) -> bool:
    """Every word of the option's name (its brackets aside) is in the ordered variant."""
    words = _BRACKETED.sub(" ", option.name).lower().split()
    return bool(words) and all(word in variant.lower() for word in words)


def quote_lines(
    order: Order, products: Mapping[str, Product]
) -> tuple[tuple[QuoteLine, ...], tuple[str, ...]]:
    lines: list[QuoteLine] = []
    unknown: list[str] = []
    for item in order.items:
        line = _line(item, products.get(item.product_id))
        if line is None:
            unknown.append(item.product_id)
        else:
            lines.append(line)
    return tuple(lines), tuple(unknown)


def _line(item: OrderItem, product: Product | None) -> QuoteLine | None:
    if item.quantity <= 0:
        return None
    if product is None:
        if item.unit_price is None:
            return None
        return QuoteLine(
            item.product_id, item.product_id, item.variant, item.unit_price, item.quantity
        )
    price, variant = unit_price(product, item.variant)
    if item.unit_price is not None:
        price = item.unit_price
    return QuoteLine(product.id, product.title, variant, price, item.quantity)


def _scope(promotion: Promotion, lines: Iterable[QuoteLine]) -> list[QuoteLine]:
    if not promotion.product_ids:
        return list(lines)
    return [line for line in lines if line.product_id in promotion.product_ids]


def discount_of(promotion: Promotion, lines: Iterable[QuoteLine]) -> Decimal:
    """What this promotion alone takes off these lines (0 when the order does not reach it)."""
    scope = _scope(promotion, lines)
    subtotal = sum((line.total for line in scope), ZERO)
    count = sum(line.quantity for line in scope)
    rule = promotion.rule
    if not scope:
        return ZERO
    if rule.type in ("threshold", "coupon"):
        reached = rule.threshold is not None and subtotal >= rule.threshold
        return min(rule.amount or ZERO, subtotal) if reached else ZERO
    if rule.type == "percent" and rule.percent is not None:
        if rule.min_items is not None and count < rule.min_items:
            return ZERO
        return money(subtotal * (1 - rule.percent))
    if rule.type == "direct" and rule.amount is not None:
        return sum((min(rule.amount, line.unit_price) * line.quantity for line in scope), ZERO)
    return ZERO


def stacks(promotion: Promotion) -> bool:
    return not _NO_STACKING.search(f"{promotion.title} {promotion.description}")


def _best(
    candidates: list[tuple[Promotion, Decimal]], subtotal: Decimal
) -> list[tuple[Promotion, Decimal]]:
    regular = [(p, d) for p, d in candidates if p.rule.type != "coupon"]
    coupons = [(p, d) for p, d in candidates if p.rule.type == "coupon"]
    combos: list[list[tuple[Promotion, Decimal]]] = [[c] for c in candidates]
    combos += [[r, c] for r, c in cartesian(regular, coupons) if stacks(r[0]) and stacks(c[0])]
    if not combos:
        return []
    return min(
        combos,
        key=lambda combo: (
            -min(sum((d for _, d in combo), ZERO), subtotal),
            len(combo),
            [p.id for p, _ in combo],
        ),
    )


def quote(
    order: Order,
    products: Mapping[str, Product],
    promotions: Iterable[Promotion],
    day: date,
) -> PromotionQuote:
    """Price an order on a day: subtotal, the promotions it reaches, the best one(s), nudges."""
    lines, unknown = quote_lines(order, products)
    subtotal = sum((line.total for line in lines), ZERO)
    active = sorted((p for p in promotions if p.active_on(day)), key=lambda p: p.id)
    reached = [(p, d) for p in active if (d := discount_of(p, lines)) > 0]
    best = _best(reached, subtotal)
    discount = min(sum((d for _, d in best), ZERO), subtotal)
    nudges = _nudges(active, lines, best, discount)
    applied = tuple(_applied(p, d) for p, d in best)
    quote_ = PromotionQuote(
        day=day,
        lines=lines,
        subtotal=subtotal,
        applicable=tuple(_applied(p, d) for p, d in reached),
        applied=applied,
        discount=discount,
        payable=subtotal - discount,
        nudges=nudges,
        unknown_products=unknown,
        sentences=(),
        uncomputed=tuple(p.rule_text for p in active if _uncomputed_on(p, lines)),
        price_cuts=price_cuts(active, lines, products),
    )
    return _with_sentences(quote_)


def price_cuts(
    active: Sequence[Promotion], lines: Sequence[QuoteLine], products: Mapping[str, Product]
) -> tuple[str, ...]:
    """Clauses of a running promotion's note, or of a quoted product's price remark, that cut
    that product's price: "M1 4K套装直降30，到手219（12月4日起）", "79.9（双12直降72.9）"."""
    found: list[str] = []
    for line in lines:
        product = products.get(line.product_id)
        remark = _PRICE_REMARK.search(product.usage_notes) if product else None
        if remark and _CUT.search(remark.group(1)):
            found.append(remark.group(1))
        names = {line.product_id.lower(), *_MODEL.findall(line.title.lower())}
        for promotion in active:
            for clause in _NOTE_CLAUSE.findall(promotion.description):
                named = names & set(_MODEL.findall(clause.lower()))
                if _CUT.search(clause) and (line.product_id.lower() in clause.lower() or named):
                    found.append(_NUMBERING.sub("", clause).strip())
    return tuple(dict.fromkeys(found))


_CUT = re.compile(r"直降|到手|秒杀价|特价|→")
_NUMBERING = re.compile(r"^\s*\d+\s*[.、．)）]\s*")  # "3. M1 4K套装直降30": the list's number
_PRICE_REMARK = re.compile(r"价格：[\d.]+[（(]([^）)]+)[）)]")
_NOTE_CLAUSE = re.compile(r"[^；;。\n]+")
_MODEL = re.compile(r"(?<![a-z0-9])[a-z]*\d+[a-z0-9]*(?![a-z0-9])")  # m1, k108, 4k: a model's code


def _uncomputed_on(promotion: Promotion, lines: Sequence[QuoteLine]) -> bool:
    """A rule we do not compute that may change what these lines cost: one scoped to them, or a
    shop-wide one by order amount (满199送小样). A shop-wide 拍2盒送1盒 is some other product's."""
    if promotion.rule.type != "other" or not _scope(promotion, lines):
        return False
    return bool(promotion.product_ids) or bool(_BY_AMOUNT.search(promotion.rule_text))


_BY_AMOUNT = re.compile(r"满\s*\d")


def _applied(promotion: Promotion, discount: Decimal) -> AppliedPromotion:
    return AppliedPromotion(
        promotion.id,
        promotion.title,
        promotion.rule_text,
        discount,
        coupon=promotion.rule.type == "coupon",
    )


def _nudges(
    active: list[Promotion],
    lines: tuple[QuoteLine, ...],
    best: list[tuple[Promotion, Decimal]],
    discount: Decimal,
) -> tuple[Nudge, ...]:
    """Unreached thresholds worth reaching: the customer has something in scope, and reaching
    it would save more than what the promotion it would replace saves now."""
    current_coupon = sum((d for p, d in best if p.rule.type == "coupon"), ZERO)
    current_regular = discount - current_coupon
    found: list[Nudge] = []
    for promotion in active:
        if any(promotion.id == p.id for p, _ in best):
            continue
        nudge = _nudge(promotion, _scope(promotion, lines))
        if nudge is None:
            continue
        is_coupon = promotion.rule.type == "coupon"
        replaced = current_coupon if is_coupon and stacks(promotion) else current_regular
        if not stacks(promotion):
            replaced = discount
        if nudge.reward > replaced:
            found.append(nudge)
    return tuple(sorted(found, key=lambda n: (n.missing_amount or ZERO, n.promotion_id)))


def _nudge(promotion: Promotion, scope: list[QuoteLine]) -> Nudge | None:
    rule = promotion.rule
    if not scope:
        return None
    subtotal = sum((line.total for line in scope), ZERO)
    count = sum(line.quantity for line in scope)
    if rule.type in ("threshold", "coupon") and rule.threshold is not None and rule.amount:
        gap = rule.threshold - subtotal
        if gap <= 0:
            return None
        verb = "可用" if rule.type == "coupon" else "可享"
        text = f"再加{yuan(gap)}{verb}{promotion.rule_text}"
        return Nudge(promotion.id, promotion.rule_text, "amount", rule.amount, text, gap, None)
    if rule.type == "percent" and rule.min_items and rule.percent is not None:
        missing = rule.min_items - count
        if missing <= 0:
            return None
        # The saving grows with what is added; the current scope gives a floor.
        reward = money(subtotal * (1 - rule.percent))
        text = f"再买{missing}件可享{promotion.rule_text}"
        return Nudge(promotion.id, promotion.rule_text, "items", reward, text, None, missing)
    return None


def _with_sentences(q: PromotionQuote) -> PromotionQuote:
    sentences: list[str] = []
    if q.lines:
        items = "、".join(
            f"{line.label}{yuan(line.unit_price)}×{line.quantity}" for line in q.lines
        )
        sentences.append(f"{items}，合计{yuan(q.subtotal)}")
        if q.price_cuts:
            deals = [*q.price_cuts, *(a.rule_text for a in q.applied), *q.uncomputed]
            sentences.append(f"另有活动：{'、'.join(deals)}，到手价以下单页为准")
            return replace(q, sentences=tuple(sentences))
        if q.applied:
            offers = "、".join(f"{a.rule_text}（减{yuan(a.discount)}）" for a in q.applied)
            sentences.append(f"可享{offers}，实付{yuan(q.payable)}")
        elif q.uncomputed:
            sentences.append(f"另有活动：{'、'.join(q.uncomputed)}，到手价以下单页为准")
        else:
            sentences.append(f"暂无可用优惠，实付{yuan(q.payable)}")
        sentences.extend(n.text for n in q.nudges)
    return replace(q, sentences=tuple(sentences))
