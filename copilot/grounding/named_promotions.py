"""The promotion a customer names, answered with where it stands on the day.

Customers ask after promotions by name: "双11那个满199减30还有吗", "双12有活动不",
"猫砂秒杀能和满减券一起用吗". The shop's sheet holds the answer: the promotion's dates (ended,
running or coming), its rule and its note (秒杀价不与其他优惠同享, 可叠加以旧换新). The reply says
which: an ended one is over on its end date, with what runs now instead; a coming one starts
on its start date (said, so the staleness guardrail reads it as announced, not as current); a
running one runs until its end date. Nothing here is invented: every date, rule and note is
the sheet's.

A promotion is named by its rule or title (as staleness.names_promotion reads them), by a
festival both sides name (双十一 and 双11 alike), or by a distinctive word of its title
(秒杀, 以旧换新) when the message asks about promotions or combining them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import cache

from copilot.grounding.agent_notes import customer_note
from copilot.grounding.promotion_tiers import deals, tiers_joined
from copilot.guardrails.staleness import month_day, names_promotion
from copilot.text.figures import normalize
from copilot.types import Candidate, Source
from kb.tokens import tokenize
from kb.types import Promotion

_FESTIVAL = re.compile(
    r"双1[12]|年货节|年终|618|元旦|春节|黑五|圣诞|跨年|周年庆|国庆|中秋|五一|七夕|情人节|女神节|端午"
)
_FESTIVAL_DAYS = {"元旦": (1, 1), "圣诞": (12, 25), "跨年": (12, 31), "双11": (11, 11),
                  "双12": (12, 12), "618": (6, 18), "国庆": (10, 1), "五一": (5, 1),
                  "情人节": (2, 14), "女神节": (3, 8)}  # fmt: skip
# a coming promotion the trainer has not settled ("力度等运营通知（听说四件套2件9折，未确认）"):
# its rule is not said, rumours least of all
_UNDECIDED = re.compile(r"待定|等.{0,4}通知|未确认|听说|还没定|没定")
_FESTIVAL_SPELLINGS = (("双十一", "双11"), ("双十二", "双12"), ("双一一", "双11"))
# words every promotion title may carry: they name no promotion in particular
_GENERIC = frozenset(
    {"活动", "优惠", "限时", "限量", "冬季", "夏季", "专享", "福利", "特惠", "狂欢"}
)
# the kind of deal a rule is, said the same way by customers: "还有第二件半价吗"
_RULE_PHRASE = re.compile(
    r"第[二2]件半价|秒杀|[买拍]([一二两三1-3])[件盒瓶包袋个支]?送([一二1-2])[件盒瓶包袋个支]?"
)
_NUMERALS = str.maketrans("一二两三", "1223")
_COMBINE = re.compile(r"叠加|一起用|同时用|同享|共用|一块用|能一起|可以一起|一起享")
_DIGIT = re.compile(r"\d")
_MOST = 2  # a reply about more than two promotions is the listing's job


def asks_combining(text: str) -> bool:
    """ "能和满减券一起用吗": whether offers stack, which a listing of them does not say."""
    return bool(_COMBINE.search(text))


def named_promotions(
    text: str, promotions: Sequence[Promotion], *, asks: bool, day: date | None = None
) -> list[Promotion]:
    """The promotions the message names, surest first; `asks`: the message is about offers,
    so a title word (秒杀) may name one too; `day`: today, for a festival named by its date
    ("元旦有没有活动" names the 跨年福利 running 12月28日 to 1月3日)."""
    said = _spell_festivals(normalize(text))
    exact = [p for p in promotions if names_promotion(said, p)]
    festivals = set(_FESTIVAL.findall(said))
    by_festival = [p for p in promotions if festivals & set(_FESTIVAL.findall(_title(p)))]
    if day is not None and not by_festival:
        dates = [_next(day, *_FESTIVAL_DAYS[f]) for f in festivals if f in _FESTIVAL_DAYS]
        by_festival = [p for p in promotions if any(_covers(p, d) for d in dates)]
    by_word = [p for p in promotions if asks and _title_words(p) & set(tokenize(said))]
    phrases = _deal_kinds(said)
    by_rule = [p for p in promotions if phrases & _deal_kinds(p.rule_text)]
    return list(dict.fromkeys([*exact, *by_festival, *by_rule, *by_word]))


def named_promotion_answer(
    text: str, promotions: Sequence[Promotion], day: date, *, asks: bool, earlier: str = ""
) -> list[Candidate]:
    """Where the named promotions stand today (see the module docstring), or nothing.
    `earlier`: the customer's previous words, for "那能跟满减一起用吗" after "车厘子109还有吗"
    and "具体啥活动" after "双12有活动没"."""
    combining = asks_combining(text)
    named = named_promotions(text, promotions, asks=asks, day=day)[:_MOST]
    if not named and (combining or asks) and earlier:  # "具体啥活动" after "双12有活动没"
        named = named_promotions(earlier, promotions, asks=True, day=day)[:_MOST]
    if not named:
        return []
    outright = _named_outright(text, named) or combining
    said = tiers_joined(named)
    parts = [
        _standing(p, day, with_note=combining or p.active_on(day), combining=combining)
        for p in said
    ]
    if all(p.ends is not None and p.ends < day for p in named):
        live = [p for p in promotions if p.active_on(day)]
        if live:
            shown = deals(live)[:3]
            parts.append("现在店里有：" + "；".join(_live_name(p) for p, _ in shown))
            named += [member for _, members in shown for member in members]
    return [
        Candidate(
            "亲，" + "；".join(parts) + "～",
            "answer",
            Source(kb_entry_ids=tuple(dict.fromkeys(p.id for p in named))),
            # named outright (双11那个满199减30, 双12): the answer, ahead of a basket's quote
            0.92 if outright else 0.7,
            tuple(_evidence(p) for p in named),
        )
    ]


def _next(day: date, month: int, dom: int) -> date:
    """The festival's day this year, or next year once it has passed."""
    this_year = date(day.year, month, dom)
    return this_year if this_year >= day else date(day.year + 1, month, dom)


def _covers(promotion: Promotion, when: date) -> bool:
    starts, ends = promotion.starts, promotion.ends
    return starts is not None and ends is not None and starts <= when <= ends


def promotion_named(text: str, promotions: Sequence[Promotion], day: date) -> bool:
    """The message asks after a promotion by name or whether offers stack: its answer says
    where the promotion stands, which a price of one product does not."""
    named = named_promotions(text, promotions, asks=True, day=day)
    return bool(named) and (_named_outright(text, named) or asks_combining(text))


def _named_outright(text: str, named: Sequence[Promotion]) -> bool:
    """By its rule (or the kind of deal it is: 第二件半价), title or festival, not by a word of
    its title alone."""
    said = _spell_festivals(normalize(text))
    festivals = set(_FESTIVAL.findall(said))
    phrases = _deal_kinds(said)
    return any(
        names_promotion(said, p)
        or festivals & set(_FESTIVAL.findall(_title(p)))
        or phrases & _deal_kinds(p.rule_text)
        for p in named
    )


def _standing(promotion: Promotion, day: date, *, with_note: bool, combining: bool) -> str:
    """Ended ones are said to be over without their dates (an ended date reads as current
    knowledge gone stale); coming ones with their start date."""
    name = _display_name(promotion)
    said = customer_note(promotion, combining=combining) if with_note else ""
    note = f"（{said}）" if said else ""
    until = f"，到{month_day(promotion.ends)}" if promotion.ends else ""
    if promotion.ends is not None and promotion.ends < day:
        return f"{name}已经结束了哦"
    if promotion.starts is not None and promotion.starts > day:
        starts = month_day(promotion.starts)
        when = f"{starts}当天" if promotion.starts == promotion.ends else f"{starts}开始{until}"
        if _UNDECIDED.search(promotion.rule_text):
            return f"{name}{when}，具体力度还没公布哦"
        return f"{name}{when}：{promotion.rule_text}{note}"
    return f"{name}正在进行：{promotion.rule_text}{until}{note}"


def _display_name(promotion: Promotion) -> str:
    return f"「{promotion.title}」" if promotion.title else "这个活动"


def _live_name(promotion: Promotion) -> str:
    until = f"（到{month_day(promotion.ends)}）" if promotion.ends else ""
    return f"{_display_name(promotion)}{promotion.rule_text}{until}"


def _evidence(promotion: Promotion) -> str:
    dates = f"{promotion.starts or ''}~{promotion.ends or ''}"
    return f"{promotion.title}：{promotion.rule_text}（{dates}）{promotion.description}"


def _title(promotion: Promotion) -> str:
    return _spell_festivals(normalize(promotion.title))


def _deal_kinds(text: str) -> set[str]:
    """The kinds of deal a text names, one spelling each: 买二送一 and 拍2盒送1盒 are 2送1."""
    found = set()
    for m in _RULE_PHRASE.finditer(normalize(text)):
        bought, free = m.groups()
        found.add(f"{bought}送{free}".translate(_NUMERALS) if bought else m.group(0))
    return found


def _title_words(promotion: Promotion) -> set[str]:
    words = set(tokenize(_title(promotion))) - _generic_tokens()
    # numbers (12, 199) are quantities in a message far more often than a promotion's name
    return {w for w in words if len(w) >= 2 and not _DIGIT.search(w)}


@cache
def _generic_tokens() -> frozenset[str]:
    """The generic words as the tokenizer writes them, pinyin too (活动 is also huodong)."""
    return frozenset(token for word in _GENERIC for token in tokenize(word))


def festival_day(name: str) -> tuple[int, int] | None:
    """The month and day of a festival named either way (双11, 双十一, 元旦); None for one
    without a fixed day."""
    return _FESTIVAL_DAYS.get(_spell_festivals(name))


def _spell_festivals(text: str) -> str:
    for spelled, digits in _FESTIVAL_SPELLINGS:
        text = text.replace(spelled, digits)
    return text
