"""The return rule for the product asked about, out of a policy written for the whole shop.

A trainer writes one return policy for every product, with the exceptions named inside it:
"签收7天内，未拆封的商品可以退换；猫粮狗粮等食品类拆封后不支持无理由退货", "毛绒贴身类（PL-301、
PL-302）剪吊牌、清洗过的不支持无理由", or a row of its own: "KZ2605打底裤属贴身类，拆开塑封不支持
无理由". Asked "猫不吃 开了一袋了 能退吗", the judges graded the whole policy "right, but cut it to
this case". This reply is the rule's clauses that name the product (by its id or a word of its
title), after the clauses that name no product (the rule itself), without the clauses about other
products. When a clause naming it refuses on a condition the customer says is met ("清洗过的
不支持" to "洗过一次了"), that clause alone is the reply: the judges graded it sendable, the rule
around it not. It says what the sheet says of this product, nothing more: no verdict is
composed, and a refusal of what the item may not be ("刻字口红不支持") is never said alone.
Where the product's clause refuses, the shop-wide yes ("支持7天无理由退换") is not offered beside
it (`without_shop_wide_yes`): the judges marked it a fact the KB does not hold of this product.
Nor, where the rule refuses what the customer says they did ("已洗涤的不支持" to "洗了一次 想退
掉"), is the script walking them through a return. The return may be asked in the message before
the one telling how the item was used ("能退吗", then "拆了用了一天": `return_question`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from copilot.grounding.catalog import Catalog
from copilot.grounding.follow_ups import with_earlier_ask
from copilot.text.figures import normalize
from copilot.types import Candidate, Conversation, Source
from kb.types import Policy, Product

_RETURN_RULE = re.compile(r"无理由|退货|退换|换货|不退|不换|可以?退")
# "能退吗", "不想要了", "能换成07吗": what asks for the return rule; "退货寄回去3天了 钱怎么还没
# 到账" asks after a refund under way
_ASKS_RETURN = re.compile(
    r"[能可]以?退|退[吗不么嘛]|[想要]退|退掉|无理由|不想要|不要了|换货|[能可]以?换|换成|换[吗么嘛]"
)
_NOT_A_RETURN = re.compile(r"寄回|寄过去|到账|退款|钱|差价|补差|价保")
# "用了两个月 坏了 能换吗": a fault is the quality rule's, not the no-reason return's
_FAULT = re.compile(
    r"坏|破|碎|漏|裂|故障|不亮|不转|不工作|不充电|充不进|没反应|质量|发霉|有虫|异味|变质|过敏|红疹"
    r"|发错|错发|少了|漏发|少发|掉色|褪色|开线|起球|气泡|瑕疵"
)
# a clause that says whether this product goes back: the rule for it, not a note beside it
_VERDICT = re.compile(r"支持|不退|不换|不接受|[能可]以?退|[能可]以?换")
_REFUSES = re.compile(r"不支持|不退|不换|不接受|不能退|不可以?退")
# a script walking the customer through sending the item back
_WALKS_RETURN = re.compile(r"申请售后|退货退款|申请退货")
_SAYS_RETURNABLE = re.compile(r"支持.{0,4}无理由|无理由退|[能可]以?退|可退换")
# what a refusal may hang on, and how a customer says it happened ("开了一袋", "洗过一次")
_CONDITION = re.compile(r"拆|开封|洗|用|穿|剪|戴|试")
_DONE = r"(?<![没未不])(?:{})(?:了|过|开|掉)"
_MET = {
    "拆": _DONE.format("拆|打开|开"), "开封": _DONE.format("拆|打开|开"),
    "洗": _DONE.format("洗"), "用": _DONE.format("用|使用"), "穿": _DONE.format("穿"),
    "剪": _DONE.format("剪"), "戴": _DONE.format("戴"), "试": _DONE.format("试|试穿|试戴"),
}  # fmt: skip
# "毛绒贴身类（PL-301、PL-302）": the trainer's product codes, nothing to tell the customer
_IDS_ALONE = re.compile(r"[(（][A-Za-z0-9\-、，, ]+[)）]")
_OPENING, _CLOSING, _CLAUSE_END = "(（【[", ")）】]", "。；;\n"
_BRACKETS = re.compile(r"[(（【\[][^)）】\]]*[)）】\]]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
# a word most titles carry (the brand, 家用) names no product in particular
_COMMON_SHARE = 0.4
_LONGEST = 160
_SHORTEST_ID = 3


def product_return_rule(
    conversation: Conversation, product: Product | None, catalog: Catalog
) -> list[Candidate]:
    """The return rule's clauses about `product` (see the module docstring), or nothing when
    the message asks no return, the order is still on its way ("座套能换成全黑的吗 还没发货吧" is
    a change to the order) or the rule says nothing of this product in particular."""
    order, text = conversation.order, return_question(conversation)
    if product is None or (order is not None and order.status != "delivered"):
        return []
    if not _ASKS_RETURN.search(text) or _NOT_A_RETURN.search(text) or _FAULT.search(text):
        return []
    own, others = _words_for(product, catalog)
    kept: list[str] = []
    used: list[Policy] = []
    dropped = 0
    for policy in catalog.policies:
        clauses = _clauses(policy.content)
        about = _about_product(policy, clauses, own, others, text)
        if about:
            kept, used, dropped = kept + about, [*used, policy], dropped + len(clauses) - len(about)
    body = "；".join(dict.fromkeys(_IDS_ALONE.sub("", c) for c in kept))
    # one row kept whole is an answer already (the policy reply, the entry answer)
    if not kept or len(body) > _LONGEST or not (dropped or len(used) > 1):
        return []
    return [
        Candidate(
            f"亲，{body.rstrip('。！!~～')}～",
            "answer",
            Source(kb_entry_ids=tuple(p.id for p in used)),
            0.46,
            tuple(f"{p.title}：{p.content}" for p in used),
        )
    ]


def without_shop_wide_yes(
    candidates: Sequence[Candidate],
    conversation: Conversation,
    product: Product | None,
    catalog: Catalog,
) -> list[Candidate]:
    """`candidates` without the shop-wide yes ("支持7天无理由退换哦") where one of them refuses
    this product by name ("KZ2605打底裤属贴身类，拆开塑封不支持无理由"): said beside it, the yes
    is not true of this product. Where a rule refuses what the customer says they did ("已洗涤的
    不支持" to "洗了一次 想退掉"), that rule goes first, and the script walking them through a
    return goes too."""
    text = return_question(conversation)
    asks = _ASKS_RETURN.search(text) and not _NOT_A_RETURN.search(text)
    if product is None or not asks or _FAULT.search(text):  # a fault goes back on quality
        return list(candidates)
    own, others = _words_for(product, catalog)
    refused = [c for c in candidates if _refuses_product(c.text, own)]
    as_used = [
        c for c in candidates if c.role == "answer" and _refuses_as_used(c.text, text, others)
    ]
    if not (refused or as_used):
        return list(candidates)
    said_whole = refused + as_used

    def stays(c: Candidate) -> bool:
        if c in said_whole:
            return True
        if as_used and _WALKS_RETURN.search(c.text):
            return False
        return bool(_REFUSES.search(c.text)) or not _SAYS_RETURNABLE.search(c.text)

    kept = [c for c in candidates if stays(c)]
    top = max(c.score for c in kept)
    return [replace(c, score=max(c.score, top + 0.01)) if c in as_used else c for c in kept]


def _refuses_as_used(reply: str, text: str, others: frozenset[str]) -> bool:
    """A return rule with a part refusing what the customer says they did ("但已使用、已洗涤的
    不支持" to "洗了一次"), that part naming no other product."""
    parts = re.split(r"[，,。；;\n]", reply)
    found = any(_refuses(p, text) and not _names(p, others) for p in parts)
    return found and bool(_RETURN_RULE.search(reply))


def _refuses_product(text: str, own: frozenset[str]) -> bool:
    """One clause of the text both names the product and refuses: a rule refusing other
    products ("刷头拆封后不退不换") beside its conditions for this one does not refuse it."""
    return any(_REFUSES.search(c) and _names(c, own) for c in _clauses(text))


def return_question(conversation: Conversation) -> str:
    """The message, with the customer's one before when that one asked the return and this one
    asks none but tells how the item was used ("拆了用了一天" after "键盘手感不太喜欢 能退吗")."""
    text = conversation.last_customer_text
    told = any(re.search(_MET[c], text) for c in _MET)
    return with_earlier_ask(conversation, _ASKS_RETURN) if told else text


def _about_product(
    policy: Policy, clauses: list[str], own: frozenset[str], others: frozenset[str], text: str
) -> list[str]:
    """A return rule's clauses for the product named by `own`: those naming it (one of them
    saying whether it goes back) and those naming no product, or the refusal alone."""
    if not _RETURN_RULE.search(f"{policy.title}{policy.content}"):
        return []
    naming = [c for c in clauses if _names(c, own)]
    if not any(_VERDICT.search(c) for c in naming):
        return []
    refusals = [_IDS_ALONE.sub("", c) for c in naming if _refuses(c, text)]
    return refusals or [c for c in clauses if c in naming or not _names(c, others)]


def _refuses(clause: str, text: str) -> bool:
    """The clause turns this customer down on a condition they say is met ("清洗过的不支持" to
    "洗过一次了"). To "还没拆" the rule "拆封后不支持" is no refusal; nor is a refusal of what this
    customer's item may not be ("刻字口红不支持", the lipstick maybe not engraved): the whole rule
    is said."""
    if not _REFUSES.search(clause):
        return False
    return any(re.search(_MET[c], text) for c in set(_CONDITION.findall(clause)))


def _clauses(content: str) -> list[str]:
    """The rule's clauses, split at 。；and line ends outside brackets: "（键盘：键帽齐全；耳机：
    麦克风齐全）" is one clause's aside."""
    clauses, current, depth = [], "", 0
    for char in content:
        depth += (char in _OPENING) - (char in _CLOSING and depth > 0)
        if char in _CLAUSE_END and depth == 0:
            clauses.append(current)
            current = ""
        else:
            current += char
    clauses.append(current)
    return [c.strip(" ，,") for c in clauses if c.strip(" ，,")]


def _names(clause: str, words: frozenset[str]) -> bool:
    said = normalize(clause)
    return any(word in said for word in words)


def _words_for(product: Product, catalog: Catalog) -> tuple[frozenset[str], frozenset[str]]:
    """The words naming this product, and those naming only other products."""
    words = _naming_words(list(catalog.products.values()))
    own = words.get(product.id, frozenset())
    others = frozenset(w for pid, ws in words.items() if pid != product.id for w in ws) - own
    return own, others


def _naming_words(products: Sequence[Product]) -> dict[str, frozenset[str]]:
    """Each product's id and the head word of each of its title's word groups ("琴叶榕 大型落地
    绿植": 叶榕, 绿植), without the words most titles share."""
    heads = {p.id: _title_heads(p.title) for p in products}
    counts: dict[str, int] = {}
    for found in heads.values():
        for word in found:
            counts[word] = counts.get(word, 0) + 1
    common = {
        w for w, n in counts.items() if len(products) > 2 and n > len(products) * _COMMON_SHARE
    }
    return {pid: frozenset({*_id_words(pid), *(found - common)}) for pid, found in heads.items()}


def _id_words(product_id: str) -> set[str]:
    """An id long enough not to be part of another's ("KZ2605", not "P1" of "P10")."""
    said = normalize(product_id)
    return {said} if len(said) >= _SHORTEST_ID else set()


def _title_heads(title: str) -> set[str]:
    groups = normalize(_BRACKETS.sub(" ", title)).split()
    return {run[-2:] for group in groups for run in _CJK_RUN.findall(group)[-1:]}
