"""A problem the customer reports is answered with the shop's rule for it, sorry first and in
the agent's voice; stock written in a notes column, an order's option waiting for stock, a
parcel that has left, the size from the one usually worn, a festival named by its date. Records
built in code as trainers write them, no models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import computed_answers, promotion_listing
from copilot.grounding.entry_answers import focus_answer
from copilot.grounding.focus import product_focus
from copilot.grounding.named_promotions import named_promotion_answer
from copilot.grounding.order_stock import ordered_stock
from copilot.grounding.policy_answers import policy_answer, readdressing_question, shipping_answer
from copilot.grounding.problem_replies import acknowledged, reports_problem
from copilot.grounding.promotions import unit_price
from copilot.grounding.slots import fill_slots
from copilot.grounding.stock_notes import stock_phrase
from copilot.grounding.usual_size import size_for_usual
from copilot.guardrails.moment import waits_for_shipping
from copilot.templates import next_step
from copilot.types import Candidate, Conversation, Intent, Order, OrderItem, Source, Turn
from kb.files.codec import parse_rule
from kb.types import Policy, Product, Promotion, Variant

SHOP = "appliances"
DAY = date(2026, 12, 6)
BLENDER = Product(SHOP, "PB-1", "静音破壁机", Decimal(399), (Variant("白色"),))
RICE = Product(SHOP, "RC-3", "mini智能电饭煲", Decimal(199), (Variant("3L"),))
COFFEE = Product(SHOP, "CF-1", "半自动咖啡机", Decimal(899))
BOUGHT = Order("delivered", (OrderItem("PB-1"),))
WARRANTY = Policy(
    SHOP, "pol-warranty", "other", "保修",
    "整机保修1年；咖啡机整机2年；破壁机电机5年；电饭煲内胆6个月。保修期内报修：提供订单号+故障视频，"
    "确认后寄修，来回运费我们承担。",
)  # fmt: skip
QUALITY = Policy(
    SHOP, "pol-quality", "other", "质量问题",
    "签收15天内出现性能故障，可选择换新或退货，来回运费我们承担。\n"
    "运输破损/少件：签收48小时内拍照（外箱+商品）联系客服，核实后补发配件或换新。",
)  # fmt: skip
FOOD = Policy(
    SHOP, "pol-food", "other", "食品质量问题",
    "粮发霉、有虫、异味等，拍照并提供包装上的批次号，核实后全额退款，无需退回。开封后猫狗不爱吃不算质量问题。",
)  # fmt: skip
CATALOG = Catalog.from_entries(SHOP, 1, [BLENDER, RICE, COFFEE, WARRANTY, QUALITY, FOOD])


def chat(*texts: str, order: Order | None = None) -> Conversation:
    roles = ("customer", "agent")
    turns = tuple(Turn(roles[i % 2], t) for i, t in enumerate(texts))
    return Conversation(SHOP, turns, order)


def said_to(conversation: Conversation, policy: Policy, product: Product | None = None) -> str:
    quoted = Candidate(f"亲，{policy.content}", "answer", Source(kb_entry_ids=(policy.id,)), 0.5)
    product_id = product.id if product else None
    (reply,) = acknowledged(conversation, [quoted], CATALOG, product_id)
    return reply.text


def test_a_reported_fault_gets_sorry_and_only_the_clauses_for_it() -> None:
    reply = said_to(chat("破壁机用了4个月 突然不转了"), WARRANTY, BLENDER)
    assert reply.startswith("非常抱歉给您添麻烦了，")
    assert "破壁机电机5年" in reply and "整机保修1年" in reply and "寄修" in reply
    assert "咖啡机" not in reply and "内胆" not in reply  # other products' clauses
    # a rule for a parcel broken in transit is not a motor's: the fault's clause alone
    reply = said_to(chat("破壁机第一次用就冒烟 一股焦味"), QUALITY, BLENDER)
    assert "性能故障" in reply and "运输破损" not in reply


def test_the_agent_is_the_customer_service_the_rule_names() -> None:
    reply = said_to(chat("外箱被压扁了 锅身有个坑", order=BOUGHT), QUALITY)
    assert "拍照（外箱+商品）发给我们" in reply and "联系客服" not in reply


def test_an_exclusion_the_customer_said_nothing_about_is_left_out() -> None:
    reply = said_to(chat("粮里面有虫子！！ 图我发你了", order=BOUGHT), FOOD)
    assert "批次号" in reply and "不爱吃" not in reply
    assert "不爱吃" in said_to(chat("猫不爱吃了 开封了 是不是有异味", order=BOUGHT), FOOD)


@pytest.mark.parametrize(
    "text", ["电饭煲内胆会不会掉涂层啊 之前那个用半年就掉了", "破壁机收到了 怎么用", "你好"]
)
def test_a_question_before_buying_is_no_report(text: str) -> None:
    assert not reports_problem(chat(text), CATALOG)  # "破壁机" names a product, not a break


def test_a_wrong_item_is_a_reported_problem() -> None:
    bought = Order("delivered", (OrderItem("PB-1", 1, None, "黑色"),))
    assert reports_problem(chat("我买的黑色的 怎么发来白的", order=bought), CATALOG)


HEADSET = Product(
    "pc", "KA-H7", "无线游戏耳机", Decimal(399), (Variant("黑色"), Variant("白色")), (),
    "白色=预售，12月10日起按付款顺序发货。黑色现货",
)  # fmt: skip
KEYBOARD = Product(
    "pc", "KA-K87", "三模机械键盘", Decimal(219),
    (Variant("有线版 黑/白 红轴/茶轴/青轴", Decimal(219)),
     Variant("三模版 黑/白 红轴/茶轴/青轴", Decimal(299))),
    (), "白色青轴 缺货！预计12/15左右到仓，可先拍，到货按付款顺序发。三种轴同价",
)  # fmt: skip
PC = Catalog.from_entries("pc", 1, [HEADSET, KEYBOARD])


def test_stock_written_in_a_notes_column_is_never_reported_in_stock() -> None:
    assert stock_phrase(HEADSET, restock=True) == "白色=预售，12月10日起按付款顺序发货；黑色现货"
    assert "现在有货" not in stock_phrase(KEYBOARD, restock=True)


@pytest.mark.parametrize(
    ("product_id", "variant", "text", "line"),
    [
        ("KA-K87", "三模版 白色 青轴", "说好的发货呢？？", "白色青轴 缺货！预计12/15左右到仓"),
        ("KA-H7", "白色", "我买的白色耳机 咋还不发", "白色=预售，12月10日起按付款顺序发货"),
    ],
)
def test_a_paid_order_waiting_for_its_option_says_so(
    product_id: str, variant: str, text: str, line: str
) -> None:
    order = Order("paid", (OrderItem(product_id, 1, None, variant),))
    found = ordered_stock(Conversation("pc", (Turn("customer", text),), order), PC, "complaint")
    assert len(found) == 1 and line in found[0].text


def test_an_ordered_option_in_a_colour_costs_its_size() -> None:
    blanket = Product(
        SHOP, "HT-701", "法兰绒毛毯", Decimal(49),
        (Variant("100*150cm（午睡毯）", Decimal(49)), Variant("150*200cm", Decimal(89))),
    )  # fmt: skip
    assert unit_price(blanket, "150*200cm 燕麦") == (Decimal(89), "150*200cm 燕麦")
    assert unit_price(blanket, "燕麦")[0] == Decimal(49)  # no size said: the list price


def test_a_parcel_that_has_left_is_not_hurried_at_the_warehouse() -> None:
    hurry = "亲，让您久等啦～已经帮您给仓库备注加急了，发出后物流就会更新哦"
    shipped = chat("我的快递3天没动了", order=Order("shipped", tracking_number="4318206637415"))
    assert waits_for_shipping(hurry, shipped)
    assert not waits_for_shipping(hurry, chat("怎么还不发货", order=Order("paid")))
    assert not waits_for_shipping("亲，包裹已经发出，这边帮您联系快递核实～", shipped)


SHOE = Product(
    "shoes", "KB-203", "女款百搭小白鞋", Decimal("49.9"), (Variant("纯白"),),
    ("PU皮面+橡胶底", "码数建议：偏小半码，建议拍大一码；脚瘦的拍正常码"),
)  # fmt: skip
BOOT = Product(
    "shoes", "KB-211", "女款马丁靴短靴", Decimal(109), (Variant("黑色"),),
    ("PU皮面；侧拉链+系带；筒高约15cm，跟高40mm", "码数建议：标准码"),
)  # fmt: skip
SHOES = Catalog.from_entries("shoes", 1, [SHOE, BOOT])


def usual_size(*texts: str) -> str | None:
    roles = ("customer", "agent")
    conversation = Conversation("shoes", tuple(Turn(roles[i % 2], t) for i, t in enumerate(texts)))
    found = size_for_usual(conversation, product_focus(conversation, SHOES))
    return found.text if found else None


def test_the_size_to_take_follows_from_the_one_usually_worn() -> None:
    reply = usual_size("这个小白鞋我平时穿38的 拍多大啊")
    assert reply is not None and "平时穿38的建议拍39码" in reply and "脚瘦的拍正常码" in reply
    reply = usual_size("马丁靴好看", "亲，您平时穿多大码呢？", "37")
    assert reply is not None and "建议拍37码" in reply
    assert usual_size("小白鞋好刷吗") is None


def test_a_question_is_answered_by_the_clause_sharing_its_characters() -> None:
    conversation = Conversation("shoes", (Turn("customer", "马丁靴跟多高 筒到哪里"),))
    found = focus_answer(conversation.last_customer_text, product_focus(conversation, SHOES))
    assert found is not None and "筒高约15cm，跟高40mm" in found.text
    assert "侧拉链" not in found.text


def promotion(pid: str, title: str, rule: str, starts: date, ends: date) -> Promotion:
    return Promotion("shoes", pid, title, rule, parse_rule(rule), (), starts, ends)


def test_a_festival_names_the_promotion_running_on_its_day() -> None:
    new_year = promotion("p-ny", "跨年福利", "全店任选2双9折", date(2026, 12, 28), date(2027, 1, 3))
    (found,) = named_promotion_answer("元旦有没有活动 想等等再买", (new_year,), DAY, asks=True)
    assert "「跨年福利」12月28日开始" in found.text and "9折" in found.text


def test_a_coming_promotion_not_yet_settled_is_not_quoted() -> None:
    rumour = "力度等运营通知（听说四件套2件9折，未确认）"
    coming = promotion("p-ny", "年货节", rumour, date(2026, 12, 26), date(2027, 1, 15))
    (found,) = named_promotion_answer("年货节降不降价", (coming,), DAY, asks=True)
    assert "具体力度还没公布" in found.text and "听说" not in found.text and "9折" not in found.text


def test_the_listing_claims_no_automatic_discount_the_sheet_does_not() -> None:
    coupon = promotion("p-12", "双12店铺券", "满99减10", date(2026, 12, 1), date(2026, 12, 12))
    listing = promotion_listing(Catalog.from_entries("shoes", 1, [coupon]), DAY)
    assert listing is not None and "自动" not in listing.text and "满99减10" in listing.text


def test_a_button_in_brackets_is_not_an_unfilled_slot() -> None:
    answer = "没发货的话在订单详情页点【修改地址】自己改，客服后台改不了"
    assert fill_slots(answer, {}) == answer
    assert fill_slots("寄到【退货地址】", {}) is None


def test_shipping_is_answered_with_the_clauses_asked_about() -> None:
    rule = Policy(
        SHOP, "pol-ship", "shipping", "快递&运费",
        "默认中通/韵达；要顺丰需补差价12元/单（拍补差价链接）；不接受到付。\n"
        "全国包邮，新疆/西藏需补运费20元/单。\n发货地：江苏南通。",
    )  # fmt: skip
    (found,) = shipping_answer("能发顺丰吗 急用！", [], Catalog.from_entries(SHOP, 1, [rule]))
    assert "要顺丰需补差价12元/单" in found.text and "新疆" not in found.text


def test_an_order_still_in_the_warehouse_reports_no_problem_with_what_arrived() -> None:
    waiting = Order("paid", (OrderItem("PB-1"),))
    assert not reports_problem(chat("2号拍的还不发货？？ 什么破店", order=waiting), CATALOG)
    change = Policy(
        SHOP, "pol-exchange", "exchange", "换货", "签收7天内可换同价规格，来回运费买家承担。"
    )
    refund = Policy(SHOP, "pol-refund", "returns", "退款", "未发货申请退款，24小时内处理。")
    catalog = Catalog.from_entries(SHOP, 1, [change, refund])
    assert policy_answer("没发货 能换成白色吗", [], catalog, arrived=False) == []
    assert policy_answer("能换成白色吗", [], catalog)  # once it has arrived, the exchange rule
    (found,) = policy_answer("没发货 我要退款", [], catalog, arrived=False)
    assert "24小时内处理" in found.text


def test_a_rule_written_a_line_per_topic_is_told_by_the_line_asked_about() -> None:
    guarantee = Policy(
        SHOP, "pol-guarantee", "other", "价保&退款",
        "价保：付款后7天内，同款同规格单品直降，可以退差价；满减、优惠券不算\n"
        "退款：仓库收到退货后48小时内处理，原路退回\n秒杀商品不参与",
    )  # fmt: skip
    catalog = Catalog.from_entries(SHOP, 1, [guarantee])
    (found,) = policy_answer("降价了 能退差价吗", [], catalog)
    assert "可以退差价" in found.text and "秒杀商品不参与" in found.text  # its exclusion stays
    assert "48小时内处理" not in found.text
    (refund,) = policy_answer("退货寄回去了 钱啥时候退", [], catalog)
    assert "48小时内处理" in refund.text


def test_a_policy_about_other_products_only_is_not_offered_for_this_one() -> None:
    cases = Policy(
        SHOP, "pol-cases", "other", "保修期", "咖啡机不保修，收货破损签收48小时内拍照包赔"
    )
    quoted = Candidate(f"亲，{cases.content}", "answer", Source(kb_entry_ids=(cases.id,)), 0.5)
    catalog = Catalog.from_entries(SHOP, 1, [BLENDER, COFFEE, cases])
    conversation = chat("破壁机用了两个月 不转了", order=BOUGHT)  # the order says which product
    assert acknowledged(conversation, [quoted], catalog, None) == []


def test_a_quantity_of_a_product_priced_by_option_is_not_summed_at_the_cheapest() -> None:
    tea = Product(
        "tea", "T-1", "明前龙井", Decimal(98),
        (Variant("50g罐装", Decimal(98)), Variant("100g礼盒", Decimal(198))),
    )  # fmt: skip
    catalog = Catalog.from_entries("tea", 1, [tea])
    for said, quoted in (("龙井要30盒 多少钱", False), ("龙井100g礼盒要30盒 多少钱", True)):
        conversation = Conversation("tea", (Turn("customer", said),))
        found, _, the_quote = computed_answers(
            conversation, product_focus(conversation, catalog), catalog, "", DAY
        )
        assert (the_quote is not None) is quoted, said
        assert found and ("¥98" in found[0].text and "¥198" in found[0].text) is not quoted


def test_a_rule_said_with_a_sorry_does_not_take_the_apology_steps_place() -> None:
    conversation = chat("外箱被压扁了 锅身有个坑", order=BOUGHT)
    (rule,) = acknowledged(
        conversation,
        [Candidate(f"亲，{QUALITY.content}", "answer", Source(kb_entry_ids=(QUALITY.id,)), 0.5)],
        CATALOG,
        BLENDER.id,
    )
    assert rule.text.startswith("非常抱歉")
    damaged = Intent("damaged_item", 0.9, family="after_sales")
    step, *_ = next_step(conversation, damaged, [rule])
    assert step is not rule and step.role == "script" and "照片" in step.text
    shop_sorry = Candidate("实在抱歉！麻烦拍个照片给小鱼～", "script", Source(), 0.5)
    assert next_step(conversation, damaged, [rule, shop_sorry])[0] is shop_sorry


def test_an_option_changed_before_shipping_is_told_the_rule_on_changing_the_order() -> None:
    exchange = Policy(SHOP, "pol-exchange", "exchange", "换货", "签收7天内可换同价规格。")
    changing = Policy(
        SHOP, "pol-change", "other", "改单", "未发货前可以改地址、尺码、颜色（同价规格），客服备注"
    )
    catalog = Catalog.from_entries(SHOP, 1, [exchange, changing])
    (found,) = policy_answer("刚拍的毛衣能换成L吗 还没发吧", [], catalog, arrived=False)
    assert "未发货前可以改" in found.text and found.score > 0.5  # above the guessed scripts
    # a new address is the next step's to note (templates.changes_contact), not an option
    assert policy_answer("地址改成公司 还没发吧", [], catalog, arrived=False) == []
    (arrived,) = policy_answer("能换成L吗", [], catalog)
    assert arrived.source.kb_entry_ids == ("pol-exchange",) and arrived.score < 0.5


def test_a_new_address_for_a_shipped_order_is_told_the_rule_on_changing_orders_first() -> None:
    change = Policy(
        SHOP, "pol-addr", "other", "改地址/改电话",
        "未发货：可以改，订单详情页自己改。\n已发货：系统改不了，可联系快递员协商转寄。",
    )  # fmt: skip
    shipping = Policy(SHOP, "pol-ship", "shipping", "发货", "16:00前付款当天发，默认中通")
    catalog = Catalog.from_entries(SHOP, 1, [shipping, change])
    for said in ("我要改地址 搬家了", "电话留错了 最后一位是8"):
        (found,) = policy_answer(said, [], catalog)  # shipped, or no order said
        # ahead of a product's FAQ that its name found
        assert (found.source.kb_entry_ids, found.score) == (("pol-addr",), 0.7), said
    # before shipping, the script noting the new number is the next step
    assert policy_answer("电话留错了 最后一位是8", [], catalog, arrived=False) == []
    assert policy_answer("收货地址在哪里看", [], catalog) == []


def test_a_change_of_address_asked_one_message_earlier_is_read_with_this_one() -> None:
    def chat(*said: str) -> Conversation:
        turns = [Turn("customer" if i % 2 == 0 else "agent", t) for i, t in enumerate(said)]
        return Conversation(SHOP, tuple(turns))

    joined = readdressing_question(chat("能帮我改下地址吗", "亲，请稍等", "261203-5572 要改到公司"))
    assert joined == "能帮我改下地址吗，261203-5572 要改到公司"
    # this message asks it itself, or the one before asked something else: the message alone
    assert readdressing_question(chat("在吗", "在的", "我要改地址 搬家了")) == "我要改地址 搬家了"
    assert readdressing_question(chat("多久发货", "亲，48小时内", "那咋办啊")) == "那咋办啊"


def test_a_shipping_rule_tells_a_new_address_only_its_sentence_on_addresses() -> None:
    shipping = Policy(
        SHOP, "pol-ship", "shipping", "发货与改地址",
        "每天发货含周末。16:00前付款当天发。\n已发货：不能改地址，您可以拿单号联系快递转寄。",
    )  # fmt: skip
    catalog = Catalog.from_entries(SHOP, 1, [shipping])
    (found,) = policy_answer("能改地址吗 我搬家了", [], catalog)
    assert "16:00" not in found.text and "不能改地址，您可以拿单号联系快递转寄" in found.text
