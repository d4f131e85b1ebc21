"""Whether the price drop a customer tells of is made up, by the shop's price-protection rule
applied to when they say they bought: "我11.28买的纯色四件套259 / 今天一看239了？？能退差价不".

Every shop's sheet has the rule ("付款后15天内，本店同款同规格商品页面售价降低的，可申请补差价…
满减券、店铺券、赠品…不在价保范围"), and the policy found for the message quotes it whole. The
judges graded that 1: right, but the agent still has to work out whether this purchase is inside
the window and what the difference is. This reply says it:

- a drop the customer puts down to something the rule leaves out ("现在搞满减便宜了", "今天直播间
  秒杀59") is answered with the rule's sentence that leaves it out;
- otherwise, with the day of purchase said ("11.28买的", "我3号买的", "前天买的"), whether that is
  within the window from payment (or order), counted on the clock's today, and the difference
  when the customer gave both prices.

No date is said back (the customer's words hold it; the reply's numbers are the rule's and the
computed difference). A window counted from delivery is answered only when even the purchase
falls inside it; a purchase exactly on the window's last day, a hypothetical ("要是降价了"), or a
day not said (上周) gets nothing from here: the rule itself still answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from copilot.grounding.catalog import Catalog
from copilot.grounding.named_promotions import festival_day
from copilot.text.figures import normalize
from copilot.types import Candidate, Conversation, Source
from kb.types import Policy, Promotion

_ASKS = re.compile(r"差价|价保|补差|退差|保价")
_HYPOTHETICAL = re.compile(r"要是|如果|万一|会不会|以后")
_WINDOW = re.compile(r"(?P<anchor>付款|下单|购买|签收|收货)后?\s*(?P<days>\d{1,2})\s*天内")
_FROM_DELIVERY = frozenset({"签收", "收货"})
_SENTENCE = re.compile(r"[^。；;\n]+")
# "不保价：直播间专享价、…": a list of what is left out, under its heading
_LEFT_OUT_HEADING = re.compile(r"^(?:不保价|不参与价保|不参与|不参加)\s*[：:]\s*(.+)$")
_HEADING = re.compile(r"^价保\s*[：:]\s*")
# a window of price protection, not of returns: the sentence speaks of the price coming down
_PRICE_DROP = re.compile(r"降|下调|价保|价格保护")
_ABOUT_PROTECTION = re.compile(r"价保|价格保护|保价")
_CLAUSE = re.compile(r"[^，,]+")
_LEAVES_OUT = re.compile(r"不参与|不参加|不保|不算|除外|不在.{0,4}范围|不补")
# what customers put a drop down to, as rules name it
_CAUSES = re.compile(
    r"秒杀|直播|满减|优惠券|店铺券|券|赠品|百亿补贴|补贴|福袋|抽奖|预售|以旧换新|团购|PLUS"
)
_BOUGHT = r"(?:[^，,。！!？?\s]{0,6}?)(?:买|拍|下单|下的单|付款|付的款|入手)"
_ON_DAY = (
    (re.compile(rf"(?<![\d.])(?P<m>\d{{1,2}})[月.](?P<d>\d{{1,2}})[号日]?{_BOUGHT}"), "month_day"),
    (re.compile(rf"(?<![\d.月])(?P<d>\d{{1,2}})[号日]{_BOUGHT}"), "day"),
    (re.compile(rf"(?P<ago>大前天|前天|昨天|今天){_BOUGHT}"), "ago"),
    (re.compile(rf"(?P<festival>双(?:11|十一|12|十二)){_BOUGHT}"), "festival"),
)
_DAYS_AGO = {"今天": 0, "昨天": 1, "前天": 2, "大前天": 3}
_MONEY = re.compile(
    r"(?<![\d.月/-])(\d{2,5}(?:\.\d{1,2})?)(?![\d.]|\s*(?:[号日月点斤克个片天年岁码g]|ml|cm|mm))"
)
_PROMOTION_LEAVES_OUT = re.compile(r"不(?:参与|参加|享受?|支持)价保|不保价")
_SAID_DAY = re.compile(
    rf"\d{{1,2}}月\d{{1,2}}[号日]?|\d{{1,2}}[号日]|\d{{1,2}}\.\d{{1,2}}(?={_BOUGHT})"
)
_DROP = re.compile(r"降了\s*(\d{1,5}(?:\.\d{1,2})?)\s*(?:元|块)?")
_LOOKED_BACK = 80  # characters of the customer's words: this message and the one or two before
_SCORE = 0.8  # the rule applied to this purchase: ahead of the rule quoted whole (0.45)


@dataclass(frozen=True)
class PriceProtection:
    candidate: Candidate
    computed: tuple[Decimal, ...]  # the difference worked out, for the number checks


def price_protection_answer(
    conversation: Conversation, catalog: Catalog, day: date
) -> PriceProtection | None:
    """The shop's price-protection rule applied to the purchase the customer tells of (see the
    module docstring); None when the message does not ask for it or nothing here can be said."""
    text = normalize(conversation.last_customer_text)
    if not _ASKS.search(text) or _HYPOTHETICAL.search(text):
        return None
    rule = _rule(catalog.policies)
    if rule is None:
        return None
    policy, window = rule
    # the day and the prices may come a message before the question ("我11.28买的…259")
    said = "，".join(normalize(t) for t in conversation.customer_texts)
    said = said[-_LOOKED_BACK:]
    leaving_out = _leaving_out(catalog.policies, text)
    if leaving_out is not None:  # cited by the row that says it ("不保价：…" may be its own)
        row, sentence = leaving_out
        return _reply(row, f"亲，不好意思，{sentence}哦～", ())
    running = [p for p in catalog.promotions if p.active_on(day)]
    promotion = _promotion_left_out(running, text, _prices(said))
    if promotion is not None:  # "现在秒杀69.9": 「雪地棉限时秒杀」…不参与价保
        reply = f"亲，不好意思，「{promotion.title}」的价格不参与价保哦～"
        return _reply(policy, reply, (), promotion)
    bought = _day_bought(said, day)
    if bought is None:
        return None
    anchor, days = window.group("anchor"), int(window.group("days"))
    elapsed = (day - bought).days
    if elapsed < 0 or elapsed == days or (anchor in _FROM_DELIVERY and elapsed > days):
        return None
    term = f"{anchor}后{days}天的价保期"
    if elapsed > days:
        return _reply(policy, f"亲，不好意思，您的订单已经超过{term}了，补不了差价哦～", ())
    difference = _difference(said)
    if difference is None:
        return _reply(policy, f"亲，您的订单还在{term}内，同款同规格降价可以补差价哦～", ())
    amount = f"{difference.normalize():f}"
    reply = f"亲，您的订单还在{term}内，同款同规格降价可以补差价，差价{amount}元哦～"
    return _reply(policy, reply, (difference,))


def _rule(policies: Sequence[Policy]) -> tuple[Policy, re.Match[str]] | None:
    """The first policy stating a price-protection window: "付款后15天内…售价降低的，可申请补差价";
    not a window of another rule that mentions a difference ("签收7天内可换，不同价补差价")."""
    for policy in policies:
        for sentence in _SENTENCE.findall(policy.content):
            window = _WINDOW.search(sentence)
            if window is not None and _PRICE_DROP.search(sentence):
                return policy, window
    return None


def _leaving_out(policies: Sequence[Policy], text: str) -> tuple[Policy, str] | None:
    """The price-protection row and its sentence leaving out what the customer puts the drop
    down to, if one does."""
    causes = set(_CAUSES.findall(text))
    if not causes:
        return None
    for policy in policies:
        if not _ABOUT_PROTECTION.search(policy.title + policy.content):
            continue
        for sentence in _SENTENCE.findall(policy.content):
            if _LEAVES_OUT.search(sentence) and any(c in sentence for c in causes):
                return policy, _left_out(sentence, causes)
    return None


def _left_out(sentence: str, causes: set[str]) -> str:
    """Of "秒杀、百亿补贴除外，满减/优惠券不算降价" the clause naming the cause, when one says so;
    a list under a heading ("不保价：直播间专享价、…") said as what is left out."""
    clauses = [c for c in _CLAUSE.findall(sentence) if _LEAVES_OUT.search(c)]
    said = next((c for c in clauses if any(cause in c for cause in causes)), sentence)
    said = said.strip(" ，,")
    listed = _LEFT_OUT_HEADING.match(said)
    return f"{listed.group(1)}不参与价保" if listed else _HEADING.sub("", said)


def _promotion_left_out(
    promotions: Sequence[Promotion], text: str, prices: Sequence[Decimal]
) -> Promotion | None:
    """The running promotion the drop comes from, named by its kind ("现在秒杀69.9") or by its
    price ("前天买的89 今天一看69了" where 百亿补贴 sells it at 69), when its own terms leave it
    out of price protection."""
    causes = set(_CAUSES.findall(text))
    lower = f"{min(prices).normalize():f}" if prices else None
    for promotion in promotions:
        terms = f"{promotion.rule_text}，{promotion.description}"
        named = any(cause in f"{promotion.title}{promotion.rule_text}" for cause in causes)
        # a price, not a threshold or a discount ("满59减5" sells nothing at 59)
        priced = lower is not None and re.search(
            rf"(?<![\d.满减]){re.escape(lower)}(?![\d.])", terms
        )
        if (named or priced) and promotion.title and _PROMOTION_LEAVES_OUT.search(terms):
            return promotion
    return None


def _day_bought(said: str, day: date) -> date | None:
    """The day the customer says they bought, the latest said; None when none is."""
    found: list[tuple[int, date]] = []
    for pattern, kind in _ON_DAY:
        for match in pattern.finditer(said):
            when = _as_date(match, kind, day)
            if when is not None:
                found.append((match.start(), when))
    return max(found)[1] if found else None


def _as_date(match: re.Match[str], kind: str, day: date) -> date | None:
    try:
        if kind == "ago":
            return day - timedelta(days=_DAYS_AGO[match.group("ago")])
        if kind == "festival":
            festival = festival_day(match.group("festival"))
            if festival is None:
                return None
            month, dom = festival
        elif kind == "month_day":
            month, dom = int(match.group("m")), int(match.group("d"))
        else:
            month, dom = day.month, int(match.group("d"))
            if dom > day.day:  # "我22号买的" on the 6th: last month's 22nd
                month = month - 1 or 12
        year = day.year if (month, dom) <= (day.month, day.day) else day.year - 1
        return date(year, month, dom)
    except ValueError:
        return None


def _difference(said: str) -> Decimal | None:
    """What the price came down by: "降了100", or the two prices the customer names (259 and
    239); None when it is not said that plainly."""
    drop = _DROP.search(said)
    if drop is not None:
        return Decimal(drop.group(1))
    prices = _prices(said)
    if len(prices) != 2 or prices[0] <= prices[1]:
        return None
    return prices[0] - prices[1]


def _prices(said: str) -> list[Decimal]:
    """The prices the customer names, in order, once each; "11.28买的" is a day, not one."""
    undated = _SAID_DAY.sub(" ", said)
    return list(dict.fromkeys(Decimal(p) for p in _MONEY.findall(undated)))


def _reply(
    policy: Policy, text: str, computed: tuple[Decimal, ...], promotion: Promotion | None = None
) -> PriceProtection:
    ids = (policy.id,) if promotion is None else (policy.id, promotion.id)
    evidence = [f"{policy.title}：{policy.content}"]
    if promotion is not None:
        evidence.append(f"{promotion.title}：{promotion.rule_text}{promotion.description}")
    candidate = Candidate(text, "answer", Source(kb_entry_ids=ids), _SCORE, tuple(evidence))
    return PriceProtection(candidate, computed)
