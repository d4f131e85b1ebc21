"""Several questions in one message, answered in one reply as an agent would.

"沐浴露哪个味好闻啊 留香久不久", "这个四叶草项链是纯银的吗 戴久了会不会掉色啊": an agent
answers both. Each question is grounded on its own, with the message's clauses that ask
nothing ("磁力片62片跟100片", "想给闺女买") kept beside it as context. When two or more
questions get different KB answers, one reply carries them in the order they were asked: the
judges graded each single answer "right, add the other part".

A question with nothing of its own to look up ("哪个好", "能用吗") is no part: alone it would
find any FAQ. Nothing is added to the answers: the reply is their texts, joined.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from copilot.grounding.asked_kinds import states_asked_kind
from copilot.grounding.catalog import Catalog, dice, name_tokens, resolve_product
from copilot.grounding.entry_answers import ASKS, asked_about
from copilot.types import Candidate, Conversation, Source, Turn
from kb.types import FAQ, Product

_CLAUSE_END = re.compile(r"(?<=[\s，,。？?！!~～；;])")
_TRIM = " \t\n，,。！!~～；;"
# question words and particles: what is left is what the question is about
_ASKING = re.compile(
    r"[吗呢么嘛啊呀吧哦?？]|多[久大少长重高宽厚]|几|怎么|怎样|什么|啥|哪[个款种里]?|咋|能不能"
    r"|可不可以|是不是|有没有|会不会|要不要|够不够|行不行|好不好|[能会可够要有]|[不没]"
)
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")  # 久不久, 热不热
_CONTENT = re.compile(r"[\u4e00-\u9fff]|[a-zA-Z0-9]+")
_MOST_PARTS = 3
_SAME_ANSWER = 0.3  # dice over tokens: the parts found one answer, or repeat its facts
_LEADING_ADDRESS = re.compile(r"^(?:亲[亲爱的]*|宝子|您好)[，,～~！!\s]*")
_TRAILING = "～~。，,；; "
# a part's answer scored below this was a guess (an FAQ found by a shared bigram, a clause
# nearest in meaning); the judges graded those 0 joined to a right one
_SURE = 0.4
_LOOKED_AT = 3
_APOLOGY = re.compile(r"抱歉|歉意|不好意思|对不起")
# "（用议价话术）已经是活动价了，引导领券": the trainer's note to agents, not a reply
_TO_AGENTS = re.compile(r"话术|引导")
_LONGEST_PART = 120  # two policy dumps joined read as one long dump
_LONGEST_JOINED = 180


class QuestionPart(NamedTuple):
    question: str  # the clause that asks: "留香久不久"
    text: str  # with the message's clauses that ask nothing: "沐浴露，留香久不久"


def question_parts(text: str) -> list[QuestionPart]:
    """The message's questions, each with the clauses that ask nothing; [] for one question."""
    clauses = [c.strip(_TRIM) for c in _CLAUSE_END.split(text)]
    clauses = [c for c in clauses if c]
    asking = [_asks(c) for c in clauses]
    if sum(asking) < 2:
        return []
    context = [c for c, asks in zip(clauses, asking, strict=True) if not asks]
    parts = [
        QuestionPart(c, "，".join([*context, c]))
        for c, asks in zip(clauses, asking, strict=True)
        if asks and _about_something(c)
    ]
    return parts[:_MOST_PARTS] if len(parts) >= 2 else []


def _asks(clause: str) -> bool:
    """ "留香久不久", "浓度多少啊" ask; "都寄回去好几天了" does not."""
    clause = _NOT_ASKING.sub("", clause)
    return bool(ASKS.search(clause) or _A_NOT_A.search(clause))


_NOT_ASKING = re.compile(r"好几|没几|几乎|十几|几十|几百")


def _about_something(clause: str) -> bool:
    """ "留香久不久" asks about 留香; "哪个好", "能用吗" need the message around them."""
    return len(_CONTENT.findall(_ASKING.sub("", clause))) >= 2


def part_answer(
    question: str, found: Sequence[Candidate], catalog: Catalog, product: Product | None
) -> Candidate | None:
    """The answer to one question, among the first few found for it: the first that says
    what is asked (an FAQ by its question: "筒到哪里" is not "从哪里发货"; an answer by its
    text: "箱子里不放价格单" for "里面会不会有价格单"), not about another product than the
    message's, sure enough of itself, no apology (a problem is one reply's work) and no dump.
    A question with nothing of its own to share ("会不会太晚") has no answer alone."""
    asked = asked_about(question)
    # "卡片机哪个划算" asks about 划算, not 卡片机; "有礼盒吗" about the gift box itself
    asked = (asked - name_tokens(product) if product is not None else asked) or asked
    for candidate in found[:_LOOKED_AT]:
        if not _sendable(candidate) or candidate.score < _SURE:
            continue
        entry_id = candidate.source.kb_entry_ids[0]
        faq = catalog.faqs.get(entry_id)
        if _about_another(entry_id, faq, product, catalog):
            continue
        says = _says_about(candidate, faq, catalog.products.get(entry_id))
        if asked & says or states_asked_kind(question, candidate.text):
            return candidate
    return None


def _says_about(candidate: Candidate, faq: FAQ | None, product: Product | None) -> set[str]:
    """What an FAQ is asked about, or what an answer from a record says beside its title."""
    if faq is not None:
        return asked_about(" ".join([faq.question, *faq.alt_questions]))
    return asked_about(candidate.text) - (name_tokens(product) if product else set())


def _sendable(candidate: Candidate) -> bool:
    return (
        candidate.role == "answer"
        and candidate.source.kind == "kb"
        and not _APOLOGY.search(candidate.text)
        and not _TO_AGENTS.search(candidate.text)
        and len(candidate.text) <= _LONGEST_PART
    )


def _about_another(
    entry_id: str, faq: FAQ | None, product: Product | None, catalog: Catalog
) -> bool:
    """ "卡片机有哪些内容？伤眼睛吗？" does not answer "眼睛会不会掉" about the plush rabbit, nor
    the trousers' size chart "95斤拍s" about the coat."""
    if product is None:
        return False
    named = _product_of(entry_id, faq, catalog)
    return named is not None and named != product


def _product_of(entry_id: str, faq: FAQ | None, catalog: Catalog) -> Product | None:
    return resolve_product(faq.question, catalog)[0] if faq else catalog.products.get(entry_id)


def about_one_product(answers: Sequence[Candidate], catalog: Catalog) -> bool:
    """ "2027的手帐从几月开始 有周计划吗": the planner's dates and the undated weekly book's
    pages answer two products' questions, not this customer's two."""
    named: set[str] = set()
    for answer in answers:
        entry_id = answer.source.kb_entry_ids[0]
        product = _product_of(entry_id, catalog.faqs.get(entry_id), catalog)
        named |= {product.id} if product is not None else set()
    return len(named) <= 1


def joined_answer(answers: Sequence[Candidate]) -> Candidate | None:
    """One reply carrying the parts' different answers in order; None when fewer than two
    differ (the parts found one answer, or one answer holds another) or together they run long."""
    kept: list[Candidate] = []
    for answer in answers:
        if all(_different(answer.text, k.text) for k in kept):
            kept.append(answer)
    if len(kept) < 2 or sum(len(k.text) for k in kept) > _LONGEST_JOINED:
        return None
    texts = [kept[0].text.rstrip(_TRAILING)]
    texts += [_LEADING_ADDRESS.sub("", k.text).rstrip(_TRAILING) for k in kept[1:]]
    entry_ids = tuple(dict.fromkeys(i for k in kept for i in k.source.kb_entry_ids))
    evidence = tuple(dict.fromkeys(e for k in kept for e in k.evidence))
    return Candidate(
        "；".join(texts) + "～",
        "answer",
        Source(kb_entry_ids=entry_ids),
        max(k.score for k in kept) + 0.01,
        evidence,
    )


def _different(a: str, b: str) -> bool:
    """Neither answer repeats a sentence of the other, and they share few words."""
    if dice(a, b) >= _SAME_ANSWER:
        return False
    sentences_a, sentences_b = _sentences(a), _sentences(b)
    return not any(s in b for s in sentences_a) and not any(s in a for s in sentences_b)


def _sentences(text: str) -> list[str]:
    core = _LEADING_ADDRESS.sub("", text)
    return [s for s in _SENTENCE_END.split(core) if len(s) >= _SENTENCE]


_SENTENCE_END = re.compile(r"[。；;！!～~？?\s]+")
_SENTENCE = 6


def asked_alone(conversation: Conversation) -> list[tuple[str, Conversation]]:
    """Each question of the last message (question_parts) with the conversation that asks it
    alone; [] when the message asks one thing."""
    turns = list(conversation.turns)
    while turns and turns[-1].role == "customer":
        turns.pop()
    return [
        (part.question, replace(conversation, turns=(*turns, Turn("customer", part.text))))
        for part in question_parts(conversation.last_customer_text)
    ]
