"""A promotion the customer names is answered with where it stands that day: pure rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import computed_answers
from copilot.grounding.focus import product_focus
from copilot.grounding.named_promotions import named_promotion_answer
from copilot.guardrails.staleness import stale_mentions
from copilot.types import Conversation, Turn
from kb.files.codec import parse_rule
from kb.types import Product, Promotion

TODAY = date(2026, 12, 6)


def promotion(
    pid: str, title: str, rule: str, starts: date, ends: date, note: str = ""
) -> Promotion:
    return Promotion("pets", pid, title, rule, parse_rule(rule), (), starts, ends, note)


ENDED = promotion("p-11", "双11囤粮节", "猫粮满199减30", date(2026, 11, 1), date(2026, 11, 11))
FLASH = promotion(
    "p-flash", "猫砂限时秒杀", "豆腐猫砂秒杀价59.9元", date(2026, 12, 1), date(2026, 12, 8),
    "秒杀价不与其他优惠同享，提醒客户提前加购",
)  # fmt: skip
COMING = promotion("p-12", "双12年货节", "满99减10", date(2026, 12, 12), date(2026, 12, 14))
ALL = (ENDED, FLASH, COMING)


def answer(text: str, asks: bool = True) -> str:
    found = named_promotion_answer(text, ALL, TODAY, asks=asks)
    assert len(found) <= 1
    return found[0].text if found else ""


def test_an_ended_promotion_is_said_to_be_over_with_what_runs_now() -> None:
    text = answer("双十一那个满199减30还有吗")
    assert "「双11囤粮节」已经结束了" in text and "猫砂限时秒杀" in text
    assert "11月11日" not in text  # an ended date would read as stale knowledge
    # saying it has ended is true: the staleness guardrail lets it through
    assert stale_mentions(text, ALL, TODAY) == []
    assert stale_mentions("双11囤粮节猫粮满199减30", ALL, TODAY)  # offering it is still stale


def test_a_coming_promotion_is_announced_with_its_start_date() -> None:
    text = answer("双12有活动不")
    assert text == "亲，「双12年货节」12月12日开始，到12月14日：满99减10～"
    assert stale_mentions(text, ALL, TODAY) == []


def test_a_question_about_combining_gets_the_customer_part_of_the_note() -> None:
    text = answer("猫砂秒杀能和满减券一起用吗")
    assert "秒杀价不与其他优惠同享" in text and "到12月8日" in text
    assert "提醒客户" not in text  # the trainer's note to agents stays with the agents


def test_a_title_word_names_a_promotion_only_when_offers_are_asked_about() -> None:
    assert answer("猫砂会不会结块", asks=False) == ""
    assert answer("12斤的狗用哪个") == ""  # a number is a quantity, not 双12
    assert answer("发什么快递") == ""


def test_the_tiers_of_one_deal_are_said_as_one_deal() -> None:
    """满49减5、满99减12 imports as two promotions (the order gets the better one); said as
    two, the reply reads pasted from a table."""
    from copilot.grounding.promotion_tiers import deals

    low, high = (
        promotion(f"t{at}", f"双12狂欢（满{at}减{off}）", f"满{at}减{off}", date(2026, 12, 1),
                  date(2026, 12, 12))
        for at, off in ((49, 5), (99, 12))
    )  # fmt: skip
    other = promotion("t-x", "会员日（满99减12）", "满99减12", date(2026, 12, 1), date(2026, 12, 9))
    found = named_promotion_answer("双12有活动吗", (high, low, other), TODAY, asks=True)
    assert found[0].text == "亲，「双12狂欢」正在进行：满49减5、满99减12，到12月12日～"
    assert set(found[0].source.kb_entry_ids) == {"t49", "t99"}
    joined = deals((high, other, low))  # another deal's tier, or other dates, stays apart
    assert [(p.title, len(members)) for p, members in joined] == [("双12狂欢", 2), (other.title, 1)]


def test_a_note_is_read_without_the_sheets_numbering_brackets_and_status_word() -> None:
    """A trainer's cell "①全店、（可以跨商品凑单，定制脚垫也参加）\\n进行中" says where the deal
    applies; its numbering, brackets and status word are the sheet's layout."""
    running = promotion(
        "p-12a", "双12年终大促", "满99减10", date(2026, 12, 1), date(2026, 12, 12),
        "①全店、（可以跨商品凑单，定制脚垫也参加）\n进行中",
    )  # fmt: skip
    found = named_promotion_answer("双12满减能跨店凑吗", (running,), TODAY, asks=True)
    assert found[0].text == (
        "亲，「双12年终大促」正在进行：满99减10，到12月12日（全店，可以跨商品凑单，定制脚垫也参加）～"
    )


def test_a_long_note_gives_what_a_reply_carries_and_to_combining_what_stacks() -> None:
    """A cell listing the festival's other deals and a stock count for agents is cut to a
    reply's length; to "能一起用吗" the sentences on what stacks are the note."""
    running = promotion(
        "p-12b", "双12年终好价", "满599减70", date(2026, 12, 1), date(2026, 12, 12),
        "1. 全店（取最高档）\n2. 买任意键盘送鼠标垫800×300mm，限量500份，按付款顺序送完即止，随单发\n"
        "3. 鼠标垫12/5统计还剩约180份，快没了及时报\n可和京东平台券叠加",
    )  # fmt: skip
    asked = named_promotion_answer("双12满减能和平台券一起用吗", (running,), TODAY, asks=True)
    note = asked[0].text.split("到12月12日（", 1)[1]
    assert note == "可和京东平台券叠加）～"
    assert "180" not in note and "及时报" not in note
    told = named_promotion_answer("双12有啥活动", (running,), TODAY, asks=True)
    assert "全店，取最高档" in told[0].text and "1." not in told[0].text


def test_a_generic_word_of_a_title_names_no_promotion_in_either_spelling() -> None:
    """活动 is in 元旦活动's title, in characters and (to the tokenizer) in pinyin too."""
    new_year = promotion("p-ny", "元旦活动", "全店满199减30", date(2026, 12, 28), date(2027, 1, 3))
    assert named_promotion_answer("现在有活动吗", (new_year,), TODAY, asks=True) == []
    assert named_promotion_answer("元旦活动是哪天", (new_year,), TODAY, asks=True) != []


def test_a_promotion_asked_after_gets_no_question_of_which_product() -> None:
    """ "双11那个满199减30还有吗": its answer says where the promotion stands; "您问的是哪一款" there
    reads as not having listened. A stock question naming no product still gets it."""
    litter = Product("pets", "CL-01", "豆腐猫砂", Decimal("69.9"))
    catalog = Catalog.from_entries("pets", 1, [litter, ENDED, FLASH, COMING])

    def clarified(text: str) -> bool:
        chat = Conversation("pets", (Turn("customer", text),))
        found, _, _ = computed_answers(chat, product_focus(chat, catalog), catalog, "", TODAY)
        return any(c.role == "clarify" for c in found)

    assert not clarified("双11那个满199减30还有吗")
    assert clarified("那个还有货吗")
