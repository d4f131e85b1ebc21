"""The return rule for the product asked about: the clauses of the shop's return policy that name
it, after the rule itself, without the clauses about other products, or a refusal on a condition
the customer says is met alone; nothing when the question is not a return, the order is still on
its way, or the policy says nothing of this product; the shop-wide yes left out beside a refusal
naming the product, and the walk-through of a return beside a rule refusing what the customer
did. Records built in code, no models."""

from __future__ import annotations

from decimal import Decimal

from copilot.grounding.catalog import Catalog
from copilot.grounding.product_rules import product_return_rule, without_shop_wide_yes
from copilot.types import Candidate, Conversation, Order, OrderItem, OrderStatus, Source, Turn
from kb.types import Policy, Product

SHOP = "pets"
CAT_FOOD = Product(SHOP, "PS-02", "三文鱼成猫粮 全价无谷", Decimal(89))
LEASH = Product(SHOP, "PS-07", "反光牵引绳 中大型犬", Decimal(39))
RABBIT = Product(SHOP, "PL-302", "婴儿安抚兔（刺绣五官）", Decimal(59))
BOWL = Product(SHOP, "PS-09", "陶瓷猫碗", Decimal(29))
PRODUCTS = (CAT_FOOD, LEASH, RABBIT, BOWL)
RETURNS = Policy(
    SHOP, "pol-7", "other", "7天无理由",
    "签收7天内，未拆封、不影响二次销售的商品可以退换；猫粮狗粮等食品类拆封后不支持无理由退货；"
    "牵引绳吊牌要在才能退；毛绒贴身类（PL-301、PL-302）清洗过的不支持无理由",
)  # fmt: skip
SHIPPING = Policy(SHOP, "pol-1", "shipping", "发货", "17:00前下单当天发，猫粮整箱走德邦")


def found(
    text: str, product: Product, *policies: Policy, status: OrderStatus | None = None
) -> list[Candidate]:
    catalog = Catalog.from_entries(SHOP, 1, [*PRODUCTS, *policies])
    order = Order(status, (OrderItem(product.id, 1),)) if status else None
    return product_return_rule(
        Conversation(SHOP, (Turn("customer", text),), order), product, catalog
    )


def rule(text: str, product: Product, *, status: OrderStatus | None = "delivered") -> str | None:
    answers = found(text, product, RETURNS, SHIPPING, status=status)
    assert len(answers) <= 1
    return answers[0].text if answers else None


def test_the_clauses_naming_the_product_follow_the_rule_without_other_products() -> None:
    said = rule("猫粮还没拆 能退吗", CAT_FOOD)
    assert (
        said
        == "亲，签收7天内，未拆封、不影响二次销售的商品可以退换；猫粮狗粮等食品类拆封后不支持无理由退货～"
    )


def test_a_refusal_on_a_condition_the_customer_says_is_met_is_the_answer_alone() -> None:
    assert (
        rule("猫不吃 开了一袋了 能退吗", CAT_FOOD) == "亲，猫粮狗粮等食品类拆封后不支持无理由退货～"
    )
    # the trainer's product codes are not for the customer
    assert rule("宝宝不喜欢 洗过一次了 还能退吧", RABBIT) == "亲，毛绒贴身类清洗过的不支持无理由～"


def test_the_trainers_product_codes_are_left_out_of_the_rule() -> None:
    assert rule("安抚兔不喜欢 能退吗", RABBIT) == (
        "亲，签收7天内，未拆封、不影响二次销售的商品可以退换；毛绒贴身类清洗过的不支持无理由～"
    )


def test_a_refusal_of_what_the_item_may_not_be_keeps_the_rule_beside_it() -> None:
    engraved = Policy(
        SHOP, "pol-5", "other", "7天无理由", "未拆封支持无理由退换；刻字猫碗不支持无理由；猫粮不退"
    )  # fmt: skip
    assert [c.text for c in found("猫碗不喜欢 能退吗", BOWL, engraved)] == [
        "亲，未拆封支持无理由退换；刻字猫碗不支持无理由～"
    ]


def test_nothing_when_the_policy_names_no_rule_for_the_product() -> None:
    assert rule("猫碗不想要了 能退吗", BOWL) is None


def test_nothing_when_one_row_is_kept_whole() -> None:
    """The row is an answer already (the policy reply, the entry answer)."""
    row = Policy(SHOP, "pol-9", "other", "7天无理由", "陶瓷猫碗易碎，不支持无理由；质量问题除外")
    assert found("猫碗能退吗", BOWL, row) == []


def test_nothing_when_no_return_is_asked() -> None:
    assert rule("猫粮是全价粮吗", CAT_FOOD) is None
    assert rule("退货寄回去3天了 钱怎么还没到账", CAT_FOOD) is None
    assert rule("降价了 能退差价吗", CAT_FOOD) is None
    # a fault is the quality rule's: "拆封后不支持" is not said to it
    assert rule("开了一袋 发霉了 能退吗", CAT_FOOD) is None


def test_nothing_for_an_order_still_on_its_way() -> None:
    assert rule("猫粮能换成鸡肉的吗", CAT_FOOD) is not None
    assert rule("猫粮能换成鸡肉的吗", CAT_FOOD, status=None) is not None  # asked before buying
    assert rule("猫粮能换成鸡肉的吗", CAT_FOOD, status="paid") is None


def test_a_clause_split_inside_brackets_stays_whole() -> None:
    bracketed = Policy(
        SHOP, "pol-8", "other", "7天无理由",
        "要求配件齐全（猫碗：无磕碰；猫粮：未拆封）可以退；猫粮狗粮拆封后不支持无理由",
    )  # fmt: skip
    answers = found("猫碗能退吗", BOWL, bracketed)
    assert [c.text for c in answers] == ["亲，要求配件齐全（猫碗：无磕碰；猫粮：未拆封）可以退～"]


def test_a_refusal_naming_the_product_takes_the_shop_wide_yes_out() -> None:
    catalog = Catalog.from_entries(SHOP, 1, [*PRODUCTS, RETURNS])
    yes = Candidate("支持7天无理由退换哦～签收7天内吊牌没拆就可以", "answer", Source(), 0.5)
    refusal = Candidate(
        "亲，PL-302婴儿安抚兔属贴身类，拆开不支持无理由～", "answer", Source(), 0.45
    )
    other = Candidate("亲，猫粮拆封后不支持无理由退货～", "answer", Source(), 0.45)

    def kept(text: str, *candidates: Candidate) -> list[Candidate]:
        conversation = Conversation(SHOP, (Turn("customer", text),))
        return without_shop_wide_yes(candidates, conversation, RABBIT, catalog)

    assert kept("安抚兔不喜欢 能退吗", yes, refusal) == [refusal]
    worded = Candidate("亲，PL-302安抚兔拆开后不可以退哦～", "answer", Source(), 0.45)
    assert kept("安抚兔不喜欢 能退吗", yes, worded) == [worded]
    assert kept("安抚兔不喜欢 能退吗", yes, other) == [yes, other]  # another product's refusal
    assert kept("安抚兔开线了 能退吗", yes, refusal) == [yes, refusal]  # a fault: quality rules
    assert kept("安抚兔什么材质", yes, refusal) == [yes, refusal]  # no return asked


def test_the_return_asked_before_is_read_with_how_the_item_was_used() -> None:
    catalog = Catalog.from_entries(SHOP, 1, [*PRODUCTS, RETURNS])

    def said(*texts: str) -> list[str]:
        roles = ("customer", "agent")
        turns = tuple(Turn(roles[i % 2], t) for i, t in enumerate(texts))
        found = product_return_rule(Conversation(SHOP, turns), CAT_FOOD, catalog)
        return [c.text for c in found]

    refusal = ["亲，猫粮狗粮等食品类拆封后不支持无理由退货～"]
    assert said("猫不吃 能退吗", "亲，拆封了吗", "开了一袋了") == refusal
    assert said("猫不吃 能退吗", "亲，拆封了吗", "好的") == []  # tells nothing of its use
    assert said("猫粮是全价粮吗", "是的亲", "开了一袋了") == []  # no return asked before


def test_a_refusal_of_another_product_beside_this_ones_rule_refuses_nothing() -> None:
    catalog = Catalog.from_entries(SHOP, 1, [*PRODUCTS, RETURNS])
    rule = Candidate("亲，签收7天内支持无理由退货：猫碗须未使用～", "answer", Source(), 0.46)
    whole = Candidate(
        "亲，签收7天内支持无理由退货：猫碗须未使用；猫粮拆封后不退不换", "answer", Source(), 0.45
    )
    conversation = Conversation(SHOP, (Turn("customer", "猫碗不想要了 能退吗"),))
    assert without_shop_wide_yes([rule, whole], conversation, BOWL, catalog) == [rule, whole]


def test_a_rule_refusing_what_the_customer_did_goes_first_and_the_return_walk_through_goes() -> (
    None
):
    catalog = Catalog.from_entries(SHOP, 1, [*PRODUCTS, RETURNS])
    fact = Candidate("亲，陶瓷猫碗：手工上釉～", "answer", Source(), 0.6)
    walk = Candidate(
        "亲，麻烦在订单里点【申请售后】选择退货退款，按系统给的地址寄回（不接受到付哦）～",
        "script", Source(), 0.5,
    )  # fmt: skip
    rule = Candidate(
        "亲，签收7天内未使用的支持7天无理由退换，但已使用、已洗涤的不支持。", "answer", Source(), 0.45
    )  # fmt: skip

    def kept(text: str) -> list[tuple[str, float]]:
        conversation = Conversation(SHOP, (Turn("customer", text),))
        found = without_shop_wide_yes([fact, walk, rule], conversation, BOWL, catalog)
        return [(c.text, c.score) for c in found]

    assert kept("猫碗洗了一次 不喜欢 想退掉") == [(fact.text, 0.6), (rule.text, 0.61)]
    unused = [(fact.text, 0.6), (walk.text, 0.5), (rule.text, 0.45)]
    assert kept("猫碗没洗过 不喜欢 想退掉") == unused
    assert kept("猫碗洗了一次 裂了 想退掉") == unused  # a fault goes back on quality
    food = Candidate("亲，未拆封可以退；猫粮拆开后不支持无理由", "answer", Source(), 0.45)
    conversation = Conversation(SHOP, (Turn("customer", "猫碗拆开了 不喜欢 想退掉"),))
    # the refusal is of another product
    assert without_shop_wide_yes([walk, food], conversation, BOWL, catalog) == [walk, food]
