"""A message read with the customer's earlier words: what to retrieve with when it only answers
the agent (`retrieval_query`), the question the agent answered with a question (`asked_before`),
and the FAQ a follow-up question and the one before it find together, when the follow-up alone
finds none (`follow_up_faq`).

"具体多大 送人用哪个好点" after "车厘子jj跟jjj差在哪", "我联想小新的 充电口是圆的那种 也行吧" after
"这个65w的能给笔记本充电吗", "下周去成都 要不要什么证明" after "20000毫安那个69的 能带上飞机吗":
each goes on with the question before it and names little of what the FAQ that answers it
says. Alone, no FAQ is ranked near the top by both retrievers; with the question before, the
shop's FAQ on it is ranked first by both (车厘子JJ和JJJ有什么区别, 65W能给笔记本充电吗, 充电宝能带上
飞机吗). Both conditions are the retrievers' agreement, so a message that says what it is about
keeps its own answers, and one that changes the subject finds nothing the two share. The FAQ so
found comes after what the message found alone (`after`): it is the less certain reading.

The caller asks only for a question before a purchase: a problem reported ("用了两次 不喜欢 能
退吗" after "三明治机") or a parcel chased ("到哪了啊" after "查个快递") is about the order, and
the FAQ the two messages find is about the product, not the answer; nor for a closing ("好嘞
谢谢"), a complaint or an offer asked about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from copilot.grounding.catalog import faq_similarity
from copilot.grounding.entry_answers import vouched
from copilot.grounding.slots import fill_slots
from copilot.types import Candidate, Conversation, Source
from kb.types import FAQ, Hit

_ALONE_RANK = 2  # an FAQ both retrievers rank this high for the message alone answers it
_TOGETHER_RANK = 1  # with the question before, only the first of both readings


def follow_up_faq(
    conversation: Conversation,
    hits: Sequence[Hit],
    search: Callable[[str], Sequence[Hit]],
    values: Mapping[str, str],
    about_another: Callable[[FAQ], bool],
) -> Candidate | None:
    """The FAQ ranked first by both retrievers for the customer's previous message and this
    one read together, when no FAQ is ranked near the top by both for this one alone and it is
    not among this one's first hits already; None otherwise, or when it is `about_another`
    product than the one under discussion ("9斤的大概有几个" after "果冻橙大果一个多大啊" is not
    answered by 脐橙中果和大果差多少)."""
    if any(isinstance(h.entry, FAQ) and vouched(h, _ALONE_RANK) for h in hits):
        return None
    asked = conversation.customer_texts
    if len(asked) < 2:
        return None
    together = "，".join(asked[-2:])
    first = next((h for h in search(together) if isinstance(h.entry, FAQ)), None)
    if first is None or not vouched(first, _TOGETHER_RANK):
        return None
    if first.entry_id in {h.entry_id for h in hits[:3]}:
        return None
    faq = first.entry
    assert isinstance(faq, FAQ)
    if about_another(faq):
        return None
    answer = fill_slots(faq.answer, values)
    if answer is None:
        return None
    # ranked as an FAQ first for the two messages, by what the question shares with them
    score = round(0.6 * faq_similarity(together, faq) + 0.4, 4)
    return Candidate(
        answer, "answer", Source(kb_entry_ids=(faq.id,)), score, (faq.question, faq.answer)
    )


def after(follow_up: Candidate, found: Sequence[Candidate]) -> Candidate:
    """`follow_up` ranked below what the message `found` alone: the less certain reading."""
    if not found:
        return follow_up
    lowest = round(min(c.score for c in found) - 0.01, 4)
    return replace(follow_up, score=min(follow_up.score, lowest))


def asked_before(conversation: Conversation) -> str:
    """The customer's question the agent answered with a question of their own ("新疆包邮不",
    "您想买哪一款呢？", "大豆被 220x240 6斤的"), with the answer; "" when the agent did not ask."""
    turns = conversation.turns
    if len(turns) < 3 or turns[-2].role != "agent" or turns[-3].role != "customer":
        return ""
    return f"{turns[-3].text}，{turns[-1].text}"


def with_earlier_ask(conversation: Conversation, asks: re.Pattern[str]) -> str:
    """The message, with the customer's one before when that one asks what `asks` finds and
    this one does not ("能退吗" then "拆了用了一天"; "能改地址吗" then "要改到公司")."""
    text = conversation.last_customer_text
    earlier = conversation.earlier_customer_texts[-1:]
    if asks.search(text) or not earlier or not asks.search(earlier[0]):
        return text
    return f"{earlier[0]}，{text}"


def retrieval_query(conversation: Conversation) -> str:
    """The message, with the customer's previous one when it answers the agent rather than
    says what it is about ("还没付呢", "对 怕买了大袋不吃" after "狗粮有没有试吃装")."""
    text = conversation.last_customer_text
    if len(text) >= 6 and not _ANSWERS_AGENT.match(text):
        return text
    earlier = conversation.customer_texts[-2:]
    return "，".join(earlier) or text


_ANSWERS_AGENT = re.compile(r"(?:对|是的|是啊|嗯+|恩+|没有|还没|不是)(?:[\s,，.。!！~～]|$)")
