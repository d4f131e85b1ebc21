"""The whole pipeline by the date: demo shops alive on any load day, and knowledge that names an
ended promotion never offered once it has ended (real embedder, Redis, FAISS, history bank)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from dates import TEST_TODAY

from copilot.build import PipelineConfig, build_suggester
from copilot.clock import FixedClock
from copilot.model_setup import onnx_embedder_dir
from copilot.pipeline import Suggester, SuggesterConfig
from copilot.types import Conversation, Order, OrderItem, Turn
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from service.wiring import load_demo

pytestmark = [pytest.mark.dates, pytest.mark.slow]


def suggester_on(kb: KnowledgeBase, models_dir: Path, day: date) -> Suggester:
    config = PipelineConfig(embedder_dir=onnx_embedder_dir(models_dir), clock=FixedClock.on(day))
    built = build_suggester(config, kb)
    built.config = SuggesterConfig(use_llm=False)
    return built


def ask(suggester: Suggester, shop: str, text: str, order: Order | None = None) -> list[str]:
    conversation = Conversation(shop, (Turn("customer", text),), order)
    return [c.text for c in suggester.suggest(conversation, use_llm=False).candidates]


@pytest.mark.parametrize("load_day", [TEST_TODAY, TEST_TODAY + timedelta(days=365)])
def test_the_demo_shows_live_promotions_on_any_load_day_until_they_end(
    kb: KnowledgeBase, models_dir: Path, load_day: date
) -> None:
    load_demo(kb, today=load_day)
    two_cups = Order("unpaid", (OrderItem("pdd-p01", 2),))  # 2 x ¥69 = ¥138
    on_load_day = suggester_on(kb, models_dir, load_day)
    quoted = ask(on_load_day, "demo-pdd", "我拍了两个杯子还没付款，有优惠吗", two_cups)
    assert any("¥128" in text for text in quoted), quoted  # 满99减10 runs four more days
    deals = ask(on_load_day, "demo-pdd", "现在有什么活动")
    assert any("满99减10" in text for text in deals), deals

    # five days on, 满99减10 is over: no candidate quotes it, the math no longer applies it
    after = suggester_on(kb, models_dir, load_day + timedelta(days=5))
    quoted = ask(after, "demo-pdd", "我拍了两个杯子还没付款，有优惠吗", two_cups)
    assert not any("¥128" in text or "满99减10" in text for text in quoted), quoted
    deals = ask(after, "demo-pdd", "现在有什么活动")
    assert deals and not any("满99减10" in text for text in deals), deals


def test_an_faq_quoting_an_expired_sale_is_never_offered_after_it_ends(
    kb: KnowledgeBase, models_dir: Path
) -> None:
    ends = TEST_TODAY + timedelta(days=3)
    rows = [
        {"kind": "product", "id": "tea", "title": "明前龙井礼盒", "price": "168"},
        {"kind": "promotion", "id": "sale", "title": "茶叶节满300减30", "rule": "满300减30",
         "starts": (TEST_TODAY - timedelta(days=10)).isoformat(), "ends": ends.isoformat()},
        {"kind": "faq", "id": "deal", "question": "现在有什么优惠活动",
         "answer": "亲，现在全店满300减30，两盒龙井礼盒就能用哦～"},
        {"kind": "faq", "id": "ship", "question": "什么时候发货", "answer": "亲，48小时内发货哦～"},
    ]  # fmt: skip
    kb.add("tea-shop", [entry_from_dict("tea-shop", r) for r in rows])
    before = ask(suggester_on(kb, models_dir, ends), "tea-shop", "现在有什么优惠活动吗")
    assert "亲，现在全店满300减30，两盒龙井礼盒就能用哦～" in before
    for day in (ends + timedelta(days=1), ends + timedelta(days=365)):
        after = ask(suggester_on(kb, models_dir, day), "tea-shop", "现在有什么优惠活动吗")
        assert not any("满300减30" in text for text in after), (day, after)
