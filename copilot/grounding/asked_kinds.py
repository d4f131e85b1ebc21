"""What kind of fact a question asks for when it shares no word with the answer: "h1多重啊" is
answered by "机身约340g", "能用多久" by "续航约60天", "多少瓦" by "1600W".

Each kind pairs the ways customers ask with the way a product sheet states it (a number in its
unit, or the sheet's word for it). focus_answer tries this only when no word of the question
is in the product's clauses.
"""

from __future__ import annotations

import re

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
_KINDS = tuple((re.compile(asks), re.compile(stated)) for asks, stated in _KIND_WORDS.values())


def clauses_of_kind(question: str, clauses: list[str]) -> list[str]:
    """The clauses stating the kind of fact the question asks for, if it asks for one kind."""
    asked = [stated for asks, stated in _KINDS if asks.search(question)]
    if len(asked) != 1:
        return []
    return [clause for clause in clauses if asked[0].search(clause)]
