"""What the shop says of a gift the customer asks about, from the running promotion giving it.

"送的鞋垫要不要备注啊", "k68拍了送垫子吗": the answer sits in one sentence of a promotion's terms
("③买加绒款送加绒保暖鞋垫1双（每单1双，按鞋码配，随单发，不用备注）"), among its coupons and price
cuts. Retrieval finds the gift as a product (鞋垫's thickness) or the promotion whole; the agent
sends the sentence: "亲，买加绒款送加绒保暖鞋垫1双，每单1双，按鞋码配，随单发，不用备注哦～".

The message asks (a statement, "昨天直播间才199还送刷头", is a price question's reason); the gift
is the word the customer puts after 送 ("送的鞋垫", "送垫子吗", "送的贴纸和书签"); a
sentence answers when it gives something (送, 赠) and names that word (垫子 by 垫), and its
promotion runs today; the sentence after it comes too when it goes on about the gifts
("赠品前500单，送完即止，自动随单不用备注"). Not for a gift reported missing ("说好送鞋垫的呢
盒子里没有") or asked for after the purchase ("现在买都送卡了 能给我补一张吗"): that is an
after-sales problem, answered by its apology and the next step, or the promotion's dates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from itertools import pairwise

from copilot.grounding.agent_notes import customer_sentences
from copilot.grounding.entry_answers import ASKS
from copilot.text.figures import normalize
from copilot.types import Candidate, Source
from kb.types import Promotion

# the word after 送 up to the question or the next word ("送的鞋垫要不要备注", "送垫子吗")
_GIFT_ASKED = re.compile(
    r"送的?([\u4e00-\u9fff]{1,4}?)(?=吗|么|嘛|不|没|呢|啊|呀|要|是|能|可|还|有|和|跟|与|了|$|[\s，,？?！!])"
)
# words after 送 that name no gift ("送的也能白的不", "送啥")
_NOT_A_GIFT = re.compile(
    r"^(?:也|都|还|就|可|能|会|要|是|啥|什么|哪|几|多少|给|到|人|货|[一二两三])"
)
_GIVES = re.compile(r"送|赠")
_RULE_PARTS = re.compile(r"[；;。\n]")  # "水壶下单送保温杯1个；直播间榨汁杯秒杀79元": two offers
_NUMBERED = re.compile(r"^[①②③④⑤⑥⑦⑧⑨⑩]")
_OF_GIFTS = re.compile(r"^(?:赠品|赠送|礼品|送的)")
# a gift reported missing, or asked for an order the promotion did not cover ("能给我补一张吗")
_MISSING = re.compile(r"没收到|没看到|没见|少了|漏发|没给|补|(?:里|箱|盒)[^，,。]{0,3}没有")
_SCORE = 0.91  # the answer to the question asked, ahead of the gift's own record


def gift_answer(text: str, promotions: Sequence[Promotion], day: date) -> list[Candidate]:
    """The sentence of a promotion running today that gives the gift the message asks about
    (see the module docstring), or nothing."""
    said = normalize(text)
    # "才199还送刷头" tells of a gift seen elsewhere, asking nothing of it
    if _MISSING.search(said) or not ASKS.search(said):
        return []
    words = _gift_words(said)
    if not words:
        return []
    for promotion in (p for p in promotions if p.active_on(day)):
        terms = [*_RULE_PARTS.split(promotion.rule_text), *customer_sentences(promotion)]
        sentences = [_NUMBERED.sub("", t).strip() for t in terms if t.strip()] + [""]
        for sentence, after in pairwise(sentences):
            if _GIVES.search(sentence) and any(w in sentence for w in words):
                # "赠品前500单，送完即止，自动随单不用备注" goes on about the gift
                told = [sentence, after] if _OF_GIFTS.search(after) else [sentence]
                return [_candidate("，".join(told), promotion)]
    return []


def _gift_words(text: str) -> set[str]:
    """The gifts named after 送, with a noun's 子 left off (垫子 is said of a 鼠标垫)."""
    found = (m.group(1) for m in _GIFT_ASKED.finditer(text))
    named = {w for w in found if not _NOT_A_GIFT.match(w)}
    return {w.removesuffix("子") if w.endswith("子") and len(w) == 2 else w for w in named}


def _candidate(sentence: str, promotion: Promotion) -> Candidate:
    body = sentence.strip(" ，,。；;").rstrip("!！~～")
    return Candidate(
        f"亲，{body}哦～",
        "answer",
        Source(kb_entry_ids=(promotion.id,)),
        _SCORE,
        (f"{promotion.title}：{promotion.rule_text}；{promotion.description}",),
    )
