"""Whether two offers stack, answered by the clause of the shop's promotion that says so.

"优惠券能跟8.5折一起用吗", "那新人券能一起用吗", "电动汽车参加满减吗": the answer sits in a
promotion's description, among its other terms ("…（按商品原价算门槛，电动童车不参加满减，活动期间
详情页可领50元童车专享券）"). Quoted whole, the customer has to find it; the agent sends the
clause with a yes or a no before it: "亲，不好意思，8.5折不能叠加店铺优惠券哦～".

The yes or no is the clause's own (不能叠加, 不参加 are a no; 可以和满减叠加 a yes), so it is never
guessed. A clause answers only when:
- it holds every offer the message names (满减, 新人券, 8.5折), the promotion's title counting
  only where the clause is said of it (below);
- what it speaks of, the message names: its offers (秒杀 of "秒杀不参与满减") and other words
  (电动童车 of "电动童车不参加满减", by 电动);
- where the message names a product or a promotion (by its title or rule), the clause is of it
  ("遥控车能和店铺券一起用吗" is not answered by 「关注店铺领券」可叠加满减);
- a clause with nothing before its polarity ("不能和双12券一起用") follows the nearest clause
  naming an offer (新人券也是店铺券); with none, it is said of the promotion ("「百亿补贴」不参与
  满减"), which the message or the customer's earlier words must name (not by "这个券"), and
  which must name an offer of its own ("不累加" is about the promotion's own tiers);
- no other clause answers the other way ("这个券" of two coupons, one stacking and one not);
- it names no exception ("除秒杀外可叠加" is a yes to some offers and a no to others), and its
  verb is its own, not a noun's ("不参与满减的商品可用券");
- its promotion runs today (a coming one's terms are said by named_promotions, with its start).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from copilot.grounding.agent_notes import customer_sentences
from copilot.grounding.named_promotions import asks_combining
from copilot.guardrails.staleness import names_promotion
from copilot.text.figures import normalize
from copilot.types import Candidate, Source
from kb.types import Product, Promotion

# "参加满减吗", "能一起减不": whether an offer applies, beside named_promotions' words for stacking
_JOINS = re.compile(r"参[加与]|参不参|一起减|同时减|能用|可以用|能不能用")
# the offers a customer names; a coupon by its kind (新人券, 店铺券) or alone (这个券)
_OFFER = re.compile(
    r"满减|满\d+减\d+|\d+(?:\.\d+)?折|百亿补贴|补贴|秒杀|直播价|换购|赠品|包邮|红包|立减"
    r"|(?:新人|店铺|平台|优惠|无门槛|专享|品类|跨店|粉丝|会员|首单|满减)?券"
)
# the verb of a clause about stacking or taking part; what precedes it says its polarity
# (不能和双12券一起用) and, before that, what it speaks of (电动童车不参加满减)
_STACKS = r"叠加|同享|共享|一起用|同时用|同时使用|累加|二选一"
_VERB = re.compile(rf"{_STACKS}|参加|参与")
_STACKING_VERB = re.compile(_STACKS)
_POLARITY = re.compile(r"不|可|能|无法|[和与跟同]")
_NO = re.compile(r"不(?!限|同|分)|无法")  # "不限品类叠加" is no "no"
_ANY_COUPON = "券"  # "这个券" names no promotion by its title
# "除百亿补贴外可叠加": a yes for some offers and a no for others, which one clause cannot say
_EXCEPT = re.compile(r"除|以外|之外|例外")
# "不参与满减的商品可用券": the verb describes a noun, and the clause says something else of it
_DESCRIBES = re.compile(r"[^，。；]{0,8}的")
_CJK_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")
_SCORE = 0.93  # the answer to the question asked, ahead of the promotion's whole standing


@dataclass(frozen=True)
class _Window:
    """A clause about stacking or taking part; one starting at its polarity after the clause
    before it naming an offer (新人券也是店铺券，不能和双12券一起用)."""

    text: str
    promotion: Promotion
    subject: str  # the words before the clause's polarity (电动童车 of 电动童车不参加满减, 秒杀)
    negated: bool  # 不能和双12券一起用, 不参加, 二选一
    stacks: bool  # its verb is about stacking (叠加, 一起用), not about taking part (参加)
    of_title: bool  # a sentence starting at its polarity ("不参与满减"): said of the promotion


@dataclass(frozen=True)
class _Asked:
    said: str  # the message, normalised
    earlier: str  # the customer's previous words, which may name the promotion
    offers: frozenset[str]  # the offers it names (满减, 新人券, 8.5折)
    product: Product | None  # the product under discussion


def stacking_answer(
    text: str,
    promotions: Sequence[Promotion],
    day: date,
    earlier: str = "",
    product: Product | None = None,
) -> list[Candidate]:
    """The clause saying whether the offers the message names stack, with its yes or no; []
    when the message does not ask that or no clause of a promotion running today says.
    `earlier`: the customer's previous words ("车厘子109还有吗" before "那能跟满减一起用吗");
    `product`: the product under discussion, which a clause must speak of when the message
    names it."""
    said = normalize(text)
    stacking = asks_combining(said)
    if not (stacking or _JOINS.search(said)):
        return []
    asked = _Asked(said, normalize(earlier), frozenset(_OFFER.findall(said)), product)
    if not asked.offers:
        return []
    live = [p for p in promotions if p.active_on(day)]  # a coming one's terms hold later
    named = [p for p in live if names_promotion(said, p)]
    found = [
        w
        for p in live
        for w in _windows(p)
        if (stacking or not w.stacks)
        and _answers(w, asked)
        and _of_the_product(w, asked)
        and _of_the_promotions(w, named)
    ]
    if len({w.negated for w in found}) != 1:  # none, or "这个券" read both ways
        return []
    # one speaking of what the message names (电动童车) before one about anything, short first
    best = min(found, key=lambda w: (not _pairs(w.subject), len(w.text)))
    return [_candidate(best)]


def _windows(promotion: Promotion) -> list[_Window]:
    """Each clause of the description's customer part with a verb of stacking or taking part;
    one with nothing before its polarity ("不能和双12券一起用") after the nearest clause before it
    naming an offer (新人券也是店铺券), or said of the promotion where none does."""
    found = []
    for sentence in customer_sentences(promotion):
        clauses = [c for c in re.split(r"[，,]", sentence) if c]
        for index, clause in enumerate(clauses):
            verb = _VERB.search(clause)
            if verb is None or _EXCEPT.search(clause) or _DESCRIBES.match(clause, verb.end()):
                continue
            before = clause[: verb.start()]
            polar = _POLARITY.search(before)
            subject = before[: polar.start()] if polar else before
            negated = verb.group() == "二选一" or bool(_NO.search(before[len(subject) :]))
            stacks = bool(_STACKING_VERB.fullmatch(verb.group()))
            naming = [c for c in clauses[:index] if _OFFER.search(c)]
            of_title = not subject and not naming
            if of_title and not _OFFER.search(clause):  # "不累加": the promotion's own tiers
                continue
            text = clause if subject or of_title else f"{naming[-1]}，{clause}"
            found.append(_Window(text, promotion, subject, negated, stacks, of_title))
    return found


def _answers(window: _Window, asked: _Asked) -> bool:
    """The clause holds every offer asked about, and what it speaks of is what was asked."""
    # the title stands for the clause's subject only where the clause is said of it: "店铺首页
    # 领券，可叠加平台券" of 「双12满减」 says nothing of 满减 with 店铺券
    whole = (window.promotion.title if window.of_title else "") + window.text
    if not all(_holds(whole, offer) for offer in asked.offers):
        return False
    if window.of_title:  # the promotion is what the message names ("百亿补贴那个…")
        title = window.promotion.title
        named = any(_holds(title, o) for o in asked.offers if o != _ANY_COUPON)
        return named or bool(_pairs(_OFFER.sub("", title)) & _pairs(asked.said + asked.earlier))
    # what the clause speaks of, the message names: its offers (秒杀 of "秒杀不参与满减") and
    # its other words (电动童车 by 电动)
    if not all(offer in asked.said for offer in _OFFER.findall(window.subject)):
        return False
    words = _pairs(_OFFER.sub("", window.subject))
    return not words or bool(words & _pairs(asked.said))


def _of_the_product(window: _Window, asked: _Asked) -> bool:
    """A clause about the product the message names: by its words, or its promotion's."""
    product = asked.product
    if product is None or not _pairs(product.title) & _pairs(asked.said):
        return True
    promotion = window.promotion
    spoken = _pairs(window.text + promotion.title + promotion.rule_text)
    return product.id in promotion.product_ids or bool(_pairs(product.title) & spoken)


def _of_the_promotions(window: _Window, named: Sequence[Promotion]) -> bool:
    """A clause of a promotion the message names by its title or rule, or one naming it:
    "遥控车送电池能和店铺券一起用吗" is not answered by 「关注店铺领券」's clause."""
    if not named or window.promotion in named:
        return True
    spoken = _pairs(window.text)
    return any(_pairs(_OFFER.sub("", p.title)) & spoken for p in named)


def _holds(text: str, offer: str) -> bool:
    """满减 in 满减; 店铺券 in 店铺优惠券 (its kind and 券 both there); 券 in any coupon."""
    if offer in text:
        return True
    return offer.endswith("券") and "券" in text and offer[:-1] in text


def _pairs(text: str) -> set[str]:
    return set(_CJK_PAIR.findall(text))


def _candidate(window: _Window) -> Candidate:
    """The clause's own polarity leads; a clause that starts at its polarity ("不参与满减")
    is said of the promotion, by its title."""
    lead = "亲，不好意思，" if window.negated else "可以的亲，"
    text = window.text
    if window.of_title and window.promotion.title:
        text = f"「{window.promotion.title}」{text}"
    return Candidate(
        f"{lead}{text}哦～",
        "answer",
        Source(kb_entry_ids=(window.promotion.id,)),
        _SCORE,
        (f"{window.promotion.title}：{window.promotion.description}",),
    )
