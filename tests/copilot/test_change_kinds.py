"""A rule on changing an order said for the change asked: the parts about another change
dropped, the opening that holds for every change kept; whole where the message names no
change, the rule names no other, the order is received (an exchange), the text changes no
order, or nothing would be left past the opening."""

from __future__ import annotations

from copilot.grounding.change_kinds import asked_change, for_the_change
from copilot.types import Candidate, Conversation, Order, OrderItem, Source, Turn

RULE = (
    "没发货：地址可以在订单页自己改，或者发给我们改；电话这边备注改；"
    "同价规格（比如换颜色）这边备注改，不同价的要退款重拍；同地址的多个订单可以合并发货。"
)


def said_for(*customer: str, text: str = RULE, order: Order | None = None) -> str:
    turns = tuple(Turn("customer", said) for said in customer)
    change = asked_change(Conversation("tea", turns, order))
    return for_the_change(Candidate(text, "answer", Source(), 0.8), change).text


def test_the_parts_about_the_change_asked() -> None:
    assert said_for("地址写错了 能改吗") == "没发货：地址可以在订单页自己改，或者发给我们改"
    assert said_for("茶饼能换个颜色吗") == (
        "没发货：同价规格（比如换颜色）这边备注改，不同价的要退款重拍"
    )
    assert said_for("手机号填错了 帮我改下") == "没发货：电话这边备注改"


def test_the_change_named_in_earlier_words() -> None:
    assert said_for("收货地址小区名字错了", "还没发吧 能改吗").endswith("或者发给我们改")


def test_whole_where_nothing_says_which_change_or_nothing_would_be_left() -> None:
    assert said_for("还没发吧 能改吗") == RULE
    assert said_for("地址能改吗", text="没发货：电话这边备注改；同地址的订单可以合并发货。") == (
        "没发货：电话这边备注改；同地址的订单可以合并发货。"
    )
    assert said_for("茶饼好喝吗") == RULE
    received = Order("delivered", (OrderItem("t-1", 1),))
    assert said_for("收到了 颜色不喜欢 能换吗", order=received) == RULE  # an exchange
    returns = "签收7天内可退换；寄回地址：杭州市西湖区。"
    assert said_for("颜色不喜欢 能换吗", text=returns) == returns  # no change to an order
    assert said_for("茶饼能换成熟茶的吗") == RULE  # which change is not said
    record = "恐龙公仔：短毛绒+PP棉；尺寸=平铺从头量到尾巴尖。"
    assert said_for("搬家了 地址要改", text=record) == record  # about no change
