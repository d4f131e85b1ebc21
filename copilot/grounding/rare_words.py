"""The FAQ that shares a rare word with the question, once the product's own name is set aside.

Both retrievers read the whole message, so a product named in it pulls the product's record and
FAQs to the top: "10kg那个猫砂能发顺丰吗" finds the cat litters, while the answer (发什么快递？
"…也不能发顺丰") is about 顺丰. Here the words of the named product and of any question are left
out, and an FAQ (question or answer) sharing a word that few of the shop's FAQs use is the one.
The index is built once per catalog version: bigrams to the FAQs that hold them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kb.types import FAQ

Tokenizer = Callable[[str], set[str]]

# a word in at most this share of a shop's FAQs says what a message is about
_RARE_SHARE = 0.06
_ANSWER_WEIGHT = 0.7  # a word only in the answer says less than one in the question
# bigrams that join words rather than name a thing ("滴了之后" shares 之后 with "之后的次日发"),
# and the words of any purchase ("今天下单啥时候发" is not about the FAQ whose answer says 下单)
_FUNCTION = re.compile(
    r"[了的之吗呢吧啊呀哦么嘛哈着过]|以后|然后|以前|时候|现在|已经|可以|一下|一个|这个|那个|还是"
    r"|下单|付款|拍下|购买|订单|宝贝|商品|客服|急用"
)


@dataclass(frozen=True)
class RareWordIndex:
    faqs: Mapping[str, FAQ] = field(default_factory=dict)
    # rare token -> {FAQ id: its weight there (idf, less when only in the answer)}
    _weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def build(cls, faqs: Sequence[FAQ], tokenize: Tokenizer) -> RareWordIndex:
        asked: dict[str, set[str]] = {}
        held: dict[str, set[str]] = {}
        for faq in faqs:
            in_question = tokenize(" ".join([faq.question, *faq.alt_questions]))
            for token in in_question | tokenize(faq.answer):
                held.setdefault(token, set()).add(faq.id)
                if token in in_question:
                    asked.setdefault(token, set()).add(faq.id)
        rare = max(1, int(_RARE_SHARE * len(faqs)))
        weights: dict[str, dict[str, float]] = {}
        for token, ids in held.items():
            if len(ids) <= rare and len(token) > 1 and not _FUNCTION.search(token):
                idf = math.log(1 + len(faqs) / len(ids))
                in_question = asked.get(token, set())
                weights[token] = {
                    i: idf * (1.0 if i in in_question else _ANSWER_WEIGHT) for i in ids
                }
        return cls({f.id: f for f in faqs}, weights)

    def best(self, asked: set[str], minimum: float) -> tuple[FAQ, float] | None:
        """The FAQ with the most rare-word weight shared with `asked` (the question's tokens
        less product names and question words), when it reaches `minimum`."""
        scores: dict[str, float] = {}
        for token in asked:
            for faq_id, weight in self._weights.get(token, {}).items():
                scores[faq_id] = scores.get(faq_id, 0.0) + weight
        if not scores:
            return None
        faq_id, score = min(scores.items(), key=lambda item: (-item[1], item[0]))
        return (self.faqs[faq_id], score) if score >= minimum else None
