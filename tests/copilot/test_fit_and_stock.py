"""Which size a stated weight or height takes on the shop's own size chart, and the stock of the
one option asked about. Records built in code as a clothing trainer writes them, no models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import computed_answers
from copilot.grounding.focus import product_focus
from copilot.grounding.size_charts import size_for_measure
from copilot.grounding.stock_notes import option_stock_answer, out_of_stock_line
from copilot.types import Conversation, Turn
from kb.types import FAQ, Product, Variant

SHOP = "apparel"
DAY = date(2026, 12, 6)
SWEATER = Product(
    SHOP, "MY01", "圆领毛衣", Decimal(169), (Variant("燕麦色"), Variant("奶白"), Variant("雾霾蓝")),
    ("尺码建议：宽松落肩，正常码。S 85-100斤 / M 100-115斤 / L 115-130斤 / XL 130-145斤",),
    "M码衣长63cm 胸围118cm；库存：雾霾蓝L、XL缺货，预计12月12日补货；奶白S售罄，12/20左右补货",
)  # fmt: skip
DOWN = Product(
    SHOP, "YR03", "95白鹅绒长款羽绒服", Decimal(899), (Variant("黑色"), Variant("燕麦")),
    ("尺码建议：S 155-160cm/85-100斤，M 160-165cm/100-115斤，L 165-170cm/115-130斤",),
)  # fmt: skip
COAT = Product(SHOP, "DY01", "双面呢羊毛大衣", Decimal(1299), (Variant("驼色"),),
               ("尺码建议：廓形宽松。S 85-100斤 M 100-120斤 L 120-140斤",))  # fmt: skip
CARDIGAN = Product(SHOP, "MY08", "马海毛V领开衫", Decimal(199), (Variant("浅杏"), Variant("墨绿")),
                   ("尺码建议：均码，适合90-135斤，衣长56cm",), "库存：墨绿已售罄 不补货!!")  # fmt: skip
TEES = [
    Product(SHOP, "DD01", "德绒半高领打底衫", Decimal(59), (Variant("黑"), Variant("白")),
            ("S 80-95斤 M 95-110斤",), "库存：白色S缺货，12月9日补"),
    Product(SHOP, "DD02", "双面磨毛圆领打底衫", Decimal(69), (Variant("黑"), Variant("白"))),
]  # fmt: skip
HARNESS = Product(SHOP, "PS-12", "胸背牵引绳", Decimal(35), (Variant("S"), Variant("M")))
HARNESS_FAQ = FAQ(
    SHOP, "faq-harness", "牵引绳怎么选尺码？",
    "S码胸围30-40cm（5kg以内），M码胸围40-55cm（5-15kg）；量胸围时留两指松量。",
)  # fmt: skip
CATALOG = Catalog.from_entries(SHOP, 1, [SWEATER, DOWN, COAT, CARDIGAN, *TEES])
PETS = Catalog.from_entries(SHOP, 1, [HARNESS, HARNESS_FAQ])


def chat(*texts: str) -> Conversation:
    roles = ("customer", "agent")
    return Conversation(SHOP, tuple(Turn(roles[i % 2], t) for i, t in enumerate(texts)))


def size_reply(*texts: str) -> str | None:
    conversation = chat(*texts)
    catalog = PETS if "牵引绳" in texts[-1] else CATALOG
    answer = size_for_measure(conversation, product_focus(conversation, catalog), catalog)
    return answer.text if answer is not None else None


@pytest.mark.parametrize(
    ("texts", "said"),
    [
        (("圆领毛衣 我158 105斤 穿啥码",), "拍M码就可以哦（M码适合100-115斤）"),
        (("双面呢大衣好看", "谢谢亲", "那我95斤拍s?"), "拍S码就可以哦（S码适合85-100斤）"),
        (("我家狗11kg 胸围量了52", "好的亲", "牵引绳拿哪个码"), "M码适合5-15kg、胸围40-55cm"),
        (("双面呢大衣 120斤 m还是l",), "在M码（100-120斤）和L码（120-140斤）之间"),
        (("马海毛开衫 我140斤 均码会不会紧",), "均码，适合90-135斤，您这个体重穿会偏紧"),
    ],
)
def test_a_stated_measure_takes_the_size_the_chart_gives(texts: tuple[str, ...], said: str) -> None:
    reply = size_reply(*texts)
    assert reply is not None and said in reply, reply


def test_height_and_weight_that_disagree_get_both_sizes() -> None:
    reply = size_reply("羽绒服 我168 90斤 拍啥码")
    assert reply is not None and "拍S码" in reply and "按身高是L码（165-170cm）" in reply, reply


def test_a_customers_own_numbers_are_named_not_repeated() -> None:
    # the guardrails hold every number to the shop's: 105 and 158 are the customer's
    reply = size_reply("圆领毛衣 我158 105斤 穿啥码")
    assert reply is not None and "105" not in reply and "158" not in reply


@pytest.mark.parametrize(
    "texts",
    [("圆领毛衣 穿啥码",), ("马海毛开衫 我140斤 好看吗",), ("德绒打底衫 170 能穿吗",)],
)
def test_no_measure_no_size_question_or_no_chart_for_it_says_nothing(
    texts: tuple[str, ...],
) -> None:
    assert size_reply(*texts) is None


def test_a_weight_names_no_product_that_shares_its_digits() -> None:
    focus = product_focus(chat("双面呢大衣好看", "谢谢亲", "我150 能穿吗 95斤拍s?"), CATALOG)
    assert focus.product is COAT  # not the 95白鹅绒 down coat


def test_an_option_word_alone_names_the_product_asked_about_before() -> None:
    toys = Catalog.from_entries(SHOP, 1, [
        Product(SHOP, "RD-501", "儿童扭扭车 防侧翻", Decimal(69),
                (Variant("普通轮款 红"), Variant("普通轮款 粉"))),
        Product(SHOP, "PL-302", "婴儿安抚兔（刺绣五官）", Decimal(39),
                (Variant("35cm 单只 粉色"), Variant("35cm 单只 灰色"))),
        Product(SHOP, "PL-303", "恐龙毛绒公仔", Decimal(49), (Variant("绿色"),)),
    ])  # fmt: skip
    pink = product_focus(chat("扭扭车", "亲，您想看哪个颜色呢", "粉色的啥时候有货啊"), toys)
    assert pink.product is toys.products["RD-501"]  # not the rabbit, whose option says 粉色
    assert pink.source == "context"
    # the product asked before has no such option: the message's own product stands
    grey = product_focus(chat("扭扭车", "亲，您想看哪个颜色呢", "灰色的啥时候有货啊"), toys)
    assert grey.product is toys.products["PL-302"]
    # a message naming its product by title keeps it
    named = product_focus(chat("扭扭车", "亲，在的", "安抚兔粉色的有货吗"), toys)
    assert named.product is toys.products["PL-302"]


@pytest.mark.parametrize(
    ("product", "text", "said"),
    [
        (SWEATER, "奶白s怎么拍不了 啥时候有", "奶白S售罄，12/20左右补货"),
        (SWEATER, "雾霾蓝xl还有吗", "雾霾蓝L、XL缺货，预计12月12日补货"),
        (SWEATER, "燕麦色M有货吗", "燕麦色M码现在有货"),
        (CARDIGAN, "开衫绿色还有吗", "墨绿已售罄 不补货"),
    ],
)
def test_the_option_asked_about_gets_its_own_stock_line(
    product: Product, text: str, said: str
) -> None:
    assert option_stock_answer(product, text) == said or said in str(
        option_stock_answer(product, text)
    )


def test_an_option_the_cell_may_speak_of_is_never_said_in_stock() -> None:
    lipstick = Product(SHOP, "LP", "丝绒口红", Decimal(139), (Variant("#05 烂番茄"), Variant("#01 豆沙")),
                       usage_notes="库存：#05 缺货，预计12月15日补货")  # fmt: skip
    assert option_stock_answer(lipstick, "口红05还有吗 烂番茄那个") == "#05 缺货，预计12月15日补货"
    two_colours = option_stock_answer(SWEATER, "奶白和燕麦色有货吗")
    assert two_colours is None  # the whole cell answers two options


def test_a_stock_question_with_a_quantity_is_answered_with_the_stock() -> None:
    conversation = chat("59的打底衫 白色S 要两件 有没😭")
    focus = product_focus(conversation, CATALOG)
    assert focus.product is TEES[0]  # named by its price among two 打底衫
    found, _, _ = computed_answers(conversation, focus, CATALOG, "stock", DAY)
    assert [c.text for c in found] == ["亲，德绒半高领打底衫：白色S缺货，12月9日补哦～"]


def test_a_size_chart_sheet_names_the_product_by_its_short_id_and_the_cut() -> None:
    down = Product(SHOP, "SY-DN02", "轻薄羽绒服", Decimal(299))
    charts = [
        FAQ(SHOP, "faq-men", "SY-JK01 男款（DN02、TS01同） 尺码表",
            "M：身高165-170cm，体重110-130斤；L：身高170-175cm，体重130-145斤"),
        FAQ(SHOP, "faq-women", "SY-JK01 女款（DN02、TS01同） 尺码表",
            "S：身高155-160cm，体重85-100斤；M：身高160-165cm，体重100-110斤"),
    ]  # fmt: skip
    outdoor = Catalog.from_entries(SHOP, 1, [down, *charts])
    for text, said in [
        ("轻薄羽绒服 给老公买 173 135斤 拍啥码", "轻薄羽绒服男款拍L码"),
        ("轻薄羽绒服 我女生 162 105斤 穿啥码", "轻薄羽绒服女款拍M码"),
    ]:
        conversation = chat(text)
        answer = size_for_measure(conversation, product_focus(conversation, outdoor), outdoor)
        assert answer is not None and said in answer.text, (text, answer)


def test_the_records_own_size_advice_goes_beside_the_size() -> None:
    reply = size_reply("圆领毛衣 我158 105斤 穿啥码")
    assert reply is not None and reply.endswith("；这款宽松落肩，正常码～"), reply
    harness = size_reply("我家狗11kg 胸围量了52", "好的亲", "牵引绳拿哪个码")
    assert harness is not None and "这款" not in harness  # an FAQ's chart: no record advice


def test_an_option_with_a_number_is_out_only_when_its_own_words_are() -> None:
    """The last character stands for a colour (紫缺货), never for "3支装" in "1支装缺货"."""
    pencil = Product(
        "shop", "QJ-SC02", "2B考试涂卡铅笔", Decimal("8.8"),
        (Variant("1支装", Decimal("4.5")), Variant("3支装", Decimal("8.8"))),
        usage_notes="库存：1支装缺货",
    )  # fmt: skip
    assert out_of_stock_line(pencil, "1支装") == "1支装缺货"
    assert out_of_stock_line(pencil, "3支装") == ""
