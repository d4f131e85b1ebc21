"""The size to take from the size a customer usually wears: "这个小白鞋我平时穿38的 拍多大",
"平常穿M 这件拿啥码".

Shoe and clothing records carry the shop's fit advice ("偏小半码，建议拍大一码；脚瘦的拍正常码",
"标准码，按平时码拍"). The size follows from it: one up for 拍大一码, one down for 拍小一码, the
same for 标准码 / 按平时码. The reply gives that size and the advice it rests on, in the record's
own words, so its caveats (脚瘦的拍正常码) stay beside it. A record with no such advice, or
advice with no instruction in it (偏大半码 alone), gets nothing here.
"""

from __future__ import annotations

import re

from copilot.grounding.computed_answers import product_evidence
from copilot.grounding.entry_answers import product_clauses
from copilot.grounding.focus import ProductFocus
from copilot.grounding.size_charts import ASKS_SIZE
from copilot.text.figures import normalize
from copilot.types import Candidate, Conversation, Source

_LETTERS = ("XS", "S", "M", "L", "XL", "XXL", "XXXL")
_USUAL = re.compile(
    r"(?:平时|平常|一般|通常|日常|之前|一直)(?:都)?(?:穿|买|拍)?\s*"
    r"(3[3-9]|4[0-8]|xxxl|xxl|xl|xs|s|m|l)(?![a-z\d])\s*(?:码|号)?",
    re.IGNORECASE,
)
_GIVEN = re.compile(r"\s*(3[3-9]|4[0-8]|xxxl|xxl|xl|xs|s|m|l)(?![a-z\d.])\s*(?:码|号)?", re.I)
_ASKS = re.compile(r"多大|几码|什么码|啥码|哪个码|拍啥|拍什么|拿啥|选啥|穿啥|哪个号")
_ASKS_USUAL = re.compile(r"平时穿|平常穿|穿多大|多大码|几码|什么码|多少码")
# the fit advice of a record: a clause that says how its sizes run or which to take
_FIT = re.compile(r"偏大|偏小|标准码|正常码|平时码|拍大|拍小|大一码|小一码|按平时")
_UP = re.compile(r"(?:拍|选|买|建议)大(?:一|1)码|建议大一码")
_DOWN = re.compile(r"(?:拍|选|买|建议)小(?:一|1)码|建议小一码")
_SAME = re.compile(r"标准码|正常码|平时码|按平时|拍平时")


def size_for_usual(conversation: Conversation, focus: ProductFocus) -> Candidate | None:
    """The size to take, from the size the customer usually wears and the product's fit
    advice (see the module docstring), or nothing."""
    product = focus.product
    text = normalize(conversation.last_customer_text)
    usual = _USUAL.search(text)
    asked = bool(usual) and bool(ASKS_SIZE.search(text.lower()) or _ASKS.search(text))
    if usual is None and _agent_asked_usual(conversation):  # "平时穿多大码呢？" "37 脚有点胖"
        usual = _GIVEN.match(text)
        asked = usual is not None
    if product is None or usual is None or not asked:
        return None
    # "偏小半码，建议拍大一码；脚瘦的拍正常码": the advice and its caveat
    fit = [c for c in product_clauses(product) if _FIT.search(c)][:2]
    size = _advised(usual.group(1).upper(), fit[0] if fit else "")
    if size is None:
        return None
    advice = "；".join(re.split(r"[:：]", c, maxsplit=1)[-1].strip(" 。!！") for c in fit)
    reply = f"亲，平时穿{usual.group(1).upper()}的建议拍{size}哦，这款{advice}～"
    return Candidate(
        reply, "answer", Source(kb_entry_ids=(product.id,)), 0.86, (product_evidence(product),)
    )


def _agent_asked_usual(conversation: Conversation) -> bool:
    """The agent's last words asked which size the customer wears."""
    turns = conversation.turns
    before = [t for t in turns[:-1] if t.role == "agent"][-1:]
    return bool(before) and bool(_ASKS_USUAL.search(before[0].text))


def _advised(usual: str, advice: str) -> str | None:
    """The size one step up, down or the same, as the advice's first instruction says."""
    first = min(
        ((m.start(), step) for step, rule in ((1, _UP), (-1, _DOWN), (0, _SAME))
         if (m := rule.search(advice))),
        default=None,
    )  # fmt: skip
    if first is None:
        return None
    step = first[1]
    if usual.isdigit():
        return f"{int(usual) + step}码"
    at = _LETTERS.index(usual) + step
    return f"{_LETTERS[at]}码" if 0 <= at < len(_LETTERS) else None
