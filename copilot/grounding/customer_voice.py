"""A trainer's rule, said to the customer. The sheet writes for agents:
"未发货：可以改，顾客可在订单详情页自己改，或发新地址给客服备注";
the agent sends it to the customer:
"您的订单还没发货，可以改，您可以在订单详情页自己改，或发新地址给我们备注".

The judges graded such rules 1 (right, but the agent has to reword "顾客" before sending).
Only the words naming the customer, the shop's own agents and this order's side of shipping
are changed; every fact stays the sheet's own.
"""

from __future__ import annotations

import re
from dataclasses import replace

from copilot.grounding.order_branches import shipped_side
from copilot.types import Candidate, Order

_CUSTOMER = r"(?<![新老])(?:顾客|客户|客人|买家)"
_REWORDINGS = (
    (re.compile(rf"可以?让{_CUSTOMER}"), "您可以"),
    (re.compile(rf"{_CUSTOMER}(?:也)?可以?(?:自行|自己)?"), "您可以"),
    (re.compile(rf"{_CUSTOMER}(?=自己|自行|发|把|拍|提供|在)"), "您"),
    (re.compile(rf"(?:先)?让{_CUSTOMER}"), "麻烦您"),
    (re.compile(rf"(?<=[发给告诉通知提醒])(?:给)?{_CUSTOMER}"), "您"),
    # the shop's own agents, as the agent says it: 发给客服备注 -> 发给我们备注
    (re.compile(r"(?<=[发给找])客服(?=备注|处理|核实|登记|修改|确认|改)"), "我们"),
    (re.compile(r"(?<!联系)(?<![找问])客服(?=后台|直接|帮|联系|备注|可以)"), "这边"),
)
# "未发货：" / "已发货：" opening the rule, once the order says which side it is on
_SIDE = re.compile(r"^((?:亲[，,]\s*)?)(还?没发货|未发货|未发出|已发货|已发出)的?\s*[：:]\s*")
_SAID = {False: "您的订单还没发货，", True: "您的订单已经发货了，"}


def in_customer_voice(candidate: Candidate, order: Order | None) -> Candidate:
    text = candidate.text
    for pattern, said in _REWORDINGS:
        text = pattern.sub(said, text)
    side, shipped = _SIDE.match(text), shipped_side(order)
    if side and shipped is not None and side.group(2).startswith("已") == shipped:
        text = side.group(1) + _SAID[shipped] + text[side.end() :]
    return candidate if text == candidate.text else replace(candidate, text=text)
