"""Whether two offers stack, answered by the promotion's own clause with its own yes or no.
A clause starting at its polarity is said after the clause before it naming an offer, or of
the promotion by its title, which the message or the customer's earlier words must name.
Nothing when no clause holds every offer the message names, clauses answer both ways, the
clause names an exception, or the promotion is not running today; nor from a clause about
something else than the message names: another product (遥控车 is not 电动童车), another
promotion, an offer not named (秒杀), the promotion's own tiers, or a noun's verb ("不参与满减的
商品"). Records built in code; the day is fixed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from copilot.grounding.stacking import stacking_answer
from kb.files.codec import parse_rule
from kb.types import Product, Promotion

TODAY = date(2026, 12, 6)


def promotion(pid: str, title: str, rule: str, note: str, ends: date) -> Promotion:
    return Promotion("tea", pid, title, rule, parse_rule(rule), (), date(2026, 12, 1), ends, note)


YEAR_END = promotion(
    "p-year", "岁末茶礼节（满200减30）", "满200减30",
    "商品页领取，每单限用1张店铺券，可叠加平台券；会员券也是店铺券，不能和满减券一起用；"
    "礼盒装不参加满减，活动期间礼盒下单送手提袋",
    date(2026, 12, 20),
)  # fmt: skip
SUBSIDY = promotion(
    "p-sub", "百亿补贴", "白茶饼补贴价89", "不参与满减、不叠加店铺券", date(2026, 12, 31)
)
FANS = promotion(
    "p-fans", "粉丝专享", "满150减15", "粉丝团成员额外领5元无门槛券，限1张，可以和满减叠加",
    date(2026, 12, 20),
)  # fmt: skip
TEA_SET = Product("tea", "t-set", "紫砂茶具套装", Decimal("199"))
ENDED = promotion("p-11", "双11囤茶节", "9折", "9折可以和店铺券一起用", date(2026, 11, 11))
COMING = Promotion(
    "tea", "p-new", "元旦茶会", "8折", parse_rule("8折"), (), date(2026, 12, 28), date(2027, 1, 3),
    "8折可以和红包一起用",
)  # fmt: skip
EXCEPT = promotion(
    "p-gift", "茶礼加购", "加购立减", "秒杀以外的商品可叠加店铺券", date(2026, 12, 20)
)
PROMOTIONS = (YEAR_END, SUBSIDY, FANS, ENDED, COMING, EXCEPT)


def answer(text: str, earlier: str = "") -> str | None:
    found = stacking_answer(text, PROMOTIONS, TODAY, earlier)
    return found[0].text if found else None


def test_a_no_is_the_clauses_own_with_what_it_speaks_of() -> None:
    assert answer("那会员券能一起用吗") == "亲，不好意思，会员券也是店铺券，不能和满减券一起用哦～"
    assert answer("礼盒装参加满减吗") == "亲，不好意思，礼盒装不参加满减哦～"
    assert answer("百亿补贴那个白茶饼能和满减一起用不") == (
        "亲，不好意思，「百亿补贴」不参与满减、不叠加店铺券哦～"
    )


def test_a_promotion_named_before_is_what_its_clause_speaks_of() -> None:
    flash = promotion(
        "p-flash", "白茶饼早鸟价", "到手价79", "每人限2份，不参加全店满减", date(2026, 12, 10)
    )
    found = stacking_answer("那能跟满减一起用吗", (flash,), TODAY, "白茶饼79还有吗")
    assert [c.text for c in found] == ["亲，不好意思，「白茶饼早鸟价」不参加全店满减哦～"]
    assert not stacking_answer("那能跟满减一起用吗", (flash,), TODAY, "礼盒还有货吗")


def test_a_yes_keeps_the_clause_naming_the_coupon() -> None:
    anything = promotion("p-any", "茶器9折专场", "9折", "不限品类叠加店铺券", date(2026, 12, 20))
    found = stacking_answer("9折能和店铺券叠加吗", (anything,), TODAY)
    assert [c.text for c in found] == ["可以的亲，「茶器9折专场」不限品类叠加店铺券哦～"]
    assert answer("无门槛券跟满减能叠加吗") == (
        "可以的亲，粉丝团成员额外领5元无门槛券，可以和满减叠加哦～"
    )


def test_nothing_where_no_clause_says_it() -> None:
    assert answer("茶具套装参加满减吗") is None  # the clause speaks of 礼盒装
    assert answer("新人券能和秒杀一起用吗") is None  # no clause holds 秒杀
    assert answer("9折能和店铺券一起用吗") is None  # only the ended promotion says so
    assert answer("8折能和红包一起用吗") is None  # only a promotion not yet started says so
    tiers = promotion("p-tiers", "茶礼满减", "满199减20，满399减50", "不累加", date(2026, 12, 20))
    assert not stacking_answer("这个能和满减一起用吗", (tiers,), TODAY)  # its own tiers
    newcomer = promotion("p-new", "新人券", "满50减5", "不能和满减券同时用", date(2026, 12, 20))
    assert not stacking_answer("这个券能和满减叠加吗", (newcomer,), TODAY)  # which coupon?
    # "秒杀以外的商品可叠加" is a no to 秒杀 and a yes to others
    assert answer("秒杀商品能叠加店铺券吗") is None
    coupons = promotion(
        "p-12", "双12满减", "满199减20", "店铺首页领券，可叠加平台券", date(2026, 12, 12)
    )
    assert not stacking_answer("满减和店铺券能一起用吗", (coupons,), TODAY)  # 店铺券 with 平台券
    assert answer("满减怎么算") is None  # not whether offers stack
    assert answer("能一起用吗") is None  # no offer named
    assert answer("这个券跟满减能一起用吗") is None  # 会员券 does not, 无门槛券 does


def test_nothing_from_a_clause_about_something_else_than_what_is_named() -> None:
    gift = promotion("p-gift2", "买茶送茶杯", "买2饼送茶杯", "赠品随单发", date(2026, 12, 20))
    assert not stacking_answer("买茶送茶杯能和无门槛券一起用吗", (gift, FANS), TODAY)  # FANS's
    flash = promotion("p-8", "整点秒杀", "秒杀价59", "秒杀不参与满减", date(2026, 12, 20))
    assert not stacking_answer("茶饼参加满减吗", (flash,), TODAY)  # of 秒杀, not named
    assert stacking_answer("秒杀参加满减吗", (flash,), TODAY)
    asked = "紫砂茶具套装能和满减一起用吗"
    assert stacking_answer(asked, (FANS,), TODAY)  # said of no product: FANS's coupon
    assert not stacking_answer(asked, (FANS,), TODAY, product=TEA_SET)  # the tea set's?
    described = promotion(
        "p-d", "满减专区", "满99减10", "不参与满减的商品可用店铺券", date(2026, 12, 20)
    )
    assert not stacking_answer("店铺券参加满减吗", (described,), TODAY)  # no "no" said
