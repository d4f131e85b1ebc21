"""The slots a FAQ answer or script may hold, as {名} or 【名】 (aliases in brackets); a slot
with no value means the text is not used:
    商品名 (商品, 宝贝)           the product in focus            价格 (单价) its (variant's) price
    规格 (尺码, 容量)             variant in focus, else all       库存          stock (its note)
    优惠 (活动)                   promotions active for it         店铺名        the shop's name
    运单号 (快递单号, 物流单号)    order tracking number            订单号        order id
    订单金额 (实付金额, 应付金额)  order amount, else computed      商品金额 (小计) subtotal
    优惠金额                      computed discount                再加金额 (凑单金额) threshold gap
    数量                          items in the order
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_SLOT = re.compile(r"\{([^{}]{0,12})\}|【([^【】]{0,20})】")
# 【修改地址】, 【申请售后】: a button the customer presses, not a slot left unfilled
BUTTON_VERBS = r"修改|申请|查看|提交|确认|取消|联系|点击|填写"
_SLOT_LIKE = re.compile(
    rf"^$|/|^(?!{BUTTON_VERBS}).*(?:号|名|名称|金额|价格|时间|日期|地址|电话|姓名|链接|数量|规格)$"
)
_ALIASES = {
    "商品": "商品名", "宝贝": "商品名", "商品名称": "商品名", "单价": "价格", "商品价格": "价格",
    "尺码": "规格", "容量": "规格", "活动": "优惠", "优惠活动": "优惠", "快递单号": "运单号",
    "物流单号": "运单号", "实付金额": "订单金额", "应付金额": "订单金额", "小计": "商品金额",
    "凑单金额": "再加金额", "店铺名称": "店铺名",
}  # fmt: skip
_SLOTS = frozenset(("商品名", "价格", "规格", "库存", "优惠", "店铺名", "运单号", "订单号"))
_SLOTS |= {"订单金额", "商品金额", "优惠金额", "再加金额", "数量"}


def fill_slots(text: str, values: Mapping[str, str]) -> str | None:
    """The text with its slots filled; None when a slot has no value (the text is not used).
    【...】 counts as a slot only when it reads like one (【运单号】, 【】, 【A/B】)."""
    missing = False

    def fill(m: re.Match[str]) -> str:
        nonlocal missing
        name = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        known = name in _SLOTS or name in _ALIASES or _SLOT_LIKE.search(name)
        if m.group(2) is not None and not known:
            return m.group(0)
        value = values.get(_ALIASES.get(name, name))
        if value is None:
            missing = True
            return m.group(0)
        return value

    filled = _SLOT.sub(fill, text)
    return None if missing else filled
