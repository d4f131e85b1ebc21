"""What a suggested reply does, read from its words: answer, clarify, next step, or close.

An agent picks among three suggestions faster when they offer different moves (an answer, a
question back, a next step) than three wordings of one. The reading is lexical and coarse; it
is a measure of the offer, not a label any stage acts on:
- clarify: it asks the customer something (哪款, 请问, 麻烦提供/发一下, a question mark);
- next step: the agent will check, handle or escalate (稍等, 核实, 帮您查, 反馈, 联系);
- close: thanks, wishes or goodbye (感谢, 祝您, 再见, 还有什么);
- answer: anything else (it states something).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_CLOSE = re.compile(
    r"祝您|再见|感谢您?的?(?:支持|耐心|理解|光临)|还有(?:什么|其他).{0,8}(?:帮|问题)"
)
_NEXT_STEP = re.compile(
    r"稍等|核实|帮您(?:查|看|问|处理|跟进|反馈|催|联系|申请|登记)|反馈给|联系.{0,4}(?:快递|站点|仓库|售后)|马上"
)
_CLARIFY = re.compile(
    r"哪[款个一种]|请问|麻烦(?:您|亲)?(?:提供|发|说|告知|拍)|方便(?:提供|发|说)|是.{1,12}还是|[?？]\s*$"
)


def act_of(text: str) -> str:
    if _CLOSE.search(text):
        return "close"
    if _CLARIFY.search(text):
        return "clarify"
    if _NEXT_STEP.search(text):
        return "next_step"
    return "answer"


def act_metrics(offers: Sequence[Sequence[str]], k: int = 3) -> dict[str, float]:
    """Over turns (each its offered texts, best first): the mean number of different acts in
    the first k, and the share of turns whose first k hold two acts or more."""
    with_offer = [list(texts[:k]) for texts in offers if texts]
    if not with_offer:
        return {"acts_at_3": 0.0, "varied_at_3": 0.0}
    kinds = [len({act_of(t) for t in texts}) for texts in with_offer]
    multi = [texts for texts in with_offer if len(texts) > 1]
    varied = sum(len({act_of(t) for t in texts}) > 1 for texts in multi)
    return {
        "acts_at_3": round(sum(kinds) / len(kinds), 3),
        "varied_at_3": round(varied / len(multi), 3) if multi else 0.0,
    }
