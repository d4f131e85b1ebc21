"""A trainer's notes to agents sit in the same cells as the facts customers are told.

"客户叫“冻干那款”", "报组长", "鼠标垫还剩约180份，快没了及时报" are for the agent; a
promotion's description cell "①全店、（可以跨商品凑单）\n进行中" mixes the customer's part with
the sheet's layout. Both the standing of a named promotion and a promotion found by retrieval
read its description through `customer_note`."""

from __future__ import annotations

import re

from kb.types import Promotion

# A trainer's notes to agents sit in the same cells as facts: "客户叫“冻干那款”", "报组长".
NOTE_TO_AGENTS = re.compile(
    r"[“”\"]|客户|顾客|客人|组长|可以推|推荐给|别给|不要给|内部|库存："
    r"|客服(?:提示|小贴士|注意|备注|须知)|小贴士|只能推|主推"
    r"|别乱?说|不要乱?说|不能说|只能说|别承诺|不要承诺|别提|不要提|别报|不要报|及时报|统计"
)


def customer_note(promotion: Promotion, *, combining: bool = False) -> str:
    """The description's sentences meant for customers (提醒客户提前加购 is for the agent), whole
    and as many as a reply carries (a cell listing the festival's other deals is a dump); to
    "能一起用吗" the sentences about combining."""
    kept = customer_sentences(promotion)
    limit = _NOTE_CHARS
    stacking = [s for s in kept if _ON_COMBINING.search(s)]
    if combining and stacking:  # every word of the cell on what stacks, and only that
        kept, limit = stacking, 2 * _NOTE_CHARS
    note: list[str] = []
    for sentence in kept:
        if len("，".join([*note, sentence])) <= limit:
            note.append(sentence)
    return "，".join(note)


def customer_sentences(promotion: Promotion) -> list[str]:
    """The description's sentences, each without its clauses for agents, layout and status
    words."""
    description = _NUMBERING.sub("", promotion.description)
    sentences = [_for_customers(s) for s in re.split(r"[；;。\n]", description)]
    return [s for s in sentences if s and not _STATUS_WORD.fullmatch(s)]


def _for_customers(sentence: str) -> str:
    """The sentence without its clauses for agents; "全店、（可以跨商品凑单，定制脚垫也参加）" said
    inside the reply's own brackets, with commas."""
    text = _CLOSE_AT_END.sub("", sentence.strip(" 、，,"))
    text = re.sub(r"[、，,]*[()（）][、，,]*", "，", text)
    clauses = (c.strip(" 、/") for c in text.split("，"))
    return "，".join(
        c for c in clauses if c and not NOTE_TO_AGENTS.search(c) and not c.endswith(_HEADING)
    )


# a trainer's cell "①全店、（可以跨商品凑单）\n进行中": its numbering is layout, and its status
# word the sheet's bookkeeping (the dates say whether it runs)
_NUMBERING = re.compile(r"[①②③④⑤⑥⑦⑧⑨⑩]|(?<![\d.])\d[.、]\s*(?!\d)")
_HEADING = ("：", ":")  # 店铺券：
_CLOSE_AT_END = re.compile(r"[)）]+$")
_STATUS_WORD = re.compile(r"进行中|已?结束|未开始|生效中|有效|已?失效|待定")
_ON_COMBINING = re.compile(r"叠加|同享|一起用|同时用|二选一|累加")
_NOTE_CHARS = 40
