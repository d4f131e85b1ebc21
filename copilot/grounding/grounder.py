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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from copilot.clock import Clock, today
from copilot.grounding.catalog import (
    Catalog,
    CatalogCache,
    ProductFocus,
    dice,
    faq_similarity,
    product_focus,
)
from copilot.grounding.computed_answers import (
    asks_promotion,
    computed_answers,
    product_slots,
    promotion_listing,
)
from copilot.grounding.entry_answers import FAQ_VOUCHED_RANK, VOUCHED_RANK, entry_answers, vouched
from copilot.grounding.named_promotions import named_promotion_answer
from copilot.grounding.policy_answers import policy_answer
from copilot.grounding.promotions import PromotionQuote, yuan
from copilot.grounding.recommendations import composed_answers
from copilot.guardrails.staleness import stale_mentions
from copilot.templates import AFTER_PURCHASE, has_bought
from copilot.types import Candidate, Conversation, Intent, Source
from kb.types import FAQ, Hit

if TYPE_CHECKING:
    from kb.source import KnowledgeSource

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
        kb: KnowledgeSource,
        *,
        shop_names: Mapping[str, str] | None = None,
        k: int = 8,
        clock: Clock,
    ) -> None:
        self.kb = kb
        self.catalogs = CatalogCache(kb)
        self.shop_names = dict(shop_names or {})
        self.k = k
        self.clock = clock

    def warm_up(self) -> None:
        """Build the shops' catalogs now, as many as the index cache holds; idempotent."""
        for shop_id in self.kb.warm(self.kb.shops()):
            self.catalogs.get(shop_id)

    def ground(
        self,
        conversation: Conversation,
        intent: Intent | None = None,
        hits: Sequence[Hit] | None = None,
        *,
        day: date | None = None,
        adopted: Mapping[str, str] | None = None,
    ) -> GroundedAnswer:
        """`adopted`: intents the classifier gave entries the trainer left without one (entry
        id -> label), so a shop's own scripts answer a greeting on day one."""
        day = day or today(self.clock)
        adopted = adopted or {}
        catalog = self.catalogs.get(conversation.shop_id)
        if hits is None:
            hits = self.kb.search(conversation.shop_id, _query(conversation), k=self.k)
        focus = product_focus(conversation, catalog, hits)
        label = intent.label if intent else ""
        text = conversation.last_customer_text
        candidates, computed, the_quote = computed_answers(conversation, focus, catalog, label, day)
        candidates += composed_answers(conversation, catalog)
        values = self._slot_values(conversation, catalog, focus, the_quote, day)
        fresh = [h for h in hits if not _stale_faq(h, catalog, day)]
        pre_sales = intent is None or intent.family in ("pre_sales", "general", "")
        faq = _faq_candidates(text, fresh, label, values, catalog.faq_gate, adopted, pre_sales)
        candidates += [_ask_which(c, focus, catalog) for c in faq]
        candidates += entry_answers(text, fresh, catalog, day)
        asks = asks_promotion(text, label)
        earlier = "，".join(t.text for t in conversation.turns[:-1] if t.role == "customer")
        candidates += named_promotion_answer(
            text, catalog.promotions, day, asks=asks, earlier=earlier[-60:]
        )
        bought = has_bought(conversation)
        if bought or (intent is not None and intent.family in ("after_sales", "in_sales")):
            candidates += policy_answer(text, fresh, catalog)
        candidates += _script_candidates(catalog, label, values, day, adopted, bought)
        if asks and not focus.product and not conversation.order:
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
            values.update(product_slots(focus.product, focus.variant, catalog, day))
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


def _query(conversation: Conversation) -> str:
    text = conversation.last_customer_text
    if len(text) >= 4:
        return text
    earlier = [t.text for t in conversation.turns if t.role == "customer"][-2:]
    return "，".join(earlier) or text


def _faq_candidates(
    text: str,
    hits: Sequence[Hit],
    label: str,
    values: Mapping[str, str],
    gate: float,
    adopted: Mapping[str, str],
    pre_sales: bool = True,
) -> list[Candidate]:
    """The nearest FAQ (the one of the intent among the first three), when something vouches
    that it answers this message: both retrievers rank it near the top, or it shares more
    with the message than this shop's FAQs share with each other (the calibrated `gate`), or
    it carries the intent. Otherwise it is about something else (a greeting finds no FAQ)."""
    faq_hits = [h for h in hits if isinstance(h.entry, FAQ)][:3]
    if not faq_hits:
        return []

    def intent_of(hit: Hit) -> str:
        return getattr(hit.entry, "intent", "") or adopted.get(hit.entry_id, "")

    chosen = next((h for h in faq_hits if label and intent_of(h) == label), faq_hits[0])
    faq = chosen.entry
    assert isinstance(faq, FAQ)
    answer = fill_slots(faq.answer, values)
    if answer is None:
        return []
    position = [h.entry_id for h in hits].index(chosen.entry_id) + 1
    similarity = faq_similarity(text, faq)
    # before a purchase an FAQ is the likely answer; after one, a near FAQ is often off-topic
    vouched_for = vouched(chosen, FAQ_VOUCHED_RANK if pre_sales else VOUCHED_RANK)
    if similarity < gate and not vouched_for and not (label and intent_of(chosen) == label):
        return []
    score = round(0.6 * similarity + 0.4 / position, 4)
    return [
        Candidate(
            answer, "answer", Source(kb_entry_ids=(faq.id,)), score, (faq.question, faq.answer)
        )
    ]


def _ask_which(candidate: Candidate, focus: ProductFocus, catalog: Catalog) -> Candidate:
    """An FAQ about another product than the one under discussion is no answer: "能装开水吗"
    about the cup in the order, answered with the kettle's FAQ, would mislead. Asking which one
    they mean is what an agent does; the FAQ's own product never reaches the customer unasked."""
    faq_product = catalog.products.get(_faq_product_id(candidate, catalog) or "")
    if focus.product is None or faq_product is None or faq_product.id == focus.product.id:
        return candidate
    question = f"亲，您问的是「{focus.product.title}」还是「{faq_product.title}」呢？"
    return replace(candidate, text=question, role="clarify", evidence=())


def _faq_product_id(candidate: Candidate, catalog: Catalog) -> str | None:
    for entry_id in candidate.source.kb_entry_ids:
        faq = catalog.faqs.get(entry_id)
        if faq is not None:
            return faq.product_id
    return None


def _stale_faq(hit: Hit, catalog: Catalog, day: date) -> bool:
    """An FAQ answer that quotes a promotion outside its validity, or an ended date range,
    expires with it: the next FAQ (or the live promotion listing) takes its place."""
    entry = hit.entry
    if not isinstance(entry, FAQ):
        return False
    key = (entry.id, day)  # the same FAQs come back for every customer who asks alike
    if key not in catalog.stale_faqs:
        if len(catalog.stale_faqs) >= _STALE_KEPT:
            catalog.stale_faqs.clear()
        catalog.stale_faqs[key] = bool(stale_mentions(entry.answer, catalog.promotions, day))
    return catalog.stale_faqs[key]


_STALE_KEPT = 20_000


def names_stale_promotion(text: str, catalog: Catalog, day: date) -> bool:
    """A script written for a promotion that is over (or not started) must not go out."""
    return any(m.promotion_id for m in stale_mentions(text, catalog.promotions, day))


def _script_candidates(
    catalog: Catalog,
    label: str,
    values: Mapping[str, str],
    day: date,
    adopted: Mapping[str, str],
    bought: bool,
) -> list[Candidate]:
    """The script written for the intent; one for after a purchase only when the customer has
    bought (a pre-sales question guessed as damaged_item gets no apology)."""
    if label in AFTER_PURCHASE and not bought:
        return []
    found = []
    for script in catalog.scripts:
        if (
            label
            and (script.intent or adopted.get(script.id)) == label
            and not names_stale_promotion(script.text, catalog, day)
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
        if all(dice(candidate.text, k.text) < 0.8 for k in kept):
            kept.append(candidate)
    return kept
