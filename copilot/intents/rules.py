"""What the intent classifier (copilot.intents.classifier) knows without a model: the taxonomy, text
clean-up, keyword rules and turn cues (labelled example files: copilot.intents.examples).

The embedding kNN generalises; the rules are the high-precision part: words that on their own
settle what a customer-service message is about (退货, 补发, 工单, 12315 ...). A rule only adds
weight to its label and the classifier mixes that with the kNN vote, so two rules that disagree
(投诉工单 is about a work order, not a complaint) are settled by the examples. A keyword right
after a negation (换货不退货) does not count. Customers mistype by sound (退或 for 退货, 吃码
for 尺码) and type pinyin (tuihuo), so rules with syllables also match the toneless pinyin.

The turn cues read the conversation around a message: is it a bare acknowledgement (好的,
嗯嗯), a slot value the agent asked for (an address, a phone number, a waybill, a photo), did
the agent's last turn ask for something, is the message nothing but social words?
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeAlias

from copilot.types import Turn

SlotKind: TypeAlias = Literal["address", "phone", "tracking", "photo"]

# ---------------------------------------------------- taxonomy (see copilot.intents.classifier)


@dataclass(frozen=True)
class IntentInfo:
    family: str
    description: str


_TAXONOMY = (
    ("product_question", "pre_sales", "what a product or service is, does, is made of"),
    ("spec_size", "pre_sales", "which size, capacity or specification fits"),
    ("stock", "pre_sales", "in stock, sizes or colours left, restock date"),
    ("price_promotion", "pre_sales", "price, coupons, discounts, gifts, free shipping"),
    ("shipping_time", "pre_sales", "when it ships, how long delivery takes, which carrier"),
    ("change_address", "in_sales", "change the delivery address, or the new address itself"),
    ("change_phone", "in_sales", "change the contact phone, or the new number itself"),
    ("order_note", "in_sales", "remarks on an unshipped order: spec fix, carrier, packaging"),
    ("logistics_tracking", "in_sales", "where the parcel is, tracking number, stalled tracking"),
    ("urge_delivery", "in_sales", "asks to ship or deliver faster"),
    ("usage_question", "in_sales", "how to use, clean or care for the product"),
    ("return", "after_sales", "return or refund the goods"),
    ("exchange", "after_sales", "exchange for another size, colour or a new piece"),
    ("damaged_item", "after_sales", "arrived broken, defective or stopped working"),
    ("missing_item", "after_sales", "missing piece, accessory or gift; empty parcel"),
    ("price_difference", "after_sales", "price dropped after purchase: price protection"),
    ("reship", "after_sales", "send it again, or the state of a re-shipment"),
    ("refund_status", "after_sales", "progress of a refund, when the money arrives"),
    ("problem_parcel", "express", "a parcel that cannot be delivered: stuck, refused, lost"),
    ("work_order", "express", "a ticket: file one, its progress or result"),
    ("arbitration_claim", "express", "compensation claims and platform arbitration"),
    ("greeting", "general", "hello, are you there"),
    ("thanks", "general", "thanks or a closing acknowledgement"),
    ("chitchat", "general", "small talk, stickers, no business content"),
    ("ask_human", "general", "wants a human agent or a supervisor"),
    ("complaint", "general", "anger, threats, complaints about the service or shop"),
    ("other", "general", "business outside this taxonomy: invoices, membership, stores"),
)
INTENTS: dict[str, IntentInfo] = {label: IntentInfo(fam, text) for label, fam, text in _TAXONOMY}
LABELS: tuple[str, ...] = tuple(INTENTS)
SOCIAL_LABELS = frozenset({"greeting", "thanks", "chitchat"})


def family_of(label: str) -> str:
    info = INTENTS.get(label)
    return info.family if info else "general"


# ---------------------------------------------------------------- text clean-up

# Anonymisation placeholders of exported chats (JDDC, shop exports) become plain stand-ins, so
# "退了<num>天" still reads as a number of days; emoji codes and user ids carry nothing.
_PLACEHOLDERS = (
    (re.compile(r"#E-\w+?(<num>|\[数字x\])|USERID_\w+|\[姓名x\]|\[(动画)?表情\]"), " "),
    (re.compile(r"<num>|\[数字x\]"), "1"),
    (re.compile(r"\[金额x\]"), "1元"),
    (re.compile(r"\[日期x\]"), "1日"),
    (re.compile(r"\[订单x\]"), "订单"),
    (re.compile(r"\[电话x\]"), "电话"),
    (re.compile(r"\[地址x\]"), "地址"),
    # A pasted link is a product or order the customer wants to talk about.
    (re.compile(r"<url>|\[链接x\]|https?://\S+"), " 链接 "),
    # JD's entry menus type the button pressed into the chat ("壶类---购买前咨询"): a channel,
    # not something the customer said.
    (re.compile(r"\S*类-+(购买前咨询|收货后疑问解答)|(未|已)购买咨询组"), " "),
)
_SPACES = re.compile(r"\s+")
_EMOJI = re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")
_ACK_WORDS = (
    r"好的?|好滴|好嘞|好吧|嗯+|恩+|哦+|噢|ok|okay|行|可以|对|对的|是的?|收到|明白了?|知道了"
)
# A bare acknowledgement: nothing but these words and punctuation ("好的 谢谢" is thanks and
# "好的 寄回地址是哪" a question: neither is a bare "yes").
_ACK = re.compile(
    rf"^(?:{_ACK_WORDS}|要的?|需要|稍等|等一?下|我找一下|我看看|马上|没问题|[,，.。!！~～、\s])+$",
    re.IGNORECASE,
)
# A leading acknowledgement before the actual question: the question decides the intent.
# It must end in a separator: "好多天了" and "收到的是M" do not start with an acknowledgement.
_LEADING_ACK = re.compile(rf"^(?:(?:{_ACK_WORDS})+[\s,，.。!！~～]+)+", re.IGNORECASE)
# "在吗" as customers type it: 在不 / 在没 / 有人没 / 有没有人 / 人呢
_ARE_YOU_THERE = (
    r"在吗|在不在|在么|在嘛|在不|在没有?|有人[吗没不么]|有人在[吗没不么]?|有没有人|人呢"
)
# Words with no business content: greetings, thanks, acknowledgements, interjections.
_SOCIAL_WORDS = re.compile(
    rf"{_ACK_WORDS}|你好|您好|{_ARE_YOU_THERE}|哈喽|嗨|hi|hello|亲+|客服|早上好"
    r"|晚上好|中午好|谢谢?|多谢|感谢|辛苦了?|麻烦了?|你了|您了|啦|呀|哈+|呵+|嘻+|嘿+|额+|呃+|"
    r"啊+|哇+|了|的|吧|呢",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """The message with placeholders replaced and single spaces; may be empty."""
    for pattern, stand_in in _PLACEHOLDERS:
        text = pattern.sub(stand_in, text)
    return _SPACES.sub(" ", text).strip()


def without_leading_ack(text: str) -> str:
    """ "好的 寄回地址是哪" -> "寄回地址是哪"; a bare acknowledgement is returned unchanged."""
    rest = _LEADING_ACK.sub("", text).strip()
    return rest if len(rest) >= 2 and not is_acknowledgement(rest) else text


def model_text(text: str) -> str:
    """What the embedder sees of a customer message, in every stage: the intent, the KB and the
    response bank then share one e5 call (a query-cache hit) instead of one each."""
    return without_leading_ack(normalize(text)) or text


def is_acknowledgement(text: str) -> bool:
    stripped = _EMOJI.sub("", text).strip()
    return bool(stripped) and len(stripped) <= 12 and bool(_ACK.match(stripped))


def is_social_only(text: str) -> bool:
    """Nothing but greetings, thanks, acknowledgements, emoji and punctuation."""
    rest = _SOCIAL_WORDS.sub("", _EMOJI.sub("", text))
    return len(re.sub(r"[\W_]+", "", rest)) <= 1


def is_markup_only(raw: str) -> bool:
    """Nothing left after placeholders, emoji and punctuation: a sticker or an emoji code."""
    return not re.sub(r"[\W_]+", "", _EMOJI.sub("", normalize(raw)))


# ---------------------------------------------------------------- keyword rules


@dataclass(frozen=True)
class Rule:
    label: str
    name: str  # shown in the reasons: "rule:退货"
    pattern: re.Pattern[str]
    weight: float = 1.0
    pinyin: tuple[str, ...] = ()  # syllable sequences ("tui huo") matched on the pinyin text


def _rule(label: str, name: str, weight: float, pinyin: str, *alternatives: str) -> Rule:
    syllables = tuple(pinyin.split("|")) if pinyin else ()
    return Rule(label, name, re.compile("|".join(alternatives), re.IGNORECASE), weight, syllables)


# Weight 1.0: words that settle the intent alone. Less: words that usually do but also occur in
# neighbouring intents (发货 is shipping_time unless it comes with 催 or 还没).
# fmt: off
RULES: tuple[Rule, ...] = (
    _rule("return", "退货", 1.0, "tui huo",
          r"退货|退掉|退(了)?吧|退回去|无理由|仅退款|不想要|我要退|想退|能退",
          r"可以退"),
    _rule("exchange", "换货", 1.0, "huan huo",
          r"换货|换码|换(个|成|一)?[大小][一半]?[码号]",
          r"换(成|个)?[SMLX]{1,3}码?\b",
          r"换.{0,3}(颜色|尺码|尺寸|款|新的)"),
    _rule("damaged_item", "破损", 1.0, "",
          r"破损|坏了|坏的|碎了|裂[了开缝]|漏水|漏电|划痕|凹痕|瑕疵|质量问题",
          r"不保温|掉漆|生锈|跑绒|开线|破洞|污渍|没反应|变形|失灵|故障|异响"),
    _rule("missing_item", "少件", 1.0, "",
          r"少发|漏发|少了|缺件|缺了|空包|只收到|赠品(呢|没)",
          r"没收到.{0,4}(赠品|配件)",
          r"(没有|没看到).{0,2}(盖子|说明书|配件|赠品)",
          # the wrong item sent: a problem with what arrived, like a missing one ("发错了" alone
          # is a customer's own message sent by mistake)
          r"发错.{0,2}(货|颜色|色|码|尺码|型号|款|东西|商品|规格)|错发(?!地)|发成了",
          r"发来的(是|却是).{0,12}(发错|不是)|发的不是我(买|拍|要|订)的"),
    _rule("price_difference", "差价", 1.0, "jia bao|cha jia",
          r"差价|补差|价保|价格保护|降价|便宜了"),
    _rule("reship", "补发", 1.0, "bu fa",
          r"补发|重发|补寄|重新.{0,2}(发|寄)"),
    _rule("refund_status", "退款进度", 1.0, "",
          r"退款.{0,8}(到账|进度|多久|什么时候|呢|没|了吗|处理|几天)",
          r"钱.{0,4}(退|回来|到账)|(处理|办理)退款|退款中"),
    _rule("logistics_tracking", "物流", 1.0, "wu liu",
          r"物流|快递到哪|到哪了|单号|查件|运输中|派送中"),
    _rule("urge_delivery", "催", 1.0, "",
          r"催|快点|赶紧|加急|尽快|还(不|没)发|没发|急用|优先"),
    _rule("change_address", "改地址", 1.0, "",
          r"(改|换|修改|填错|写错|选错).{0,8}地址",
          r"地址.{0,8}(改|错|换)|门牌号|新的?.{0,4}地址"),
    _rule("change_phone", "改手机号", 1.0, "",
          r"(手机|电话|号码|联系方式).{0,6}(改|错|换)",
          r"(改|换|修改).{0,6}(手机|电话|号码)|换号",
          r"新的?(手机号|电话|联系电话)"),
    _rule("order_note", "备注", 1.0, "",
          r"备注|留言|指定.{0,3}快递|合并|包装|贺卡|拍错|价格标签",
          r"晚.{0,3}发"),
    _rule("usage_question", "怎么用", 1.0, "",
          r"怎么(用|使用|洗|清洗|拆|装|设置|充电|煮|定时|安装)|清洗|机洗|预热",
          r"使用方法|说明书|食谱"),
    _rule("shipping_time", "发货时间", 0.5, "",
          r"(什么时候|多久|几天|当天|今天).{0,3}(发货|发|到)|几天到|多久到",
          r"什么快递|哪个快递|截单|次日达|当日达|发货吗|能发吗"),
    _rule("stock", "库存", 1.0, "ku cun|bu huo",
          r"有货|现货|没货|无货|缺货|断货|断码|补货|库存|卖完|还有吗|下架"),
    _rule("price_promotion", "优惠", 0.7, "you hui",
          r"优惠|便宜|折扣|打折|几折|满减|满\d+减|券|多少钱|价格|到手价|专属价",
          r"会员价|赠品|包邮"),
    _rule("spec_size", "尺码", 0.7, "chi ma",
          r"尺码|码数|几码|什么码|多大码|哪个码|穿.{0,3}码|偏大|偏小|\d+斤",
          r"身高|腰围|胸围|肩宽|容量|尺寸|规格|多高|多长|几升",
          r"\d+\s?(ml|l)\b"),
    _rule("product_question", "商品", 0.7, "",
          r"材质|面料|纯棉|鸭绒|异味|保温(效果|多久)|能装|能寄|多少运费|运费多少",
          r"链接|区别|正品"),
    _rule("problem_parcel", "问题件", 1.0, "",
          r"问题件|派送失败|无法派送|滞留|退回|拒收|签收.{0,6}没|异常|超区",
          r"联系不上|派不了|不派"),
    _rule("work_order", "工单", 1.0, "",
          r"工单"),
    _rule("arbitration_claim", "理赔", 1.0, "",
          r"理赔|赔偿|赔付|赔多少|怎么赔|能赔|仲裁|平台介入|保价.{0,6}赔"),
    _rule("ask_human", "人工", 1.0, "",
          r"人工|真人|主管|店长|换个客服|转接|领导"),
    _rule("complaint", "投诉", 1.0, "",
          r"投诉|差评|12315|曝光|律师|工商|消协|骗子|垃圾|气死|什么破|太差",
          r"差劲|恶劣|举报|坑人"),
    _rule("thanks", "谢谢", 1.0, "",
          r"谢|辛苦|\bthx\b|thanks",
          # "好的 那我下单了": the customer closes by buying
          r"(?:^|[那好行嗯,，\s])我?(?:就|这就|现在|马上)?去?(?:下单|拍下?|付款)(?:了|啦|咯|哈)?"
          r"[哈啊呀哦~～!！。\s]*$"),
)
# fmt: on


@lru_cache(maxsize=4096)
def _pinyin_text(text: str) -> str:
    """' tui huo zen me ' form: syllables and lower-cased latin runs, space separated."""
    from pypinyin import Style, lazy_pinyin

    parts = lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: chars.lower())
    return " " + " ".join(p.strip() for p in parts if p.strip()) + " "


def _pinyin_hit(rule: Rule, text: str) -> bool:
    if not rule.pinyin:
        return False
    spoken = _pinyin_text(text)
    latin = [w for w in spoken.split() if w.isascii()]
    return any(
        f" {syllables} " in spoken or any(syllables.replace(" ", "") in w for w in latin)
        for syllables in rule.pinyin
    )


# A keyword right after a negation does not count: "换货不退货" is no return request.
_NEGATION = ("不", "别", "没", "无需", "不用")


def _affirmed(rule: Rule, text: str) -> bool:
    return any(not text[: m.start()].endswith(_NEGATION) for m in rule.pattern.finditer(text))


def match_rules(text: str) -> tuple[Rule, ...]:
    """The rules that fire on a (normalised) message; pinyin matches count as matches."""
    return tuple(
        rule
        for rule in RULES
        if (_affirmed(rule, text) if rule.pattern.search(text) else _pinyin_hit(rule, text))
    )


_GREETING = re.compile(
    rf"^(?:你好|您好|{_ARE_YOU_THERE}|哈喽|嗨|hi|hello|早上好|中午好|晚上好"
    r"|亲+|客服|请问|老板|呀|啊|[\s,，.。!！~～?？])+$",
    re.IGNORECASE,
)


def is_greeting(text: str) -> bool:
    """Only greeting words: "在吗", "哈喽 亲"."""
    return bool(_GREETING.match(_EMOJI.sub("", text).strip()))


# ---------------------------------------------------------------- turn cues

# Slot values an agent asks for. An address: place words followed by a number or a building
# word; a mainland mobile number (11 digits from 1, spaces allowed); a waybill (letters and 8+
# digits); a photo placeholder.
_ADDRESS = re.compile(
    r"(省|市|区|县|镇|路|街|号|栋|幢|单元|室|小区|村).{0,20}(\d|号|栋|室)|\d+(号|栋|室)"
)
_PHONE = re.compile(r"(?<!\d)1[3-9]\d(?:[\s-]?\d){8}(?!\d)")
_TRACKING = re.compile(r"\b[A-Z]{1,4}\d{8,}\b")
_PHOTO = re.compile(r"\[(图片|照片|视频)\]")
_QUESTION = re.compile(r"[?？吗呢]")
# The agent asked for something: a question or a request for information.
_AGENT_ASKS = re.compile(r"[?？]|吗|呢|请|麻烦|提供|发(给)?我|告诉|需要|是否|还是|哪|几|多少")


def slot_kind(text: str) -> SlotKind | None:
    """The kind of value the message mostly is, or None for an ordinary message."""
    if _PHOTO.search(text):
        return "photo"
    if _PHONE.search(text):
        return "phone"
    if _TRACKING.search(text) and len(text) <= 24:
        return "tracking"
    if _ADDRESS.search(text) and not _QUESTION.search(text):
        return "address"
    return None


def agent_asks(text: str) -> bool:
    return bool(_AGENT_ASKS.search(text))


def split_turns(turns: Sequence[Turn]) -> tuple[str, str, str]:
    """(the customer's latest message, the agent turn before it, the customer turn before that).

    Consecutive turns of one side are one turn: people send a thought in several messages.
    """
    blocks: list[tuple[str, list[str]]] = []
    for turn in turns:
        if blocks and blocks[-1][0] == turn.role:
            blocks[-1][1].append(turn.text)
        else:
            blocks.append((turn.role, [turn.text]))
    while blocks and blocks[-1][0] != "customer":
        blocks.pop()
    texts = ["，".join(parts) for _, parts in blocks][-3:]
    return tuple(([""] * (3 - len(texts)) + texts)[::-1])  # type: ignore[return-value]


# An agent's long turn ends with what it asks ("…请问您的订单号是多少"); embedding cost grows
# with length, so the context is read from the last characters of each turn.
_CONTEXT_CHARS = 48


def turn_tail(text: str) -> str:
    if len(text) <= _CONTEXT_CHARS:
        return text
    tail = text[-_CONTEXT_CHARS:]
    # Start after the first clause break, so the tail does not open mid-clause.
    breaks = [i for i in (tail.find(mark) for mark in "。！？!?，,；;") if i >= 0]
    start = min(breaks, default=-1)
    return tail[start + 1 :] if 0 <= start < _CONTEXT_CHARS // 2 else tail


def agent_context_text(agent_turn: str) -> str:
    """What the embedder sees of the agent's turn a customer message answers, in every stage
    that reads it (the intent's context, the response bank's neighbours): one e5 call."""
    return without_leading_ack(normalize(turn_tail(agent_turn)))


def last_agent_turn(turns: Sequence[Turn]) -> str:
    """The agent's latest turn, consecutive messages joined as `split_turns` joins them: what
    the customer's next message answers (and the `agent` part of split_turns once it comes)."""
    parts: list[str] = []
    for turn in reversed(turns):
        if turn.role == "agent":
            parts.append(turn.text)
        elif parts:
            break
    return "，".join(reversed(parts))
