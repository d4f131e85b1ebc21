"""Upsell prompts: a payment reminder (催付), a promotion-threshold nudge, or a related product.

One prompt at most, each with the reason shown to the agent, in this order of preference:
1. payment_reminder: the order is unpaid; the shop's 催付 script (a script whose title or intent
   says 催付/付款/payment, and which names no promotion that is over), else a polite built-in
   template without numbers;
2. threshold: the order (or one unit of the product being discussed) is short of a promotion
   threshold; how much is missing (promotions.py), and an in-stock product that fills the gap;
3. related: the product's related products in stock (KB relations), else the nearest products
   by embedding similarity.

Never on negative sentiment, handoff routes, complaints, requests for a person, after-sales or
express-claim intents, or a customer chasing a late parcel; never an out-of-stock product or
another shop's product (only this shop's catalog is consulted).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from copilot.clock import Clock, today
from copilot.grounding.catalog import Catalog, CatalogCache
from copilot.grounding.focus import product_focus
from copilot.grounding.promotions import Nudge, PromotionQuote, quote, unit_price, yuan
from copilot.grounding.shop_scripts import names_stale_promotion
from copilot.grounding.slots import fill_slots
from copilot.types import Conversation, Intent, Order, OrderItem, Route, Upsell
from kb.types import Product, Script

if TYPE_CHECKING:
    from kb.source import KnowledgeSource

NO_UPSELL_INTENTS = frozenset(
    {
        "return",
        "exchange",
        "damaged_item",
        "missing_item",
        "price_difference",
        "reship",
        "refund_status",
        "problem_parcel",
        "work_order",
        "arbitration_claim",
        "complaint",
        "ask_human",
        # Beyond after-sales too: a customer chasing a late parcel is in no mood to shop.
        "urge_delivery",
    }
)
NO_UPSELL_FAMILIES = frozenset({"after_sales"})
PAYMENT_REMINDER = (
    "亲，看到您的订单还没有付款哦～宝贝已经为您留好了，付款后我们会尽快为您安排发货，"
    "有任何问题随时问我～"
)
_PAYMENT_SCRIPT = re.compile(r"催付|付款|未付|支付|payment|unpaid", re.IGNORECASE)
_CATALOGS: WeakKeyDictionary[KnowledgeSource, CatalogCache] = WeakKeyDictionary()


def upsell_allowed(intent: Intent, route: Route, sentiment_negative: bool) -> bool:
    return not (
        sentiment_negative
        or route.action == "handoff"
        or intent.label in NO_UPSELL_INTENTS
        or intent.family in NO_UPSELL_FAMILIES
    )


def suggest_upsell(
    conversation: Conversation,
    intent: Intent,
    route: Route,
    kb: KnowledgeSource,
    order: Order | None,
    sentiment_negative: bool,
    *,
    day: date,
) -> Upsell | None:
    """The one upsell prompt worth showing now, or None (see the module docstring)."""
    if not upsell_allowed(intent, route, sentiment_negative):
        return None
    catalog = _CATALOGS.setdefault(kb, CatalogCache(kb)).get(conversation.shop_id)
    order = order if order is not None else conversation.order
    if order is not None and order.status == "unpaid":
        return payment_reminder(catalog, order, day)
    focus = product_focus(conversation, catalog)
    basket = _basket(order, focus.product, focus.variant, focus.quantity)
    if basket is not None:
        nudge = threshold_nudge(catalog, basket, day)
        if nudge is not None:
            return nudge
    anchor = focus.product or _first_product(order, catalog)
    return related_product(kb, catalog, anchor, order) if anchor else None


class Upseller:
    """suggest_upsell behind the stage Protocol, for the pipeline."""

    def __init__(self, kb: KnowledgeSource, *, clock: Clock) -> None:
        self.kb = kb
        self.clock = clock

    def suggest(
        self,
        conversation: Conversation,
        intent: Intent,
        route: Route,
        *,
        sentiment_negative: bool = False,
        day: date | None = None,
    ) -> Upsell | None:
        """`day`: the pipeline run's (one day for every stage of a suggestion)."""
        return suggest_upsell(
            conversation,
            intent,
            route,
            self.kb,
            conversation.order,
            sentiment_negative,
            day=day or today(self.clock),
        )


def payment_reminder(catalog: Catalog, order: Order, day: date) -> Upsell:
    ids = tuple(
        dict.fromkeys(i.product_id for i in order.items if i.product_id in catalog.products)
    )
    for script in _payment_scripts(catalog.scripts):
        if names_stale_promotion(script.text, catalog, day):
            continue
        text = fill_slots(script.text, _order_slots(order, catalog))
        if text is not None:
            return Upsell("payment_reminder", text, f"订单未付款：催付话术「{script.title}」", ids)
    return Upsell("payment_reminder", PAYMENT_REMINDER, "订单未付款：催付（通用模板）", ids)


def _payment_scripts(scripts: tuple[Script, ...]) -> list[Script]:
    return [s for s in scripts if _PAYMENT_SCRIPT.search(f"{s.intent} {s.title}")]


def _order_slots(order: Order, catalog: Catalog) -> dict[str, str]:
    values = {}
    products = [
        catalog.products[i.product_id] for i in order.items if i.product_id in catalog.products
    ]
    if products:
        values["商品名"] = products[0].title
    if order.order_id:
        values["订单号"] = order.order_id
    if order.amount is not None:
        values["订单金额"] = yuan(order.amount)
    return values


def _basket(
    order: Order | None, product: Product | None, variant: str | None, quantity: int
) -> Order | None:
    """What a threshold is measured on: the open order, else the product under discussion."""
    if order is not None:
        return order if order.items and order.status == "unpaid" else None
    if product is None:
        return None
    return Order("unpaid", (OrderItem(product.id, quantity, variant=variant),))


def threshold_nudge(catalog: Catalog, basket: Order, day: date) -> Upsell | None:
    q = quote(basket, catalog.products, catalog.promotions, day)
    for nudge in q.nudges:
        filler = _filler(catalog, q, nudge)
        text = f"亲，{nudge.text}哦"
        ids: tuple[str, ...] = ()
        if filler is not None:
            price, _ = unit_price(filler, None)
            text += f"，加一件{filler.title}（{yuan(price)}）正好可以凑上"
            ids = (filler.id,)
        reason = f"当前{yuan(q.subtotal)}，{_missing(nudge)}可享{nudge.rule_text}"
        return Upsell("threshold", text + "～", reason, ids)
    return None


def _missing(nudge: Nudge) -> str:
    if nudge.missing_amount is not None:
        return f"差{yuan(nudge.missing_amount)}"
    return f"差{nudge.missing_items}件"


def _filler(catalog: Catalog, q: PromotionQuote, nudge: Nudge) -> Product | None:
    """An in-stock product in the promotion's scope that closes the gap without overshooting
    it much (at most 3x the gap + ¥20); related products of the basket first, then the cheapest."""
    promotion = next(p for p in catalog.promotions if p.id == nudge.promotion_id)
    in_basket = {line.product_id for line in q.lines}
    related = {
        r for pid in in_basket if pid in catalog.products for r in catalog.products[pid].related
    }
    gap = nudge.missing_amount or Decimal(0)
    options = [
        p
        for p in catalog.products.values()
        if p.in_stock
        and p.price > 0
        and gap <= p.price <= 3 * gap + 20
        and (not promotion.product_ids or p.id in promotion.product_ids)
        and (p.id not in in_basket or nudge.kind == "items")
    ]
    options.sort(key=lambda p: (p.id not in related, p.price, p.id))
    return options[0] if options else None


def _first_product(order: Order | None, catalog: Catalog) -> Product | None:
    if order is None:
        return None
    return next(
        (catalog.products[i.product_id] for i in order.items if i.product_id in catalog.products),
        None,
    )


def related_product(
    kb: KnowledgeSource, catalog: Catalog, anchor: Product, order: Order | None
) -> Upsell | None:
    taken = {anchor.id} | ({i.product_id for i in order.items} if order else set())
    for pid in anchor.related:
        candidate = catalog.products.get(pid)
        if candidate is not None and candidate.in_stock and pid not in taken:
            return _related_upsell(
                anchor, candidate, f"{candidate.title}是{anchor.title}的关联商品（知识库）"
            )
    similar = catalog.similar_products.get(anchor.id)
    if similar is None:  # one search per product and KB version, not one per suggestion
        hits = kb.search(catalog.shop_id, anchor.title, k=6, kinds=["product"])
        similar = catalog.similar_products[anchor.id] = tuple(h.entry_id for h in hits)
    for product_id in similar:
        candidate = catalog.products.get(product_id)
        if candidate is not None and candidate.in_stock and candidate.id not in taken:
            return _related_upsell(
                anchor, candidate, f"{candidate.title}与{anchor.title}相近（向量相似度）"
            )
    return None


def _related_upsell(anchor: Product, product: Product, reason: str) -> Upsell:
    price, _ = unit_price(product, None)
    point = f"，{product.selling_points[0]}" if product.selling_points else ""
    text = f"亲，买{anchor.title}的亲很多会一起带{product.title}（{yuan(price)}）{point}"
    text += "，需要的话可以看看哦～"
    return Upsell("related", text, reason, (product.id,))
