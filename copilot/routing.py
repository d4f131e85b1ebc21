"""Routing: should the agent answer with our help, may the copilot answer alone, or must a
specialist take over? Every route carries the reason codes that decided it.

    handoff  ask_human, complaint, anger, threats (12315, 投诉, 差评, 曝光, 律师), a refund or
             compensation above the shop's limit, arbitration, the same question unresolved
             `repeat_limit` times, or an intent too uncertain to act on with nothing from
             the shop's KB to offer (a KB answer is never hidden behind a low intent score)
    auto     only a high-confidence FAQ answer, in a shop that enabled auto-reply, when nothing
             above applies
    assist   everything else: the agent sees candidates and decides

Queues: after_sales (refunds, compensation beyond the agent's authority), merchant (arbitration,
which needs the merchant's or the network's decision), supervisor (people problems: anger,
threats, complaints, a customer asking for a person, a conversation going in circles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from copilot.text.similarity import bigrams, flatten, jaccard
from copilot.types import Conversation, HandoffQueue, Intent, Route, ShopPolicy

_AMOUNT = re.compile(
    r"(?:赔|退|补偿|赔偿|返)\D{0,6}?(\d+(?:\.\d+)?)\s*(?:元|块|¥)|[¥￥](\d+(?:\.\d+)?)"
)
_REFUND_INTENTS = frozenset({"return", "refund_status", "price_difference"})
_COMPENSATION_INTENTS = frozenset(
    {"damaged_item", "missing_item", "arbitration_claim", "complaint"}
)
_QUEUE_ORDER: tuple[HandoffQueue, ...] = ("supervisor", "after_sales", "merchant")


@dataclass(frozen=True)
class RoutingSignals:
    """What routing needs beyond the intent, computed by other stages."""

    negative: bool = False  # sentiment says angry / very negative
    threats: tuple[str, ...] = ()  # threat words found (12315, 投诉, ...)
    faq_answer_confident: bool = False  # the top candidate is an unflagged FAQ answer we trust
    grounded: bool = False  # an unflagged answer from the shop's KB is offered


def route(
    conversation: Conversation, intent: Intent, policy: ShopPolicy, signals: RoutingSignals
) -> Route:
    reasons: list[tuple[str, HandoffQueue]] = _handoff_reasons(
        conversation, intent, policy, signals
    )
    if reasons:
        queues = {queue for _, queue in reasons}
        queue = next(q for q in _QUEUE_ORDER if q in queues)
        return Route("handoff", queue, tuple(code for code, _ in reasons))
    if (
        policy.auto_reply
        and signals.faq_answer_confident
        and intent.confidence >= policy.auto_min_confidence
    ):
        return Route("auto", None, ("confident_faq_answer",))
    if not policy.auto_reply:
        return Route("assist", None, ("auto_reply_off",))
    return Route("assist", None, ("needs_agent",))


def _handoff_reasons(
    conversation: Conversation, intent: Intent, policy: ShopPolicy, signals: RoutingSignals
) -> list[tuple[str, HandoffQueue]]:
    found: list[tuple[str, HandoffQueue]] = []
    sure = intent.confidence >= policy.handoff_min_confidence  # else the label is a guess
    if intent.label == "ask_human" and sure:
        found.append(("ask_human", "supervisor"))
    if intent.label == "complaint" and sure:
        found.append(("complaint", "supervisor"))
    if signals.negative:
        found.append(("negative_sentiment", "supervisor"))
    found.extend((f"threat:{word}", "supervisor") for word in signals.threats)
    if intent.label == "arbitration_claim":
        found.append(("arbitration", "merchant"))
    found.extend(_over_limit(conversation, intent, policy))
    if repeated_question_count(conversation) >= policy.repeat_limit:
        found.append(("repeated_question", "supervisor"))
    if intent.confidence < policy.handoff_min_confidence and not signals.grounded:
        # an uncertain intent with nothing grounded to offer; with a KB answer the agent decides
        found.append(("low_confidence", "supervisor"))
    return found


def _over_limit(
    conversation: Conversation, intent: Intent, policy: ShopPolicy
) -> list[tuple[str, HandoffQueue]]:
    """A refund or compensation the agent may not grant alone (amount asked, else the order's)."""
    asked = requested_amount(conversation.last_customer_text)
    order_amount = conversation.order.amount if conversation.order else None
    found: list[tuple[str, HandoffQueue]] = []
    if intent.label in _REFUND_INTENTS:
        amount = asked if asked is not None else order_amount
        if amount is not None and amount > policy.refund_limit:
            found.append(("refund_over_limit", "after_sales"))
    if (
        intent.label in _COMPENSATION_INTENTS
        and asked is not None
        and asked > policy.compensation_limit
    ):
        found.append(("compensation_over_limit", "after_sales"))
    return found


def requested_amount(text: str) -> Decimal | None:
    """The largest money amount the customer names (赔我200元, 退¥89), or None."""
    amounts = []
    for match in _AMOUNT.finditer(text):
        raw = match.group(1) or match.group(2)
        try:
            amounts.append(Decimal(raw))
        except InvalidOperation:
            continue
    return max(amounts) if amounts else None


# Character-bigram Jaccard at which two customer turns are one question: 还没发货吗 / 怎么还没发货
# score 0.5, 还没发货吗 / 能开发票吗 0.0. Rephrasings sharing fewer characters are missed.
_SAME_QUESTION = 0.5


def repeated_question_count(conversation: Conversation) -> int:
    """How many times the customer has asked the latest question, agent replies in between."""
    latest = bigrams(flatten(conversation.last_customer_text))
    if not latest:
        return 0
    count, answered = 0, True
    for turn in conversation.turns:
        if turn.role == "agent":
            answered = True
            continue
        if answered and jaccard(bigrams(flatten(turn.text)), latest) >= _SAME_QUESTION:
            count += 1
            answered = False
    return count
