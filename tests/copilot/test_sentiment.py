"""Sentiment: the lexicon finds anger and threats, snownlp only scales; a polite question is
neither angry nor threatening. Uses the real snownlp model."""

from __future__ import annotations

import pytest

from copilot.sentiment.analyzer import ANGER_NEGATIVITY, SNOWNLP_SHARE, SentimentAnalyzer


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


class FakeSnowNLP:
    """Stands in for snownlp: a fixed negative probability, and a count of the calls."""

    negative = 0.5
    calls = 0

    @staticmethod
    def positive(text: str) -> float:
        FakeSnowNLP.calls += 1
        return 1.0 - FakeSnowNLP.negative


def fake_analyzer(negative: float) -> SentimentAnalyzer:
    FakeSnowNLP.negative, FakeSnowNLP.calls = negative, 0
    model = SentimentAnalyzer()
    model._positive = FakeSnowNLP.positive  # as warm_up() leaves it
    return model


def eager(text: str, negative: float) -> tuple[float, bool]:
    """What analyze() computed before it skipped snownlp: both from the whole formula."""
    lexicon = fake_analyzer(negative).analyze(text).lexicon
    excess = 0.0 if not text.strip() else min(1.0, max(0.0, (negative - 0.5) / 0.5))
    negativity = 1.0 - (1.0 - lexicon) * (1.0 - SNOWNLP_SHARE * excess)
    return round(negativity, 4), negativity >= ANGER_NEGATIVITY


@pytest.mark.parametrize(
    "text",
    ["", "在吗", "发货了吗！！", "怎么还没到？？？", "发货了吗?!", "😡", "垃圾", "垃圾！！", "我要投诉",
     "再不发货就退款", "放心 不会给差评的！！"],
)  # fmt: skip
@pytest.mark.parametrize("negative", [0.0, 0.5, 0.9, 0.96875, 0.97, 1.0])
def test_anger_and_negativity_are_the_whole_formulas(text: str, negative: float) -> None:
    """0.96875 puts an intensifier-only message exactly on the anger line."""
    mood = fake_analyzer(negative).analyze(text)
    assert (mood.negativity, mood.anger) == eager(text, negative)


def test_snownlp_runs_only_when_it_can_change_anger() -> None:
    model = fake_analyzer(0.99)
    assert not model.analyze("请问这个杯子能装开水吗").anger  # the lexicon alone: calm
    assert model.analyze("我要投诉你们").anger  # the lexicon alone: angry
    assert FakeSnowNLP.calls == 0
    assert model.analyze("到底什么时候发货？？？").anger  # "？？？" alone: snownlp decides
    assert FakeSnowNLP.calls == 1
    mood = model.analyze("请问这个杯子能装开水吗")
    assert mood.negativity == mood.negativity == round(1 - (1 - SNOWNLP_SHARE * 0.98), 4)
    assert FakeSnowNLP.calls == 2  # read once, then kept; the earlier text was cached


@pytest.mark.slow  # loads snownlp itself (430 MB of dicts) to compare, bit for bit
def test_snownlps_model_read_without_snownlp_gives_its_very_probabilities() -> None:
    """copilot/sentiment/snow_model.py keeps snownlp's counts in arrays instead of its 430 MB of
    dicts; every probability must still be snownlp's own, bit for bit, and its segmentation
    too: on our chats, texts unknown to its segmenter (Latin, digits, emoji, rare characters)
    and random strings."""
    import random

    from snownlp import seg as snow_seg
    from snownlp import sentiment as snow_sentiment  # SnowNLP(text).sentiments calls it

    from copilot.sentiment.snow_model import SnowSentiment

    ours = SnowSentiment.load()
    texts = [
        "东西很好，物流也快", "垃圾产品，再也不买了", "到底什么时候发货？？？", "在吗", "",
        "退款怎么还没到账", "iPhone 15 的壳有吗 😡", "我要投诉你们！！！客服态度太差了", "亲，在的～",
        "啊啊啊啊啊啊啊", "龘靐齉爩", "abc 123 好的", "放心 不会给差评的！！", "。。。",
    ]  # fmt: skip
    rng = random.Random(7)
    alphabet = "好差垃圾快慢发货退款在吗亲的了不是我你们这个能装开水杯子怎么还没到投诉龘 ab1！？。"
    texts += ["".join(rng.choices(alphabet, k=rng.randint(1, 30))) for _ in range(300)]
    for text in texts:
        if text.strip():
            assert ours.words(text) == [w for w in snow_seg.seg(text) if w not in ours.stop], text
        assert ours.positive(text) == snow_sentiment.classify(text), text
