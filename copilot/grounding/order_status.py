"""Where the customer's own order stands, when that is what they ask: "发货了没 单号多少",
"物流三天没更新了 咋回事", "拍了两天了怎么还不发货".

The attached order says it: shipped with its tracking number, or paid and not yet out. The reply
states that and the next step an agent takes (look it up with the courier, hurry the warehouse);
it promises no date, and its only number is the order's own.
"""

from __future__ import annotations

import re

from copilot.grounding.catalog import Catalog
from copilot.types import Candidate, Conversation, Order, Source

_STUCK = re.compile(r"到哪|没更新|不更新|没动|不动|卡在|卡哪|卡住|还没到|没到|几天了|好几天")
_SHIPPED_YET = re.compile(r"发了没|发了吗|发货了[吗没？?]|发没发|单号|什么快递|哪个快递|哪家快递")
_NOT_OUT = re.compile(r"(?:还|咋|怎么|为啥|为什么).{0,3}不发|还没发|没发货|什么时候发|啥时候发|催")
# "地址填错了 能改吗 还没发吧": a change asked for before it leaves, not where it is
_CHANGE = re.compile(r"改|换|拍错|加一|加个|合并|一起发|备注|取消|晚点发|别发|先不发")
# a pre-sale, or a product sent on set days (车厘子每周二、周五发), is not late: its own record
# says when it leaves, and hurrying the warehouse would be the wrong answer
_SHIPS_LATER = re.compile(r"预售|每周|周[一二三四五六日](?:、|和|及)周?[一二三四五六日]")
_SCORE = 0.7  # above the shop's general shipping rules: this is the customer's own parcel


def order_status_answer(conversation: Conversation, catalog: Catalog) -> list[Candidate]:
    """The order's own status, for a customer asking where it is or whether it has left."""
    order, text = conversation.order, conversation.last_customer_text
    if order is None or _CHANGE.search(text):
        return []
    if order.status == "shipped" and order.tracking_number:
        number = order.tracking_number
        if _STUCK.search(text):
            reply = (
                f"亲，非常抱歉让您久等了，您的包裹已经发出（运单号{number}），物流没更新的话这边"
                "马上帮您联系快递核实，有消息第一时间告诉您～"
            )
        elif _SHIPPED_YET.search(text):
            reply = f"亲，您的包裹已经发出啦，运单号{number}，订单详情里可以查看物流哦～"
        else:
            return []
    elif order.status == "paid" and _NOT_OUT.search(text) and not _ships_later(order, catalog):
        reply = (
            "亲，非常抱歉让您久等了，您的订单还没发出，这边马上帮您催一下仓库，发出后物流会更新哦～"
        )
    else:
        return []
    return [Candidate(reply, "answer", Source(), _SCORE, ("订单状态",))]


def _ships_later(order: Order, catalog: Catalog) -> bool:
    for item in order.items:
        product = catalog.products.get(item.product_id)
        if product is not None:
            said = " ".join((product.title, product.usage_notes, *product.selling_points))
            if _SHIPS_LATER.search(said):
                return True
    return False
