"""The shop's script for the trouble the customer tells of, found by its title: a rash is the
过敏 script's, a missing piece the 缺件 script's, a wilting plant the 发蔫 one's (not 包活's
for a plant only feared dying); nothing before a purchase or the goods' arrival, for a fear,
for trouble no title names, or for a script whose slot has no value. Records built in code."""

from __future__ import annotations

from datetime import date

from copilot.grounding.catalog import Catalog
from copilot.grounding.situation_scripts import situation_scripts
from copilot.types import Conversation, Order, OrderItem, Turn
from kb.types import Script

SHOP = "garden"
TODAY = date(2026, 12, 6)
ALLERGY = Script(SHOP, "s-allergy", "", "过敏安抚", "亲，很抱歉给您带来不适，请先停止使用～")
MISSING = Script(SHOP, "s-missing", "", "缺件补寄", "亲别着急，把缺的零件编号拍照发我，免费补寄～")
WILTING = Script(SHOP, "s-wilt", "", "到货发蔫安抚", "亲别担心～叶子发蔫是运输中的正常现象～")
DYING = Script(SHOP, "s-dead", "", "包活补发", "亲，签收48小时内的断杆/烂根属于包活范围～")
SLOT = Script(SHOP, "s-fault", "", "报修", "亲，您的单号{运单号}已登记报修～")
WELCOME = Script(SHOP, "s-hi", "", "欢迎语", "亲，欢迎光临～")
CATALOG = Catalog.from_entries(SHOP, 1, [WELCOME, ALLERGY, MISSING, DYING, WILTING, SLOT])
ORDER = Order("delivered", (OrderItem("p-1", 1),), order_id="o-1")


def script_for(*customer: str, order: Order | None = ORDER) -> str | None:
    turns = tuple(Turn("customer", text) for text in customer)
    found = situation_scripts(Conversation(SHOP, turns, order=order), CATALOG, {}, TODAY)
    return found[0].source.kb_entry_ids[0] if found else None


def test_the_script_named_for_the_trouble_told() -> None:
    assert script_for("用了你们沐浴露身上起红疹子了 好痒") == "s-allergy"
    assert script_for("拼到第4袋发现少个灰色小片") == "s-missing"
    assert script_for("绿萝到了 叶子都耷拉着 是不是快死了") == "s-wilt"
    assert script_for("龟背竹到了 根都烂根了") == "s-dead"
    assert script_for("收到了", "少了一个零件") == "s-missing"  # the message before counts


def test_nothing_without_a_purchase_a_named_trouble_or_a_filled_slot() -> None:
    assert script_for("会不会过敏啊 敏感肌", order=None) is None  # a question before buying
    assert script_for("什么时候发货") is None
    on_its_way = Order("shipped", (OrderItem("p-1", 1),), order_id="o-2")
    assert script_for("5天了还没到 花要是闷死了我投诉", order=on_its_way) is None
    assert script_for("收到了 会不会过敏啊") is None  # a fear, not a rash
    assert script_for("用了两天 不转了") is None  # 报修's slot has no value here
