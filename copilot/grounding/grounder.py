"""Candidate 1: the grounded KB answer, built from retrieved entries and the shop's records.

What it returns, best first: the computed answer for price, stock and promotion questions (a
sentence from the product record, or the PromotionQuote), the best FAQ answer, and the script
for the intent; or a clarifying question when the customer could mean several products
("亲，您问的是哪一款呢？A还是B？"); the shop's price-protection rule applied to the purchase the
customer tells of (price_protection.py); what to add to reach a running threshold (top_up.py);
after what a follow-up question finds alone, the FAQ it and the question before find together
(follow_ups.py); whether two offers stack, by the clause of a promotion that says so
(stacking.py); the shop's script for the trouble the customer tells of (situation_scripts.py);
a rule on changing an order said for the change asked (change_kinds.py); a gift asked about, by
the sentence of the promotion that gives it (gifts.py). Every number comes from the KB or the
order, or is computed from them (promotions.py, price_protection.py, top_up.py); those computed
numbers are returned for the guardrails.

The slots a FAQ answer or script may hold are in slots.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from copilot.clock import Clock, today
from copilot.grounding.asked_kinds import stating_first
from copilot.grounding.catalog import Catalog, CatalogCache
from copilot.grounding.change_kinds import asked_change, for_the_change
from copilot.grounding.clause_match import closest_clause
from copilot.grounding.computed_answers import (
    asks_promotion,
    computed_answers,
    product_slots,
    promotion_listing,
)
from copilot.grounding.customer_voice import in_customer_voice
from copilot.grounding.dedupe import best_first
from copilot.grounding.entry_answers import (
    ASKS,
    entry_answers,
    focus_answer,
)
from copilot.grounding.faq_answers import (
    ask_which,
    faq_about,
    faq_candidates,
    focus_first,
    rare_word_faq,
)
from copilot.grounding.focus import ProductFocus, product_focus
from copilot.grounding.follow_ups import after, asked_before, follow_up_faq, retrieval_query
from copilot.grounding.gifts import gift_answer
from copilot.grounding.named_promotions import asks_combining, named_promotion_answer
from copilot.grounding.order_branches import this_orders_branch
from copilot.grounding.order_status import order_status_answer
from copilot.grounding.order_stock import not_in_stock_said, ordered_stock, promises_shipping
from copilot.grounding.other_brands import other_brand_answer
from copilot.grounding.policy_answers import policy_answer, readdressing_question, shipping_answer
from copilot.grounding.price_protection import price_protection_answer
from copilot.grounding.problem_replies import acknowledged, reports_problem
from copilot.grounding.product_rules import (
    product_return_rule,
    return_question,
    without_shop_wide_yes,
)
from copilot.grounding.promotions import PromotionQuote, yuan
from copilot.grounding.question_parts import (
    about_one_product,
    asked_alone,
    joined_answer,
    part_answer,
)
from copilot.grounding.recommendations import composed_answers
from copilot.grounding.shop_scripts import script_candidates, stale, stale_faq
from copilot.grounding.situation_scripts import situation_scripts
from copilot.grounding.size_charts import size_for_measure
from copilot.grounding.stacking import stacking_answer
from copilot.grounding.top_up import top_up_answer
from copilot.grounding.usual_size import size_for_usual
from copilot.grounding.variant_choice import variant_for_measure
from copilot.guardrails.moment import (
    closes,
    closing_out_of_place,
    review_out_of_place,
    waits_for_shipping,
)
from copilot.templates import asks_for_sent_photos, has_bought
from copilot.types import Candidate, Conversation, Intent
from kb.types import FAQ, Hit

if TYPE_CHECKING:
    from kb.models.embedder import Embedder
    from kb.source import KnowledgeSource


@dataclass(frozen=True)
class GroundedAnswer:
    candidates: tuple[Candidate, ...]  # best first
    product_id: str | None = None
    quote: PromotionQuote | None = None
    computed: tuple[Decimal, ...] = ()  # numbers computed in code, supported for the guardrails
    # the customer reports trouble with what arrived (problem_replies.reports_problem): the
    # agent's next step (sorry and the photos, or checking) keeps a place among the replies
    problem_reported: bool = False

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


_PROBLEM_FAMILIES = frozenset({"after_sales", "express"})


# the FAQ a follow-up finds with the question before answers a product question, not a
# closing (moment.closes), a complaint, or an offer (answered by the promotions themselves)
_NO_FOLLOW_UP = frozenset({"price_promotion", "complaint", "ask_human"})


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
            hits = self._hits(conversation)
        focus = product_focus(conversation, catalog, hits)
        grounded = self._grounded(conversation, intent, hits, focus, catalog, day, adopted)
        if grounded.problem_reported:
            return grounded
        if intent is not None and (intent.label == "complaint" or intent.family == "after_sales"):
            return grounded  # a problem told with a question: one answer, the rest is the agent's
        joined, computed = self._joined(conversation, focus, catalog, day, adopted)
        if joined is None:
            return grounded
        computed = tuple(dict.fromkeys((*grounded.computed, *computed)))
        return replace(grounded, candidates=(joined, *grounded.candidates), computed=computed)

    def _joined(
        self,
        conversation: Conversation,
        focus: ProductFocus,
        catalog: Catalog,
        day: date,
        adopted: Mapping[str, str],
    ) -> tuple[Candidate | None, tuple[Decimal, ...]]:
        """One reply to the message's questions, each grounded alone (question_parts.py), and
        the numbers computed for it; None when it asks one thing or one answer does for all."""
        answers: list[Candidate] = []
        computed: list[Decimal] = []
        for question, asked in asked_alone(conversation):
            # the message's intent is one question's; alone, each is read afresh
            hits = self._hits(asked)
            part = self._grounded(asked, None, hits, focus, catalog, day, adopted, whole=False)
            answer = part_answer(question, part.candidates, catalog, focus.product)
            if answer is not None:
                answers.append(answer)
                computed += part.computed
        if not about_one_product(answers, catalog):
            return None, ()
        return joined_answer(answers), tuple(computed)

    def _hits(self, conversation: Conversation) -> Sequence[Hit]:
        return self.kb.search(conversation.shop_id, retrieval_query(conversation), k=self.k)

    def _grounded(
        self,
        conversation: Conversation,
        intent: Intent | None,
        hits: Sequence[Hit],
        whole_focus: ProductFocus,
        catalog: Catalog,
        day: date,
        adopted: Mapping[str, str],
        *,
        whole: bool = True,
    ) -> GroundedAnswer:
        """The candidates for the message, or (not `whole`) for one of its questions, which
        is about the product the whole message is about when it names none itself. One
        `catalog` for the message and its questions: the KB may move between two reads."""
        focus = whole_focus
        if not whole:
            focus = product_focus(conversation, catalog, hits)
            focus = focus if focus.product is not None else whole_focus
        label = intent.label if intent else ""
        text = conversation.last_customer_text
        # "我买的燕麦色！！寄来的是雾霾蓝" read as a stock question: a report, not a price asked
        reported = whole and reports_problem(conversation, catalog)
        candidates, computed, the_quote = (
            ([], (), None)
            if reported
            else computed_answers(conversation, focus, catalog, label, day)
        )
        protected = price_protection_answer(conversation, catalog, day) if whole else None
        if protected is not None:
            candidates, computed = [*candidates, protected.candidate], computed + protected.computed
        topped_up = top_up_answer(conversation, catalog, day) if whole else None
        if topped_up is not None:  # 凑单: what to add to reach a threshold
            candidates, computed = [*candidates, topped_up[0]], computed + topped_up[1]
        held_up = ordered_stock(conversation, catalog, label)  # why it has not shipped
        candidates += held_up or order_status_answer(conversation, catalog)
        candidates += composed_answers(conversation, catalog)
        values = self._slot_values(conversation, catalog, focus, the_quote, day)
        fresh = [h for h in hits if not stale_faq(h, catalog, day)]
        pre_sales = intent is None or intent.family in ("pre_sales", "general", "")
        problem = intent is not None and intent.family in _PROBLEM_FAMILIES
        found = _Found(text, label, focus, catalog, values, day, self.kb.embedder)
        candidates += found.faqs(fresh, adopted, pre_sales=pre_sales, problem=problem)
        candidates += entry_answers(text, fresh, catalog, day)
        bought = has_bought(conversation)
        closing = closes(label, text) or label in _NO_FOLLOW_UP
        if whole and not (reported or bought or closing):
            candidates += self._follow_up(conversation, fresh, found, below=candidates)
        # before a purchase, an after-sales guess is the guess that is wrong, not the question
        if pre_sales or not bought:
            candidates += found.about_products()
            sized = size_for_measure(conversation, focus, catalog) or size_for_usual(
                conversation, focus
            )
            candidates += [sized] if sized is not None else []
        candidates += found.promotions(conversation)
        candidates += product_return_rule(conversation, focus.product, catalog)
        if bought or (intent is not None and intent.family in ("after_sales", "in_sales")):
            order = conversation.order
            arrived = order is None or order.status not in ("unpaid", "paid")
            asked = return_question(conversation)  # "拆了用了一天" after "能退吗"
            if arrived and not closing and asked == text:  # "要改到公司" after "能改地址吗"
                asked = readdressing_question(conversation)
            candidates += policy_answer(asked, fresh, catalog, arrived=arrived)
        if not bought:  # "今天下单 明天能到上海吗": how the parcel travels, before any purchase
            candidates += shipping_answer(text, fresh, catalog) or shipping_answer(
                asked_before(conversation), fresh, catalog
            )
        unpaid = conversation.order is not None and conversation.order.status == "unpaid"
        candidates += situation_scripts(conversation, catalog, values, day) or script_candidates(
            catalog, label, values, day, adopted, bought, unpaid
        )
        if held_up:  # "16点前付款当天发" is not true of an order waiting for its option
            candidates = [c for c in candidates if c in held_up or not promises_shipping(c.text)]
        elif not_in_stock_said(conversation):  # "白色目前是预售的" / "啥时候发": not 当天发
            candidates = [c for c in candidates if not promises_shipping(c.text)]
        candidates = [
            c
            for c in candidates
            if not waits_for_shipping(c.text, conversation)
            and not review_out_of_place(c.text, conversation, label)
            and not closing_out_of_place(c, conversation, label)
            # a script's "麻烦拍个照片" once they are sent; a rule naming what to photograph
            # ("问题部位照片+鞋舌码标") may still ask for more
            and not (c.role != "answer" and asks_for_sent_photos(c.text, conversation))
        ]
        candidates = without_shop_wide_yes(candidates, conversation, focus.product, catalog)
        change = asked_change(conversation)
        order = conversation.order
        candidates = [for_the_change(this_orders_branch(c, order), change) for c in candidates]
        candidates = [in_customer_voice(c, order) for c in candidates]
        product_id = focus.product.id if focus.product else None
        if reported:
            candidates = acknowledged(conversation, candidates, catalog, product_id)
        ordered = (
            best_first(candidates) if reported else stating_first(text, best_first(candidates))
        )
        return GroundedAnswer(
            tuple(ordered), product_id, the_quote, computed, problem_reported=reported
        )

    def _follow_up(
        self,
        conversation: Conversation,
        hits: Sequence[Hit],
        found: _Found,
        *,
        below: Sequence[Candidate],
    ) -> list[Candidate]:
        """The FAQ the message and the question before find together (follow_ups.py), after
        what the message found alone (`below`): it is the less certain reading."""
        catalog, product = found.catalog, found.focus.product

        def search(text: str) -> list[Hit]:
            hits = self.kb.search(conversation.shop_id, text, k=self.k)
            return [h for h in hits if not stale_faq(h, catalog, found.day)]

        def about_another(faq: FAQ) -> bool:
            return product is not None and faq_about(faq, catalog) not in (None, product.id)

        follow_up = follow_up_faq(conversation, hits, search, found.values, about_another)
        return [after(follow_up, below)] if follow_up is not None else []

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


@dataclass(frozen=True)
class _Found:
    """What one message is answered with beside the computed answers, by kind."""

    text: str
    label: str
    focus: ProductFocus
    catalog: Catalog
    values: Mapping[str, str]
    day: date
    embedder: Embedder

    def faqs(
        self, hits: Sequence[Hit], adopted: Mapping[str, str], *, pre_sales: bool, problem: bool
    ) -> list[Candidate]:
        """The retrieved FAQ(s), and the one a rare word finds; an FAQ about another product
        becomes "which one?". A problem (after-sales, a stuck parcel, a complaint) shares words
        with many FAQs and is answered by none: the judges gave those 0 (签收没收到 -> 以旧换新)."""
        focus, catalog = self.focus, self.catalog
        ordered, on_focus = focus_first(hits, focus, catalog, self.text)
        found = faq_candidates(
            self.text, ordered, self.label, self.values, catalog.faq_gate, adopted, pre_sales,
            on_focus,
        )  # fmt: skip
        if ASKS.search(self.text) and not problem and self.label != "complaint":
            rare = rare_word_faq(self.text, focus, catalog, self.values)
            if rare is not None and not stale(
                catalog.faqs[rare.source.kb_entry_ids[0]], catalog, self.day
            ):
                found.append(rare)
        return [ask_which(c, focus, catalog) for c in found]

    def about_products(self) -> list[Candidate]:
        """The product under discussion's own clauses (sharing the question's words, or nearest
        its meaning), the option a stated measure takes, and the reply to a comparison with
        another brand."""
        found = [
            focus_answer(self.text, self.focus),
            closest_clause(self.text, self.focus, self.catalog, self.embedder),
            variant_for_measure(self.text, self.focus, self.catalog),
            other_brand_answer(self.text, self.focus, self.catalog),
        ]
        return [c for c in found if c is not None]

    def promotions(self, conversation: Conversation) -> list[Candidate]:
        """Where a named promotion stands; the listing when offers are asked about in general
        (not whether two stack: the listing ends "下单时自动计算优惠", no answer to that)."""
        asks = asks_promotion(self.text, self.label)
        earlier = "，".join(conversation.earlier_customer_texts)
        found = stacking_answer(
            self.text, self.catalog.promotions, self.day, earlier[-60:], self.focus.product
        )
        found += gift_answer(self.text, self.catalog.promotions, self.day)
        found += named_promotion_answer(
            self.text, self.catalog.promotions, self.day, asks=asks, earlier=earlier[-60:]
        )
        general = not self.focus.product and not conversation.order
        if asks and general and not asks_combining(self.text):
            listing = promotion_listing(self.catalog, self.day)
            found += [listing] if listing is not None else []
        return found
