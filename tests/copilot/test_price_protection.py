"""The shop's price-protection rule applied to the purchase the customer tells of: inside the
window from payment, with the difference of the two prices they name; past it, a plain no; a
drop they put down to what the rule (or the promotion itself) leaves out, that sentence; and
nothing where the day is not said, the window runs from delivery and the purchase is older, or
the question is a hypothetical. Records built in code; the day is fixed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from copilot.grounding.catalog import Catalog
from copilot.grounding.price_protection import price_protection_answer
from copilot.types import Conversation, Turn
from kb.types import Policy, Promotion, PromotionRule

SHOP = "bedding"
TODAY = date(2026, 12, 6)
RULE = Policy(
    SHOP,
    "p-guard",
    "other",
    "价保（补差价）",
    "付款后15天内，本店同款同规格商品页面售价降低的，可申请补差价。\n"
    "秒杀、百亿补贴除外，满减/优惠券不算降价。",
)
SALE = Promotion(
    SHOP, "promo-flash", "雪地棉限时秒杀", "秒杀价69.9", PromotionRule("other"),
    starts=date(2026, 12, 1), ends=date(2026, 12, 8), description="不参与价保",
)  # fmt: skip
CATALOG = Catalog.from_entries(SHOP, 1, [RULE, SALE])


def answer(*customer: str, policy: Policy = RULE) -> tuple[str, tuple[Decimal, ...]] | None:
    turns: list[Turn] = []
    for text in customer:
        turns += [Turn("customer", text), Turn("agent", "亲，在的～")]
    catalog = CATALOG if policy is RULE else Catalog.from_entries(SHOP, 1, [policy])
    found = price_protection_answer(Conversation(SHOP, tuple(turns[:-1])), catalog, TODAY)
    return None if found is None else (found.candidate.text, found.computed)


def test_inside_the_window_with_the_difference_of_the_prices_named() -> None:
    said = answer("我11.28买的纯色四件套259", "今天一看239了？？能退差价不")
    assert said == (
        "亲，您的订单还在付款后15天的价保期内，同款同规格降价可以补差价，差价20元哦～",
        (Decimal(20),),
    )
    said = answer("我前天买的被子59.9 今天看变55.9了 能补差价不")
    assert said is not None and "差价4元" in said[0]
    said = answer("我22号买的 今天看降价了 能退差价吗")  # last month's 22nd: 14 days
    assert (
        said is not None
        and said[0].startswith("亲，您的订单还在付款后15天的价保期内")
        and not said[1]
    )


def test_past_the_window_is_a_plain_no() -> None:
    said = answer("我11月20号买的四件套 现在降了100 能退差价不")
    assert said == ("亲，不好意思，您的订单已经超过付款后15天的价保期了，补不了差价哦～", ())


def test_a_drop_the_rule_or_the_promotion_leaves_out_gets_that_sentence() -> None:
    said = answer("现在搞满减便宜了 能退差价不")
    assert said == ("亲，不好意思，满减/优惠券不算降价哦～", ())
    said = answer("我4号晚上买的雪地棉89.9 现在秒杀69.9 能退差价吗")
    assert said is not None and said[0] == "亲，不好意思，秒杀、百亿补贴除外哦～"
    plain = Policy(SHOP, "p-plain", "other", "价保", "下单7天内，本店同款同规格降价可以补差价")
    shop = Catalog.from_entries(SHOP, 1, [plain, SALE])
    conversation = Conversation(SHOP, (Turn("customer", "我4号买的 现在秒杀69.9 能退差价吗"),))
    found = price_protection_answer(conversation, shop, TODAY)
    assert found is not None
    assert found.candidate.text == "亲，不好意思，「雪地棉限时秒杀」的价格不参与价保哦～"
    assert found.candidate.source.kb_entry_ids == ("p-plain", "promo-flash")
    # not named, but the price it came down to is the promotion's
    conversation = Conversation(SHOP, (Turn("customer", "前天买的89.9 今天一看69.9了 能退差价吗"),))
    found = price_protection_answer(conversation, shop, TODAY)
    assert found is not None and "雪地棉限时秒杀" in found.candidate.text
    conversation = Conversation(SHOP, (Turn("customer", "前天买的89.9 今天一看79.9了 能退差价吗"),))
    found = price_protection_answer(conversation, shop, TODAY)
    assert found is not None and found.candidate.text.endswith("差价10元哦～")


def test_nothing_where_the_rule_cannot_be_applied() -> None:
    assert answer("上周买的 现在便宜了 能退差价吗") is None  # the day is not said
    assert answer("今天拍了 12号要是降价了能补差价不") is None  # a hypothetical
    assert answer("我11月21号买的 能退差价吗") is None  # the window's last day: either way
    assert answer("我11.28买的 现在239了") is None  # no price protection asked
    delivered = Policy(SHOP, "p-sign", "other", "价保", "签收后7天内本店同款降价可以补差价")
    assert answer("我11月20号买的 能补差价吗", policy=delivered) is None
    said = answer("前天买的 能补差价吗", policy=delivered)
    assert said is not None and "签收后7天的价保期内" in said[0]


def test_only_a_price_protection_window_is_applied_and_all_its_rows_leave_out() -> None:
    exchange = Policy(SHOP, "p-swap", "other", "换货", "签收7天内可换同价规格，不同价的补差价")
    assert answer("我前天买的 现在降价了 能补差价吗", policy=exchange) is None
    rows = [
        Policy(
            SHOP, "p-days", "other", "价保", "付款后7天内，同款同规格日常售价下调的，可以申请退差价"
        ),
        Policy(SHOP, "p-none", "other", "价保", "不保价：直播间专享价、个人优惠券差异"),
    ]
    said = Conversation(SHOP, (Turn("customer", "前天买的 今天直播间便宜了 能退差价吗"),))
    found = price_protection_answer(said, Catalog.from_entries(SHOP, 1, rows), TODAY)
    assert (
        found is not None
        and found.candidate.text == "亲，不好意思，直播间专享价、个人优惠券差异不参与价保哦～"
    )
