"""Does a bank reply fit this moment of the conversation? Two rules agents keep without thinking:

- a closing pleasantry ("感谢您对京东的支持，祝您生活愉快，再见", "请问还有其他可以帮到您的吗")
  only when the customer closes: thanks, says goodbye, or says nothing else is needed. Offered
  while they are mid-problem it makes the agent look careless. The shop's own thanks and
  greeting scripts too, when only the intent guess says the customer closes;
- an apology or a remedy (给您带来不便, 为您补发, 拍照) only after a purchase: a
  pre-sales question ("这个杯子能装开水吗") is never answered with an apology for a leaking cup;
- a parcel that has left is not hurried at the warehouse ("已经帮您给仓库备注加急了") nor said
  to be waiting ("还没发出"): the attached order says shipped;
- a request for a good review ("麻烦给个五星好评呀") only to a content customer who closes: to
  "我要给差评" it reads as not listening. This one holds for the shop's own scripts too.

Bank replies are mined from what agents said in other conversations, so they carry the
situation they were written for; KB answers and the intent's templates are chosen for this one.
"""

from __future__ import annotations

import re

from copilot.templates import has_bought
from copilot.types import Candidate, Conversation, Intent

_PLEASANTRY = re.compile(
    r"感谢您?对.{0,8}的?支持|祝您?.{0,6}(?:生活愉快|购物愉快|愉快|顺利)|再见|拜拜"
    r"|(?:请问)?(?:您)?还有(?:其他|什么|别的).{0,12}?(?:帮到|帮您|帮助|为您|效劳|问题)[^，。！？!?]*"
    r"|(?:请问)?有什么可以帮您的?吗?"
    r"|欢迎(?:您的)?下次光临|期待您?的?再次光临|客气了?|不客气|应该的|很高兴为您服务"
)
_FILLER = re.compile(r"[\s，,。.！!？?～~、亲呢哦哈嗯的吗呀]+|您好|亲爱的|请问")
_CLOSING = re.compile(
    r"谢谢|感谢|多谢|thx|3q|好的|好滴|好哒|好嘞|行了|可以了|没有了|没了|没事了|没问题|知道了"
    r"|明白了|了解|收到|拜拜|再见|ok|嗯嗯?$|👌|👍",
    re.IGNORECASE,
)
# An apology or a remedy for this customer's problem; a return policy mentioned as reassurance
# ("签收30天内起球严重的可以退货") is a fine pre-sales answer.
_AFTER_SALES_REPLY = re.compile(
    r"抱歉|不好意思给您|给您带来(?:的)?不便|[为给]您(?:补发|退款|重新发|换一|赔)|理赔|拍照|拍一下"
    r"|照片"
)
_BEFORE_SHIPPING = re.compile(
    r"还没发|未发出|没发出|尚未发|催.{0,3}仓库|仓库.{0,4}加急|备注加急|加急发|尽快.{0,2}发出|发出后物流"
)
_LEFT = frozenset({"shipped", "delivered"})
_SOCIAL_INTENTS = frozenset({"thanks", "greeting", "chitchat"})


def only_pleasantry(text: str) -> bool:
    """The reply is a pleasantry and nothing else (what is left is filler)."""
    if not _PLEASANTRY.search(text):
        return False
    return not _FILLER.sub("", _PLEASANTRY.sub("", text))


def customer_closes(conversation: Conversation, intent: Intent) -> bool:
    return closes(intent.label, conversation.last_customer_text)


def closes(label: str, text: str) -> bool:
    """The guess reads a social moment, or the customer's words `text` thank, agree or sign off
    ("好嘞 那我去拍了 谢谢") whatever the guess read."""
    return label in _SOCIAL_INTENTS or says_closing(text)


def says_closing(text: str) -> bool:
    return bool(_CLOSING.search(text))


def fits_the_moment(candidate: Candidate, conversation: Conversation, intent: Intent) -> bool:
    text = candidate.text
    if only_pleasantry(text) and not customer_closes(conversation, intent):
        return False
    if review_out_of_place(text, conversation, intent.label):
        return False
    pre_sales = intent.family in ("pre_sales", "") and not has_bought(conversation)
    return not (pre_sales and _AFTER_SALES_REPLY.search(text)) and not waits_for_shipping(
        text, conversation
    )


def waits_for_shipping(text: str, conversation: Conversation) -> bool:
    """The reply treats the parcel as not yet sent while the attached order says it has left."""
    order = conversation.order
    return order is not None and order.status in _LEFT and bool(_BEFORE_SHIPPING.search(text))


# not "不好评价别家" (no comment on other brands), not "五星级酒店"
_REVIEW_ASKED = re.compile(r"(?<!不)好评(?!价)|[五5]星(?!级)|晒图|追评|给个评价")
_DISCONTENT = re.compile(
    r"差评|投诉|垃圾|骗|退款|退货|坏|烂|破|不满意|生气|失望|质量|问题|没收到|还没"
)


def review_out_of_place(text: str, conversation: Conversation, label: str) -> bool:
    """The reply asks for a good review while the customer is not a content one closing."""
    if not _REVIEW_ASKED.search(text):
        return False
    said = conversation.last_customer_text
    return label == "complaint" or not closes(label, said) or bool(_DISCONTENT.search(said))


# a problem told earlier in the conversation ("收到沐浴露漏了一箱子😡"), which "对 刚拿到" goes on
# telling: the words of _DISCONTENT and the ways a parcel arrives wrong
_PROBLEM_TOLD = re.compile(r"漏|发错|少发|漏发|缺件|少了|😡|😤")
_RECENT = 4  # customer turns looked back over


def closing_out_of_place(candidate: Candidate, conversation: Conversation, label: str) -> bool:
    """A script written for a social moment (thanks, a greeting) offered because the guess said
    so, while the customer's own words do not close and they told a problem a turn or two ago:
    "感谢亲的支持～祝您生活愉快" to "对 刚拿到" after "收到沐浴露漏了一箱子😡"."""
    if candidate.role != "script" or label not in _SOCIAL_INTENTS:
        return False
    if says_closing(conversation.last_customer_text):
        return False
    said = conversation.customer_texts[-_RECENT:]
    return any(_DISCONTENT.search(text) or _PROBLEM_TOLD.search(text) for text in said)
