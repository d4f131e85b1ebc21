"""Routing rules, one by one: each route and its reason codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from copilot.errors import CopilotError
from copilot.policies import PolicyStore, policy_from_dict
from copilot.routing import RoutingSignals, repeated_question_count, requested_amount, route
from copilot.types import Conversation, Intent, Order, ShopPolicy, Turn
from kb.storage.redis_keys import KEYS

POLICY = ShopPolicy("shop-a", refund_limit=Decimal(100), compensation_limit=Decimal(20))
AUTO = ShopPolicy("shop-a", auto_reply=True, auto_min_confidence=0.9)


def chat(*texts: str, order: Order | None = None) -> Conversation:
    roles = ["customer", "agent"]
    return Conversation("shop-a", tuple(Turn(roles[i % 2], t) for i, t in enumerate(texts)), order)  # type: ignore[arg-type]


def intent(label: str, confidence: float = 0.9) -> Intent:
    return Intent(label, confidence)


@pytest.mark.parametrize(
    ("label", "signals", "queue", "reason"),
    [
        ("ask_human", RoutingSignals(), "supervisor", "ask_human"),
        ("complaint", RoutingSignals(), "supervisor", "complaint"),
        ("logistics_tracking", RoutingSignals(negative=True), "supervisor", "negative_sentiment"),
        ("return", RoutingSignals(threats=("12315",)), "supervisor", "threat:12315"),
        ("arbitration_claim", RoutingSignals(), "merchant", "arbitration"),
    ],
)
def test_people_problems_and_arbitration_go_to_a_specialist(
    label: str, signals: RoutingSignals, queue: str, reason: str
) -> None:
    decided = route(chat("你好"), intent(label), POLICY, signals)
    assert (decided.action, decided.queue) == ("handoff", queue)
    assert reason in decided.reasons


def test_refund_over_the_shop_limit_goes_to_after_sales() -> None:
    small = route(chat("不想要了，退我30元吧"), intent("return"), POLICY, RoutingSignals())
    assert small.action == "assist"
    big = route(chat("退我300元"), intent("return"), POLICY, RoutingSignals())
    assert (big.action, big.queue, big.reasons) == (
        "handoff",
        "after_sales",
        ("refund_over_limit",),
    )
    by_order = route(chat("我要退货"), intent("return"), POLICY, RoutingSignals())
    assert by_order.action == "assist"
    order = Order("delivered", amount=Decimal("259"))
    assert route(
        chat("我要退货", order=order), intent("return"), POLICY, RoutingSignals()
    ).reasons == ("refund_over_limit",)


def test_compensation_asked_above_the_limit() -> None:
    decided = route(chat("杯子摔坏了，赔偿50块"), intent("damaged_item"), POLICY, RoutingSignals())
    assert decided.reasons == ("compensation_over_limit",)
    assert (
        route(chat("杯子摔坏了，赔偿10块"), intent("damaged_item"), POLICY, RoutingSignals()).action
        == "assist"
    )


def test_the_same_question_unanswered_three_times() -> None:
    conversation = chat("还没发货吗", "亲，马上发", "怎么还没发货", "在催了亲", "还没发货吗？？")
    assert repeated_question_count(conversation) == 3
    decided = route(conversation, intent("urge_delivery"), POLICY, RoutingSignals())
    assert decided.reasons == ("repeated_question",)
    twice = chat("还没发货吗", "亲，马上发", "还没发货吗")
    assert route(twice, intent("urge_delivery"), POLICY, RoutingSignals()).action == "assist"


def test_low_confidence_is_a_human_decision() -> None:
    decided = route(chat("嗯嗯那个啥"), intent("other", 0.2), POLICY, RoutingSignals())
    assert (decided.action, decided.reasons) == ("handoff", ("low_confidence",))


def test_auto_only_for_a_confident_faq_answer_in_a_shop_that_allows_it() -> None:
    confident = RoutingSignals(faq_answer_confident=True)
    assert (
        route(chat("能装开水吗"), intent("product_question", 0.95), AUTO, confident).action
        == "auto"
    )
    assert route(
        chat("能装开水吗"), intent("product_question", 0.95), POLICY, confident
    ).reasons == ("auto_reply_off",)
    assert (
        route(chat("能装开水吗"), intent("product_question", 0.8), AUTO, confident).action
        == "assist"
    )
    assert (
        route(chat("能装开水吗"), intent("product_question", 0.95), AUTO, RoutingSignals()).action
        == "assist"
    )
    # a handoff reason always wins over auto
    angry = RoutingSignals(faq_answer_confident=True, negative=True)
    assert (
        route(chat("能装开水吗"), intent("product_question", 0.95), AUTO, angry).action == "handoff"
    )


def test_several_reasons_are_all_kept_and_the_most_urgent_queue_wins() -> None:
    decided = route(
        chat("退我500元，不然投诉"), intent("return"), POLICY, RoutingSignals(threats=("投诉",))
    )
    assert decided.queue == "supervisor"
    assert set(decided.reasons) == {"threat:投诉", "refund_over_limit"}


def test_amounts() -> None:
    assert requested_amount("赔我200元") == Decimal(200)
    assert requested_amount("退¥89.5就行") == Decimal("89.5")
    assert requested_amount("我买了2个杯子") is None


def test_policies_round_trip_through_redis(redis_client: object) -> None:
    store = PolicyStore(redis_client)  # type: ignore[arg-type]
    assert store.get("shop-x") == ShopPolicy("shop-x")
    policy = policy_from_dict(
        "shop-x", {"auto_reply": True, "refund_limit": "88.5", "banned_phrases": ["好评返现"]}
    )
    store.put(policy)
    assert store.get("shop-x") == policy
    with pytest.raises(CopilotError, match="refund_limt"):
        policy_from_dict("shop-x", {"refund_limt": 1})


def test_a_recent_policy_read_is_kept_until_a_write_in_this_process(redis_client: object) -> None:
    writer, reader = PolicyStore(redis_client), PolicyStore(redis_client, max_age=60)  # type: ignore[arg-type]
    assert reader.get("shop-x").shop_name == ""
    redis_client.set(KEYS.shop("shop-x", "policy"), '{"shop_name": "别处改的"}')  # type: ignore[attr-defined]
    assert reader.get("shop-x").shop_name == ""  # another process's change: after the max age
    assert writer.get("shop-x").shop_name == "别处改的"
    writer.put(policy_from_dict("shop-x", {"shop_name": "杯子小店"}))
    assert reader.get("shop-x").shop_name == "杯子小店"


def test_a_low_confidence_never_hides_a_grounded_kb_answer() -> None:
    grounded = RoutingSignals(grounded=True)
    decided = route(chat("pro那个坐地铁能隔音不"), intent("damaged_item", 0.2), POLICY, grounded)
    assert decided.action == "assist" and "low_confidence" not in decided.reasons
    guessed = route(chat("龙井是新茶不"), intent("complaint", 0.13), POLICY, grounded)
    assert guessed.action == "assist"  # a complaint guessed at 0.13 is no complaint
    sure = route(chat("你们这什么服务"), intent("complaint", 0.9), POLICY, grounded)
    assert (sure.action, sure.reasons) == ("handoff", ("complaint",))
