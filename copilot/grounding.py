"""Candidate 1: the grounded KB answer, built from retrieved entries and the shop's records.

What it returns, best first: the computed answer for price, stock and promotion questions (a
sentence from the product record, or the PromotionQuote), the best FAQ answer, and the script
for the intent; or a clarifying question when the customer could mean several products
("亲，您问的是哪一款呢？A还是B？"). Every number comes from the KB or the order, or is computed
from them by promotions.py; those computed numbers are returned for the guardrails.

Slots a FAQ answer or script may hold, as {名} or 【名】 (aliases in brackets); a slot with no
value means the text is not used:
    商品名 (商品, 宝贝)           the product in focus            价格 (单价) its (variant's) price
    规格 (尺码, 容量)             variant in focus, else all       库存          有货 / 暂时缺货
    优惠 (活动)                   promotions active for it         店铺名        the shop's name
    运单号 (快递单号, 物流单号)    order tracking number            订单号        order id
    订单金额 (实付金额, 应付金额)  order amount, else computed      商品金额 (小计) subtotal
    优惠金额                      computed discount                再加金额 (凑单金额) threshold gap
    数量                          items in the order
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from copilot.catalog import (  # Catalog, CatalogCache, ProductFocus, product_focus re-exported
    Catalog,
    CatalogCache,
    ProductFocus,
    _dice,
    _order_products,
    _similarity,
    product_focus,
)
from copilot.numbers import extract
from copilot.promotions import PromotionQuote, discount_of, quote, unit_price, yuan
from copilot.types import Candidate, Conversation, Intent, Order, OrderItem, Source
from kb.types import FAQ, Hit, Product, Promotion

if TYPE_CHECKING:
    from kb.knowledge import KnowledgeBase

PRICE_WORDS = re.compile(
    r"多少钱|价格|价钱|啥价|什么价|几块|几元|单价|贵不贵|怎么卖|咋卖|售价|价位|多少一"
)
STOCK_WORDS = re.compile(r"有货|有没有货|缺货|补货|现货|还有吗|库存|断货|卖完|售罄|什么时候有|没货")
PROMO_WORDS = re.compile(r"优惠|活动|打折|折扣|满减|券|便宜|减价|促销|划算|凑单|实付|到手|满\d+")
_SLOT = re.compile(r"\{([^{}]{0,12})\}|【([^【】]{0,20})】")
_SLOT_LIKE = re.compile(r"^$|/|(?:号|名|名称|金额|价格|时间|日期|地址|电话|姓名|链接|数量|规格)$")
_ALIASES = {
    "商品": "商品名", "宝贝": "商品名", "商品名称": "商品名", "单价": "价格", "商品价格": "价格",
    "尺码": "规格", "容量": "规格", "活动": "优惠", "优惠活动": "优惠", "快递单号": "运单号",
    "物流单号": "运单号", "实付金额": "订单金额", "应付金额": "订单金额", "小计": "商品金额",
    "凑单金额": "再加金额", "店铺名称": "店铺名",
}  # fmt: skip
_SLOTS = frozenset(("商品名", "价格", "规格", "库存", "优惠", "店铺名", "运单号", "订单号"))
_SLOTS |= {"订单金额", "商品金额", "优惠金额", "再加金额", "数量"}


@dataclass(frozen=True)
class GroundedAnswer:
    candidates: tuple[Candidate, ...]  # best first
    product_id: str | None = None
    quote: PromotionQuote | None = None
    computed: tuple[Decimal, ...] = ()  # numbers computed in code, supported for the guardrails

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class GroundingStage(Protocol):
    def ground(
        self,
        conversation: Conversation,
        intent: Intent | None = None,
        hits: Sequence[Hit] | None = None,
    ) -> GroundedAnswer: ...


def fill_slots(text: str, values: Mapping[str, str]) -> str | None:
    """The text with its slots filled; None when a slot has no value (the text is not used).
    【...】 counts as a slot only when it reads like one (【运单号】, 【】, 【A/B】)."""
    missing = False

    def fill(m: re.Match[str]) -> str:
        nonlocal missing
        name = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        known = name in _SLOTS or name in _ALIASES or _SLOT_LIKE.search(name)
        if m.group(2) is not None and not known:
            return m.group(0)
        value = values.get(_ALIASES.get(name, name))
        if value is None:
            missing = True
            return m.group(0)
        return value

    filled = _SLOT.sub(fill, text)
    return None if missing else filled


class Grounder:
    """Builds the grounded candidates for one conversation turn (see the module docstring)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        shop_names: Mapping[str, str] | None = None,
        k: int = 8,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.kb = kb
        self.catalogs = CatalogCache(kb)
        self.shop_names = dict(shop_names or {})
        self.k = k
        self.today = today

    def warm_up(self) -> None:
        """Build every shop's catalog now; idempotent."""
        for shop_id in self.kb.shops():
            self.catalogs.get(shop_id)

    def ground(
        self,
        conversation: Conversation,
        intent: Intent | None = None,
        hits: Sequence[Hit] | None = None,
        *,
        day: date | None = None,
    ) -> GroundedAnswer:
        day = day or self.today()
        catalog = self.catalogs.get(conversation.shop_id)
        if hits is None:
            hits = self.kb.search(conversation.shop_id, _query(conversation), k=self.k)
        focus = product_focus(conversation, catalog, hits)
        label = intent.label if intent else ""
        text = conversation.last_customer_text
        candidates, computed, the_quote = _computed_answers(
            conversation, focus, catalog, label, day
        )
        values = self._slot_values(conversation, catalog, focus, the_quote, day)
        candidates += _faq_candidates(text, hits, label, values)
        candidates += _script_candidates(catalog, label, values, day)
        if _asks_promotion(text, label) and not focus.product and not conversation.order:
            listing = promotion_listing(catalog, day)
            if listing is not None:
                candidates.append(listing)
        product_id = focus.product.id if focus.product else None
        return GroundedAnswer(tuple(_dedupe(candidates)), product_id, the_quote, computed)

    def _slot_values(
        self,
        conversation: Conversation,
        catalog: Catalog,
        focus: ProductFocus,
        the_quote: PromotionQuote | None,
        day: date,
    ) -> dict[str, str]:
        values: dict[str, str] = {}
        if conversation.shop_id in self.shop_names:
            values["店铺名"] = self.shop_names[conversation.shop_id]
        if focus.product is not None:
            values.update(_product_slots(focus.product, focus.variant, catalog, day))
        order = conversation.order
        if order is not None:
            if order.tracking_number:
                values["运单号"] = order.tracking_number
            if order.order_id:
                values["订单号"] = order.order_id
            if order.amount is not None:
                values["订单金额"] = yuan(order.amount)
        if the_quote is not None and the_quote.lines:
            values.setdefault("订单金额", yuan(the_quote.payable))
            values["商品金额"] = yuan(the_quote.subtotal)
            values["优惠金额"] = yuan(the_quote.discount)
            values["数量"] = str(the_quote.item_count)
            gaps = [n.missing_amount for n in the_quote.nudges if n.missing_amount is not None]
            if gaps:
                values["再加金额"] = yuan(gaps[0])
        return values


def _asks_promotion(text: str, label: str) -> bool:
    return bool(PROMO_WORDS.search(text)) or label == "price_promotion"


def _computed_answers(
    conversation: Conversation, focus: ProductFocus, catalog: Catalog, label: str, day: date
) -> tuple[list[Candidate], tuple[Decimal, ...], PromotionQuote | None]:
    """The answer computed from records (a quote, a product sentence) or a clarifying question,
    with the numbers it computed."""
    text = conversation.last_customer_text
    asks_price = bool(PRICE_WORDS.search(text) or STOCK_WORDS.search(text)) or label == "stock"
    asks_promo = _asks_promotion(text, label)
    if asks_promo and (focus.product or _order_products(conversation.order, catalog)):
        the_quote = _quote_for(conversation.order, focus, catalog, day)
        if the_quote.lines:
            return [_quote_candidate(the_quote, catalog)], the_quote.numbers(), the_quote
    if asks_price and focus.product:
        sentence, numbers = product_sentence(focus.product, focus.variant, catalog, day)
        return [_product_candidate(sentence, focus, catalog, day)], tuple(numbers), None
    if (asks_price and not focus.product) or (asks_promo and focus.ambiguous):
        return [clarify_candidate(focus.ambiguous)], (), None
    return [], (), None


def _query(conversation: Conversation) -> str:
    text = conversation.last_customer_text
    if len(text) >= 4:
        return text
    earlier = [t.text for t in conversation.turns if t.role == "customer"][-2:]
    return "，".join(earlier) or text


def _product_slots(
    product: Product, variant: str | None, catalog: Catalog, day: date
) -> dict[str, str]:
    price, _ = unit_price(product, variant)
    promos = catalog.active_promotions(day, product.id)
    values = {
        "商品名": product.title,
        "价格": yuan(price),
        "库存": "有货" if product.in_stock else "暂时缺货",
    }
    if variant or product.variants:
        values["规格"] = variant or "/".join(v.name for v in product.variants)
    if promos:
        values["优惠"] = "、".join(p.rule_text for p in promos)
    return values


def _price_text(product: Product, variant: str | None) -> str:
    if variant or not product.variants:
        price, name = unit_price(product, variant)
        return f"{name or ''}{' ' if name else ''}{yuan(price)}"
    groups: dict[Decimal, list[str]] = {}
    for option in product.variants:
        groups.setdefault(option.price or product.price, []).append(option.name)
    if len(groups) == 1:
        return yuan(product.price)
    return "、".join(f"{'/'.join(names)} {yuan(price)}" for price, names in groups.items())


def product_sentence(
    product: Product, variant: str | None, catalog: Catalog, day: date
) -> tuple[str, list[Decimal]]:
    """Price (by variant), stock, active promotions and one selling point, from the records."""
    parts = [f"亲，{product.title}{_price_text(product, variant)}"]
    numbers: list[Decimal] = []
    if product.in_stock:
        parts.append("现在有货")
    else:
        clauses = re.split(r"[；;。，,]", product.usage_notes)
        restock = [c for c in clauses if "补货" in c or "恢复" in c]
        parts.append(f"暂时缺货{'，' + restock[0].strip() if restock else ''}")
    price, _ = unit_price(product, variant)
    offers = []
    for promo in catalog.active_promotions(day, product.id):
        off = _one_item_discount(product, variant, promo)
        if promo.rule.type in ("direct", "percent") and not promo.rule.min_items and off:
            numbers.append(price - off)
            offers.append(f"{promo.rule_text}到手{yuan(price - off)}")
        else:
            offers.append(promo.rule_text)
    if offers:
        parts.append(f"现在可享{'、'.join(offers)}")
    text = "，".join(parts) + "。"
    if product.selling_points:
        text += f"{product.selling_points[0]}哦～"
    return text, numbers


def _one_item_discount(product: Product, variant: str | None, promo: Promotion) -> Decimal:
    lines = quote(
        Order("unpaid", (OrderItem(product.id, 1, variant=variant),)),
        {product.id: product},
        (),
        date.min,
    ).lines
    return discount_of(promo, lines)


def _product_candidate(
    sentence: str, focus: ProductFocus, catalog: Catalog, day: date
) -> Candidate:
    assert focus.product is not None
    promos = catalog.active_promotions(day, focus.product.id)
    evidence = (_product_evidence(focus.product), *(_promo_evidence(p) for p in promos))
    return Candidate(
        sentence,
        "answer",
        Source(kb_entry_ids=(focus.product.id, *(p.id for p in promos))),
        0.9 if focus.source in ("message", "order") else 0.8,
        evidence,
    )


def _product_evidence(product: Product) -> str:
    variants = "|".join(f"{v.name}={v.price or product.price}" for v in product.variants)
    stock = "有货" if product.in_stock else "缺货"
    points = "；".join(product.selling_points)
    return f"{product.title}：价格{product.price}，规格{variants or '无'}，{stock}。{points}"


def _promo_evidence(promo: Promotion) -> str:
    period = f"{promo.starts or ''}~{promo.ends or ''}"
    return f"{promo.title}（{promo.rule_text}，{period}）：{promo.description}"


def _quote_for(
    order: Order | None, focus: ProductFocus, catalog: Catalog, day: date
) -> PromotionQuote:
    if order is None or not order.items:
        assert focus.product is not None
        item = OrderItem(focus.product.id, focus.quantity, variant=focus.variant)
        order = Order("unpaid", (item,))
    return quote(order, catalog.products, catalog.promotions, day)


def _quote_candidate(q: PromotionQuote, catalog: Catalog) -> Candidate:
    ids = [line.product_id for line in q.lines] + [a.promotion_id for a in q.applied]
    ids += [n.promotion_id for n in q.nudges]
    promos = [p for p in catalog.promotions if p.id in ids]
    evidence = tuple(_promo_evidence(p) for p in promos) + tuple(
        _product_evidence(catalog.products[line.product_id])
        for line in q.lines
        if line.product_id in catalog.products
    )
    text = f"亲，{q.text}～"
    return Candidate(text, "answer", Source(kb_entry_ids=tuple(dict.fromkeys(ids))), 0.9, evidence)


def clarify_candidate(products: Sequence[Product]) -> Candidate:
    """Which product? Naming up to three; with none to offer, asking for the name or link."""
    names = [p.title for p in products[:3]]
    if not names:
        question = "麻烦发一下商品名称或链接，我帮您查～"
    elif len(names) == 1:
        question = f"是{names[0]}吗？"
    else:
        question = "、".join(names[:-1]) + "还是" + names[-1] + "？"
    return Candidate(
        f"亲，您问的是哪一款呢？{question}",
        "clarify",
        Source(kb_entry_ids=tuple(p.id for p in products[:3])),
        0.7,
        tuple(_product_evidence(p) for p in products[:3]),
    )


def promotion_listing(catalog: Catalog, day: date) -> Candidate | None:
    promos = catalog.active_promotions(day) + [
        p for p in catalog.promotions if p.active_on(day) and p.product_ids
    ]
    promos = list(dict.fromkeys(promos))
    if not promos:
        return None
    parts = []
    for p in promos:
        until = f"（到{p.ends.month}月{p.ends.day}日）" if p.ends else ""
        name = p.title if p.rule_text.lstrip("满") in p.title else f"{p.title}（{p.rule_text}）"
        parts.append(f"{name}{until}")
    return Candidate(
        f"亲，现在店里的活动有：{'；'.join(parts)}，下单时自动计算优惠哦～",
        "answer",
        Source(kb_entry_ids=tuple(p.id for p in promos)),
        0.6,
        tuple(_promo_evidence(p) for p in promos),
    )


def _faq_candidates(
    text: str, hits: Sequence[Hit], label: str, values: Mapping[str, str]
) -> list[Candidate]:
    faq_hits = [h for h in hits if isinstance(h.entry, FAQ)][:3]
    if not faq_hits:
        return []
    chosen = next((h for h in faq_hits if label and h.entry.intent == label), faq_hits[0])  # type: ignore[union-attr]
    faq = chosen.entry
    assert isinstance(faq, FAQ)
    answer = fill_slots(faq.answer, values)
    if answer is None:
        return []
    position = [h.entry_id for h in hits].index(chosen.entry_id) + 1
    similarity = _similarity(text, faq)
    if similarity < 0.25 and not (label and faq.intent == label):
        return []  # the nearest FAQ is about something else (a greeting finds no FAQ)
    score = round(0.6 * similarity + 0.4 / position, 4)
    return [
        Candidate(
            answer, "answer", Source(kb_entry_ids=(faq.id,)), score, (faq.question, faq.answer)
        )
    ]


def names_expired_promotion(text: str, catalog: Catalog, day: date) -> bool:
    """A script written for a promotion that is over (or not started) must not go out: it
    names the rule (满99减10), or states its threshold and amount (满50元……减5元)."""
    stated = {m.value for m in extract(text) if m.kind == "money"}

    def named(p: Promotion) -> bool:
        figures = {p.rule.threshold, p.rule.amount} - {None}
        return p.rule_text in text or (len(figures) == 2 and figures <= stated)

    live = [p for p in catalog.promotions if p.active_on(day)]
    return any(
        named(p) and not any(named(q) for q in live) for p in catalog.promotions if p not in live
    )


def _script_candidates(
    catalog: Catalog, label: str, values: Mapping[str, str], day: date
) -> list[Candidate]:
    found = []
    for script in catalog.scripts:
        if (
            label
            and script.intent == label
            and not names_expired_promotion(script.text, catalog, day)
        ):
            text = fill_slots(script.text, values)
            if text is not None:
                found.append(
                    Candidate(
                        text, "script", Source(kb_entry_ids=(script.id,)), 0.5, (script.text,)
                    )
                )
    return found[:1]


def _dedupe(candidates: list[Candidate]) -> list[Candidate]:
    kept: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: -c.score):
        if all(_dice(candidate.text, k.text) < 0.8 for k in kept):
            kept.append(candidate)
    return kept
