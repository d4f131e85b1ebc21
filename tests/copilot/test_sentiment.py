"""Sentiment: the lexicon finds anger and threats, snownlp only scales; a polite question is
neither angry nor threatening. Uses the real snownlp model."""

from __future__ import annotations

import pytest

from copilot.sentiment import ANGER_NEGATIVITY, SNOWNLP_SHARE, SentimentAnalyzer


@pytest.fixture(scope="module")
def analyzer() -> SentimentAnalyzer:
    model = SentimentAnalyzer()
    model.warm_up()
    model.warm_up()  # idempotent
    return model


@pytest.mark.parametrize(
    ("text", "threat"),
    [
        ("再不处理我就打12315", "12315"),
        ("我要投诉你们这家店", "投诉"),
        ("不给退就给差评", "差评"),
        ("发到网上曝光你们", "曝光"),
        ("我已经找律师了", "律师"),
    ],
)
def test_threats_are_named_and_make_the_message_angry(
    analyzer: SentimentAnalyzer, text: str, threat: str
) -> None:
    mood = analyzer.analyze(text)
    assert threat in mood.threats
    assert mood.anger and mood.negative
    assert mood.negativity >= ANGER_NEGATIVITY


@pytest.mark.parametrize(
    "text",
    ["什么破杯子 用两天就漏了", "垃圾卫衣 气死我了😡", "你们就是骗子！！", "再不发货我就退款了"],
)
def test_anger_without_a_threat(analyzer: SentimentAnalyzer, text: str) -> None:
    mood = analyzer.analyze(text)
    assert mood.anger and mood.negative
    assert mood.threats == ()


@pytest.mark.parametrize(
    "text",
    [
        "请问这个杯子能装开水吗",
        "退款怎么还没到账",  # snownlp reads this as very negative; it is a plain question
        "滚筒洗衣机能洗羽绒服吗",
        "放心 不会给差评的",
        "谢谢亲 服务很好",
    ],
)
def test_polite_messages_are_not_flagged(analyzer: SentimentAnalyzer, text: str) -> None:
    mood = analyzer.analyze(text)
    assert not mood.anger and not mood.negative
    assert mood.threats == ()
    assert mood.negativity <= SNOWNLP_SHARE


def test_negativity_orders_messages(analyzer: SentimentAnalyzer) -> None:
    calm = analyzer.analyze("谢谢亲 服务很好").negativity
    neutral = analyzer.analyze("这个杯子保温多久").negativity
    furious = analyzer.analyze("什么破质量 气死我了 差评！！").negativity
    assert calm < furious and neutral < furious
    assert 0.0 <= calm <= neutral <= 1.0
    assert furious > 0.9


def test_snownlp_alone_never_makes_anger() -> None:
    lexicon_only = SentimentAnalyzer(use_snownlp=False)
    assert lexicon_only.analyze("退款怎么还没到账").negativity == 0.0
    assert lexicon_only.analyze("垃圾").anger
