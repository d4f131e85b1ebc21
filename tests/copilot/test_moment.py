"""Replies that fit the moment: no goodbye mid-problem, no apology before a purchase, no
request for a good review to a customer who threatens a bad one."""

from __future__ import annotations

import pytest

from copilot.guardrails.moment import (
    closing_out_of_place,
    fits_the_moment,
    only_pleasantry,
    review_out_of_place,
)
from copilot.types import Candidate, Conversation, Intent, Order, OrderItem, Source, Turn

GOODBYE = "感谢您对京东的支持，祝您生活愉快，再见!"
ANYTHING_ELSE = "请问还有其他还可以帮到您的吗?"
LEAK = "非常抱歉给您带来不便，杯子漏水弄湿了包，这边马上为您补发一个新的杯盖"


def reply(text: str) -> Candidate:
    return Candidate(text, "answer", Source(history_reply_ids=("h1",)), 0.5)


def chat(text: str, order: Order | None = None) -> Conversation:
    return Conversation("s", (Turn("customer", text),), order)


@pytest.mark.parametrize("text", [GOODBYE, ANYTHING_ELSE])
def test_a_closing_pleasantry_waits_for_the_customer_to_close(text: str) -> None:
    mid_problem = chat("快递三天没动了 怎么回事")
    assert not fits_the_moment(reply(text), mid_problem, Intent("logistics_tracking", 0.8))
    closing = chat("好的 谢谢")
    assert fits_the_moment(reply(text), closing, Intent("thanks", 0.9))


def test_a_pleasantry_inside_a_real_answer_is_not_only_a_pleasantry() -> None:
    assert only_pleasantry(GOODBYE) and only_pleasantry(ANYTHING_ELSE)
    answer = "亲，已经为您催促仓库了，今天会发出，感谢您的支持"
    assert not only_pleasantry(answer)
    assert fits_the_moment(reply(answer), chat("还没发货吗"), Intent("urge_delivery", 0.8))


def test_no_apology_for_another_situation_before_a_purchase() -> None:
    question = chat("这个杯子能装开水吗")
    assert not fits_the_moment(reply(LEAK), question, Intent("product_question", 0.9))
    bought = chat("杯子漏水了", Order("delivered", (OrderItem("cup", 1),)))
    assert fits_the_moment(reply(LEAK), bought, Intent("damaged_item", 0.9))


def test_a_review_is_asked_for_only_of_a_content_customer_closing() -> None:
    invite = "亲，收到衣服还满意的话，麻烦给个五星好评呀～"
    angry = chat("这么贵的衣服就这质量 我要给差评")
    assert review_out_of_place(invite, angry, "complaint")
    assert review_out_of_place(invite, chat("到哪了"), "logistics_tracking")
    assert not fits_the_moment(reply(invite), angry, Intent("complaint", 0.9, family="general"))
    assert not review_out_of_place(invite, chat("收到了 挺好的 谢谢"), "thanks")
    # "不好评价别家" declines to compare brands: no review asked
    assert not review_out_of_place("亲，各家都有特点，不好评价别家哦～", angry, "complaint")


def test_a_thanks_script_waits_for_words_that_close_after_a_problem_told() -> None:
    script = Candidate("感谢亲的支持～有任何问题随时来找我们哦", "script", Source(("s-1",)), 0.5)
    told = (Turn("customer", "收到沐浴露漏了一箱子😡"), Turn("agent", "非常抱歉！是今天收到的吗"))
    going_on = Conversation("s", (*told, Turn("customer", "对 刚拿到")))
    assert closing_out_of_place(script, going_on, "thanks")
    closing = Conversation("s", (*told, Turn("customer", "好的 谢谢")))
    assert not closing_out_of_place(script, closing, "thanks")
    untroubled = Conversation("s", (Turn("customer", "对 刚拿到"),))
    assert not closing_out_of_place(script, untroubled, "thanks")
    answer = Candidate("亲，收到就好～", "answer", Source(("f-1",)), 0.5)
    assert not closing_out_of_place(answer, going_on, "thanks")
