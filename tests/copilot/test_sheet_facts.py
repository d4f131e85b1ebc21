"""Answers a new shop's sheets hold that no FAQ states: a product's own clauses for the product
under discussion, a colour's stock, whose promotion a row is, another brand, an FAQ found by a
rare word. Records built in code, no models: these are the grounding rules themselves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import computed_answers, product_sentence, stock_phrase
from copilot.grounding.entry_answers import focus_answer
from copilot.grounding.faq_answers import rare_word_faq
from copilot.grounding.focus import ProductFocus, product_focus
from copilot.grounding.named_promotions import named_promotion_answer
from copilot.grounding.other_brands import other_brand_answer
from copilot.grounding.policy_answers import shipping_answer
from copilot.grounding.promotions import quote
from copilot.grounding.recommendations import recommendation
from copilot.grounding.variant_choice import variant_for_measure
from copilot.intents.rules import match_rules
from copilot.templates import has_bought
from copilot.types import Conversation, Order, OrderItem, Turn
from kb.files.sheets import product_cells
from kb.types import FAQ, Policy, Product, Promotion, PromotionRule, Variant

SHOP = "kitchen"
DAY = date(2026, 12, 6)
FRYER = Product(
    SHOP, "KA-AF4", "可视空气炸锅 4L", Decimal(199), (Variant("奶白"), Variant("曜石黑")),
    ("可视窗口，热风循环免翻面，80-200℃；食品级不粘涂层（PTFE，不含PFOA）", "功率：1350W",
     "适合人群：-"),
    "炸篮配件单买¥59；库存：奶白现货；黑色缺货，12月中旬补货",
)  # fmt: skip
BIG_FRYER = Product(
    SHOP, "KA-AF6", "双旋钮空气炸锅 6L", Decimal(299), (),
    ("机械双旋钮，老人也会用；80-200℃ / 0-60min定时",),
)  # fmt: skip
COFFEE = Product(
    SHOP, "KA-CF1", "意式半自动咖啡机", Decimal(799), (),
    ("20bar泵压，蒸汽打奶棒；标配51mm手柄+单/双层粉碗",), "库存：充足",
)  # fmt: skip
KETTLES = [Product(SHOP, "KA-KT1", "不锈钢电热水壶", Decimal(99)),
           Product(SHOP, "KA-KT2", "恒温调奶电水壶", Decimal(159))]  # fmt: skip
KETTLE_GIFT = Promotion(
    SHOP, "promo-kettle", "暖冬宠粉周", "水壶（KA-KT1、KA-KT2）下单送304保温杯1个",
    PromotionRule("other"), starts=date(2026, 12, 1), ends=date(2026, 12, 8),
)  # fmt: skip
TRADE_IN = Promotion(
    SHOP, "promo-trade", "以旧换新", "全场旧机抵80元", PromotionRule("other"),
    starts=date(2026, 11, 15), ends=date(2027, 2, 28),
)  # fmt: skip
FAQS = [
    FAQ(SHOP, f"faq-{i}", q, a)
    for i, (q, a) in enumerate([
        ("发什么快递？能指定吗？", "默认中通/韵达，不支持指定快递，也不能发顺丰。"),
        ("电压多少？能带去国外用吗", "全店220V国标插头，不适用于110V地区。"),
        ("空气炸锅涂层有没有毒？", "食品级PTFE不粘涂层，200℃以内使用安全。"),
        ("炸篮坏了能单独买吗？", "可以，4L炸篮¥59，6L炸篮¥69。"),
        ("能开发票吗？", "可以开电子普通发票。"),
        ("多久发货？", "下单后48小时内发货，之后的节假日顺延。"),
        ("有运费险吗？", "所有订单都送运费险。"),
        ("破壁机能干磨吗？", "干磨每次不超过200g。"),
        ("咖啡机能用胶囊吗？", "不能，只能用咖啡粉。"),
        ("水壶有水垢怎么办？", "放柠檬酸加水煮开，浸泡30分钟。"),
    ])
]  # fmt: skip
CATALOG = Catalog.from_entries(
    SHOP, 1, [FRYER, BIG_FRYER, COFFEE, *KETTLES, KETTLE_GIFT, TRADE_IN, *FAQS]
)


def chat(*texts: str) -> Conversation:
    roles = ("customer", "agent")
    return Conversation(SHOP, tuple(Turn(roles[i % 2], t) for i, t in enumerate(texts)))


def focus(*texts: str) -> ProductFocus:
    return product_focus(chat(*texts), CATALOG)


@pytest.mark.parametrize(
    ("texts", "product", "clause"),
    [
        (("299那款能定时吗 最长多久",), "KA-AF6", "0-60min定时"),  # named by its price
        (("咖啡机送奶缸吗", "宝子，不含奶缸哦", "那手柄多大的 51还是58"), "KA-CF1", "51mm手柄"),
        (("4L的炸锅涂层是啥 有毒没",), "KA-AF4", "PTFE"),
    ],
)
def test_the_product_under_discussion_answers_from_its_own_clauses(
    texts: tuple[str, ...], product: str, clause: str
) -> None:
    answer = focus_answer(texts[-1], focus(*texts))
    assert answer is not None and clause in answer.text, answer
    assert answer.source.kb_entry_ids == (product,)
    assert "适合人群" not in answer.text  # "适合人群：-" is a column left empty


def test_no_shared_word_or_no_question_gets_no_product_blurb() -> None:
    assert focus_answer("咖啡机好用吗", focus("咖啡机好用吗")) is None  # only its name matches
    assert focus_answer("咖啡机手柄坏了", focus("咖啡机手柄坏了")) is None  # a complaint


def test_an_amount_of_money_names_no_product_but_a_price_said_as_a_name_does() -> None:
    # the 4 of "4块的券" is not the 4 of 可视空气炸锅 4L
    assert focus("领了个4块的券 能跟满减一起用吗").product is None
    said = focus("199元的那个能定时吗").product
    assert said is not None and said.id == "KA-AF4"


def test_an_ambiguous_size_is_settled_by_the_product_talked_about_before() -> None:
    settled = focus("空气炸锅能烤蛋糕吗", "可以的", "4L的能放6寸模吗")
    assert settled.product is not None and settled.product.id == "KA-AF4"


def test_a_colour_out_of_stock_is_never_reported_in_stock() -> None:
    sentence, _ = product_sentence(FRYER, None, CATALOG, DAY)
    assert "黑色缺货，12月中旬补货" in sentence and "现在有货" not in sentence
    assert stock_phrase(COFFEE) == "有货"  # a plain "充足" reads as in stock


@pytest.mark.parametrize(
    ("cell", "in_stock"),
    [("缺货，12月补货", "否"), ("暂时售罄", "否"), ("#05 缺货，12月15日补货", "是"),
     ("L码 红色缺货", "是"), ("奶白现货；黑色缺货", "是")],
)  # fmt: skip
def test_a_stock_cell_about_one_option_leaves_the_product_on_sale(cell: str, in_stock: str) -> None:
    row = product_cells({"title": "口红", "price": "139", "in_stock": cell}, {})
    assert row["in_stock"] == in_stock
    assert f"库存：{cell}" in row["usage_notes"]


def test_a_promotion_naming_its_products_by_id_is_theirs_alone() -> None:
    fryer_offers = [p.id for p in CATALOG.active_promotions(DAY, "KA-AF4")]
    assert fryer_offers == ["promo-trade"]  # the kettles' gift is not the air fryer's
    kettle_offers = [p.id for p in CATALOG.active_promotions(DAY, "KA-KT2")]
    assert kettle_offers == ["promo-kettle", "promo-trade"]
    sentence, _ = product_sentence(FRYER, None, CATALOG, DAY)
    assert "保温杯" not in sentence and "旧机抵80元" in sentence


def test_another_brand_gets_no_verdict_and_the_products_own_point() -> None:
    answer = other_brand_answer("6L跟美的的比咋样啊", focus("6L跟美的的比咋样啊"), CATALOG)
    assert answer is not None and "不好评价别家" in answer.text and "机械双旋钮" in answer.text
    assert other_brand_answer("4L和6L比哪个好", focus("4L和6L比哪个好"), CATALOG) is None


def test_a_rare_word_finds_the_faq_the_product_name_buried() -> None:
    found = rare_word_faq("6L那个炸锅能发顺丰吗 急用", focus("6L那个炸锅能发顺丰吗"), CATALOG, {})
    assert found is not None and "不能发顺丰" in found.text
    # 之后 joins words: it names nothing, so it finds no shipping FAQ for a product question
    assert rare_word_faq("用了之后一直有味道", ProductFocus(), CATALOG, {}) is None


@pytest.mark.parametrize(
    ("text", "bought"),
    [
        ("上次别家买的酸死了", False),
        ("对 怕买了大袋不吃", False),
        ("买了泥膜 敷多久", True),
        ("能发顺丰吗 怕路上太久闷坏了", False),
        ("今天下单今天能发吗 发啥快递 能发顺丰不 急用！！", False),
        ("今天下单什么时候发货", False),
        ("我今天下单的 什么时候发货", True),
        ("收到了 如果坏了怎么办", True),
        ("快递到哪了", True),
    ],
)
def test_a_purchase_elsewhere_imagined_or_asked_about_is_no_order_here(
    text: str, bought: bool
) -> None:
    assert has_bought(chat(text)) is bought


@pytest.mark.parametrize("text", ["👌好的 那我下单了", "行 我去拍了", "那我就下单啦"])
def test_a_customer_who_closes_by_buying_is_thanked(text: str) -> None:
    assert "thanks" in {rule.label for rule in match_rules(text)}


def test_ordering_with_a_question_is_not_a_closing() -> None:
    assert "thanks" not in {rule.label for rule in match_rules("我下单了 什么时候发货")}


DROPS = Product(
    "pets", "PS-14", "犬用体外驱虫滴剂", Decimal(89),
    (Variant("小型", Decimal(89)), Variant("中型", Decimal(99))), ("驱跳蚤、蜱虫，每月1次",),
)  # fmt: skip
DROPS_FAQ = FAQ(
    "pets", "faq-drops", "小狗能用驱虫滴剂吗？",
    "8周龄以上可以用；狗狗按体重选：10kg以下选小型犬款，10-20kg选中型犬款。",
)  # fmt: skip
PETS = Catalog.from_entries("pets", 1, [DROPS, DROPS_FAQ])


@pytest.mark.parametrize(
    ("text", "option", "price"),
    [("驱虫滴剂 12斤的狗买哪个", "选小型", "¥89"), ("驱虫滴剂 我家狗15kg选哪个", "选中型", "¥99")],
)
def test_the_faq_decides_which_option_a_stated_weight_takes(
    text: str, option: str, price: str
) -> None:
    message = Conversation("pets", (Turn("customer", text),))
    answer = variant_for_measure(text, product_focus(message, PETS), PETS)
    assert answer is not None and option in answer.text and price in answer.text, answer
    assert ("（6kg）" in answer.text) is ("12斤" in text)  # the customer's 斤, in the FAQ's kg


def test_a_weight_no_clause_covers_decides_nothing() -> None:
    message = Conversation("pets", (Turn("customer", "驱虫滴剂 30kg的狗用哪个"),))
    assert (
        variant_for_measure(message.last_customer_text, product_focus(message, PETS), PETS) is None
    )


def test_a_quote_never_says_no_offer_applies_while_an_uncomputed_one_may() -> None:
    gift = Promotion(SHOP, "promo-gift", "满赠", "实付满199送小样", PromotionRule("other"))
    elsewhere = Promotion(SHOP, "promo-2for1", "面膜", "面膜拍2盒送1盒", PromotionRule("other"))
    products = {FRYER.id: FRYER, COFFEE.id: COFFEE}
    order = Order("unpaid", (OrderItem(FRYER.id), OrderItem(COFFEE.id)))
    priced = quote(order, products, [gift, elsewhere], DAY)
    assert "暂无可用优惠" not in priced.text and "实付满199送小样" in priced.text
    assert "拍2盒送1盒" not in priced.text  # a shop-wide rule about another product
    assert "暂无可用优惠" in quote(order, products, [elsewhere], DAY).text


def test_then_what_for_me_recommends_past_the_product_just_ruled_out() -> None:
    cream = Product(
        "skin", "M05", "神经酰胺修护面霜", Decimal(169), (), ("适合肤质：干皮、敏感肌",)
    )
    lotion = Product(
        "skin", "M06", "清爽保湿乳", Decimal(129), (), ("适合肤质：油皮/混油",), "清爽不闷痘"
    )
    skin = Catalog.from_entries("skin", 1, [cream, lotion])
    talk = Conversation("skin", (
        Turn("customer", "修护面霜油皮能用吗"), Turn("agent", "修护面霜更适合干皮哦"),
        Turn("customer", "那我大油皮用啥 会闷痘的不要"),
    ))  # fmt: skip
    found = recommendation(talk, skin)
    assert found is not None and "清爽保湿乳" in found.text and "修护面霜" not in found.text


@pytest.mark.parametrize(
    ("text", "rule", "ends", "standing"),
    [("脐橙还有第二件半价吗", "赣南脐橙第二件半价", date(2026, 11, 30), "已经结束"),
     ("面膜买二送一 怎么拍", "补水面膜拍2盒送1盒", date(2026, 12, 31), "正在进行")],
)  # fmt: skip
def test_a_deal_the_customer_names_by_its_kind_is_answered_where_it_stands(
    text: str, rule: str, ends: date, standing: str
) -> None:
    deal = Promotion(SHOP, "promo-deal", "鲜果节", rule, PromotionRule("other"), (), None, ends)
    found = named_promotion_answer(text, [deal], DAY, asks=True)
    assert found and standing in found[0].text and found[0].score > 0.9, found


def test_a_stock_question_gets_the_stock_line_not_the_price_and_promotions() -> None:
    talk = chat("黑色4L的还有木有 只看到白的")
    found, _, _ = computed_answers(talk, focus("黑色4L的还有木有"), CATALOG, "stock", DAY)
    assert [c.text for c in found] == ["亲，可视空气炸锅 4L：奶白现货；黑色缺货，12月中旬补货哦～"]
    found, _, _ = computed_answers(chat("4L多少钱"), focus("4L多少钱"), CATALOG, "", DAY)
    assert "¥199" in found[0].text and "旧机抵80元" in found[0].text
    assert "可视窗口" not in found[0].text  # a selling point beside a price is padding


def test_a_product_sentence_the_words_did_not_ask_for_yields_to_answers_that_share_them() -> None:
    asked, _, _ = computed_answers(chat("4L多少钱"), focus("4L多少钱"), CATALOG, "stock", DAY)
    guessed, _, _ = computed_answers(
        chat("4L的涂层安全吗"), focus("4L的涂层"), CATALOG, "stock", DAY
    )
    assert asked[0].score >= 0.8 and guessed[0].score == 0.5


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("今天下单 明天能到上海吗", "下单后48小时内发货"),
        ("急用 能发顺丰吗", "不能发顺丰"),
    ],
)
def test_how_the_parcel_travels_is_answered_before_a_purchase(text: str, said: str) -> None:
    refunds = Policy(
        SHOP, "pol-refund", "other", "退款时效", "仓库收到退货后24小时内处理，1-3天到账"
    )
    catalog = Catalog.from_entries(SHOP, 1, [*FAQS, refunds])
    found = shipping_answer(text, [], catalog)
    assert found and said in found[0].text, found
    assert shipping_answer("这个炸锅好用吗", [], catalog) == []  # no shipping asked


def test_a_measure_beside_another_question_takes_no_option() -> None:
    """ "有味道不 娃4岁" asks the smell; the measure said alone answers "宝宝多大了"."""
    for text, decides in (("驱虫滴剂有味道不 狗12斤", False), ("驱虫滴剂 12斤", True)):
        message = Conversation("pets", (Turn("customer", text),))
        found = variant_for_measure(text, product_focus(message, PETS), PETS)
        assert (found is not None) is decides, text
