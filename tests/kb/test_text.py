"""Keyword tokens, kind hints and promotion rules: pure functions, checked by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kb.errors import InvalidEntry
from kb.files.codec import parse_money, parse_rule
from kb.hints import hinted_kinds
from kb.tokens import split_pinyin, tokenize


def test_homophone_typos_and_typed_pinyin_share_pinyin_tokens() -> None:
    right = set(tokenize("保温杯"))
    assert {"baowen", "wenbei"} <= right
    assert {"baowen", "wenbei"} <= set(tokenize("保问杯有货吗"))  # 问 for 温: an IME slip
    assert {"baowen", "wenbei"} <= set(tokenize("baowenbei 有货吗"))
    assert {"tuihuo", "keyi"} <= set(tokenize("tuihuo keyi ma")) & set(tokenize("退货可以吗"))


def test_latin_words_that_are_not_pinyin_stay_whole() -> None:
    assert split_pinyin("iphone") is None
    assert split_pinyin("baowenbei") == ["bao", "wen", "bei"]
    tokens = tokenize("iPhone 500ML XXL")
    assert tokens == ["iphone", "500ml", "xxl"]


def test_full_width_and_stopwords() -> None:
    assert "500ml" in tokenize("５００ＭＬ的")
    assert "的" not in tokenize("我的杯子")


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ("焖烧罐1000ml多少钱", {"product"}),
        ("羽绒服有券吗", {"promotion"}),
        ("双十二有什么活动 价格能便宜点吗", {"product", "promotion"}),
        ("快递到哪了", set()),
    ],
)
def test_kind_hints(query: str, kinds: set[str]) -> None:
    assert hinted_kinds(query) == kinds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("满199减20", ("threshold", Decimal(199), Decimal(20), None, None)),
        ("店铺券满100减10", ("coupon", Decimal(100), Decimal(10), None, None)),
        ("满2件9折", ("percent", None, None, Decimal("0.9"), 2)),
        ("满两件八五折", ("percent", None, None, Decimal("0.85"), 2)),
        ("全场8折", ("percent", None, None, Decimal("0.8"), None)),
        ("立减10元", ("direct", None, Decimal(10), None, None)),
    ],
)
def test_promotion_rules_parse_into_numbers(text: str, expected: tuple[object, ...]) -> None:
    rule = parse_rule(text)
    assert (rule.type, rule.threshold, rule.amount, rule.percent, rule.min_items) == expected


@pytest.mark.parametrize("text", ["满20减30", "10折", "0折", "满2件10折", ""])
def test_rules_that_contradict_themselves_are_refused(text: str) -> None:
    with pytest.raises(InvalidEntry) as caught:
        parse_rule(text)
    assert caught.value.field == "rule"


@pytest.mark.parametrize(
    "text", ["买就送", "第二件半价", "秒杀价59.9元", "面霜+精华同时购买立减40元"]
)
def test_a_trainers_own_wording_is_kept_and_never_computed(text: str) -> None:
    assert parse_rule(text).type == "other"


def test_money() -> None:
    assert parse_money("¥89.90", "price") == Decimal("89.9")
    assert parse_money("1,299", "price") == Decimal(1299)
    with pytest.raises(InvalidEntry, match="price"):
        parse_money("八十九", "price")
