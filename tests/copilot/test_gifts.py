"""A gift the customer asks about is answered by the sentence of the running promotion that gives
it, with the sentence after when it goes on about the gifts; nothing for a gift reported missing,
a question naming no gift, or a promotion not running. Records built in code, no models."""

from __future__ import annotations

from datetime import date

from copilot.grounding.gifts import gift_answer
from kb.files.codec import parse_rule
from kb.types import Promotion

DAY = date(2026, 12, 6)


def promotion(pid: str, rule: str, note: str, starts: date = date(2026, 12, 1)) -> Promotion:
    return Promotion("shoes", pid, "双12年终狂欢", rule, parse_rule(rule), (), starts,
                     date(2026, 12, 12), note)  # fmt: skip


DOUBLE_12 = promotion(
    "p-12",
    "满169减20",
    "①店铺券：首页领券，每单限用1张\n②鞋垫不参加满减\n"
    "③买加绒款送加绒保暖鞋垫1双（每单1双，按鞋码配，随单发）\n赠品送完即止，不用备注",
)
KEYBOARDS = promotion("p-kb", "满299减30", "买任意键盘送P1鼠标垫800×300mm，随单发")


def answered(text: str, *promotions: Promotion) -> list[str]:
    return [c.text for c in gift_answer(text, promotions or (DOUBLE_12, KEYBOARDS), DAY)]


def test_the_sentence_giving_the_gift_asked_about_with_the_one_going_on_about_gifts() -> None:
    assert answered("我刚拍了加绒马丁靴 送的鞋垫要不要备注啊") == [
        "亲，买加绒款送加绒保暖鞋垫1双，每单1双，按鞋码配，随单发，赠品送完即止，不用备注哦～"
    ]  # not "鞋垫不参加满减", which gives nothing


def test_a_gift_named_by_its_kind_is_found() -> None:
    assert answered("k68拍了送垫子吗 还有没有了", KEYBOARDS) == [
        "亲，买任意键盘送P1鼠标垫800×300mm，随单发哦～"
    ]


def test_a_rule_giving_two_offers_is_said_for_the_gift_alone_without_its_numbering() -> None:
    live = promotion("p-live", "②水壶下单送保温杯1个；直播间榨汁杯秒杀79元", "秒杀价不参与价保")
    assert answered("买水壶送保温杯吗", live) == ["亲，水壶下单送保温杯1个哦～"]


def test_nothing_for_a_missing_gift_no_gift_named_or_a_promotion_not_running() -> None:
    assert answered("说好送的鞋垫呢 盒子里没有啊") == []  # an after-sales problem
    assert answered("上个月买的 现在都送鼠标垫了 能给我补一个吗", KEYBOARDS) == []
    assert answered("买耳机有送啥吗") == []
    assert answered("我3号买的229 昨天直播间才199还送鞋垫") == []  # asks nothing of the gift
    lottery = promotion("p-draw", "满99减10", "下单就送小礼品，还有机会抽奖")
    assert answered("送的还有吗", lottery) == []  # 还 names no gift
    assert answered("送的鞋垫要备注吗", promotion("p-later", "满99减10", "买加绒款送鞋垫",
                                                   starts=date(2026, 12, 10))) == []  # fmt: skip
    assert answered("送的袜子要备注吗") == []  # no promotion gives socks
