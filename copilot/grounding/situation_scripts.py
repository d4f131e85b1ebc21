"""The shop's script for the trouble the customer tells of, found by the script's title.

Trainers write scripts for the situations their customers meet after buying, and name them
by the situation: 过敏安抚, 缺件补寄, 到货发蔫安抚, 报修, 坏果处理. Their sheets carry no intent
column, so a script is offered for the intent the classifier guesses for it, and a guess of
damaged_item for "用了沐浴露身上起红疹子了" offered the generic apology instead of the shop's
过敏安抚 (stop using it, see a doctor, photos of the rash).

A script answers when its title names a kind of trouble (below) that the customer's last two
messages tell of in their own words ("起红疹子" is 过敏, "叶子都耷拉着" 发蔫, "少个灰色小片" 缺件),
and the customer has the goods in hand: a question before buying ("会过敏吗"), a fear ("花要是
闷死了") or a parcel still on its way is no report, and a hazard (冒烟) is no repair. Of several,
the one whose title names the most kinds said leads. Each kind pairs the words of a title with
the words of a customer; both are e-commerce after-sales language, not any one shop's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from copilot.grounding.catalog import Catalog
from copilot.grounding.shop_scripts import names_stale_promotion
from copilot.grounding.slots import fill_slots
from copilot.templates import has_bought
from copilot.types import Candidate, Conversation, Source

# kind: (the words naming it in a script's title, the words telling of it in a message)
_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "allergy": (
        re.compile(r"过敏"),
        re.compile(r"过敏|红疹|疹子|起疹|发痒|好痒|很痒|刺痛|泛红|红肿|起痘|闷痘|烂脸"),
    ),
    "missing": (
        re.compile(r"缺件|少件|漏发|少发|补寄"),
        re.compile(r"少了|少个|少一|缺了|缺个|缺少|漏发|少发|没有?(?:配件|零件|螺丝)"),
    ),
    "wilting": (re.compile(r"蔫"), re.compile(r"蔫|耷拉|垂头|没精神")),
    "dying": (
        re.compile(r"包活"),
        # "是不是快死了" fears it, of a plant that only wilts
        re.compile(r"(?<!快)死了|烂根|断杆|冻伤|冻坏|冻死|黑了|烂了"),
    ),
    "fault": (
        re.compile(r"报修|维修|故障"),
        re.compile(
            # not 冒烟 or 焦味: a hazard, where a repair script's "拍一段故障视频" would have
            # the customer run it again
            r"不转|不工作|不加热|没反应|故障|失灵|不亮|不充电|充不进|死机|异响|用不了"
            r"|打不开|开不了机|不出水|不出风|不制冷"
        ),
    ),
    "spoiled": (re.compile(r"坏果|烂果|变质"), re.compile(r"烂|坏果|发霉|霉了|变质|臭了")),
    "taste": (re.compile(r"口感|不甜|不好吃"), re.compile(r"不甜|难吃|不好吃|没味|口感差")),
    "damaged": (
        re.compile(r"破损|压坏|碎"),
        re.compile(r"破了|破损|碎了|裂了|裂开|压扁|压坏|凹了|变形|磕坏"),
    ),
    "wrong": (re.compile(r"错发|发错"), re.compile(r"发错|错发|不是我(?:买|拍|要)的")),
}
# the goods are not in hand: "花要是闷死了我直接投诉" is about the wait
_NOT_ARRIVED = frozenset({"unpaid", "paid", "shipped"})
_FEARED = re.compile(r"要是|如果|万一|会不会|怕")
_SAID = 2  # the customer's messages read for the trouble: the latest and the one before
# the score of the shop's rule for a reported problem: the script comes after that rule, which
# is the concrete one (换新 within 15 days; 车厘子 by weight, where the script says by count)
_SCORE = 0.45


def situation_scripts(
    conversation: Conversation, catalog: Catalog, values: Mapping[str, str], day: date
) -> list[Candidate]:
    """The script whose title names the trouble the customer tells of, or nothing."""
    order = conversation.order
    if not has_bought(conversation) or (order is not None and order.status in _NOT_ARRIVED):
        return []
    customer = "，".join(conversation.customer_texts[-_SAID:])
    if _FEARED.search(customer):
        return []
    said = {kind for kind, (_, words) in _KINDS.items() if words.search(customer)}
    if not said:
        return []
    ranked = []
    for script in catalog.scripts:
        named = {kind for kind in said if _KINDS[kind][0].search(script.title)}
        if named and not names_stale_promotion(script.text, catalog, day):
            text = fill_slots(script.text, values)
            if text is not None:
                ranked.append((len(named), text, script.id, script.text))
    if not ranked:
        return []
    _, text, script_id, written = max(ranked, key=lambda r: r[0])
    return [Candidate(text, "script", Source(kb_entry_ids=(script_id,)), _SCORE, (written,))]
