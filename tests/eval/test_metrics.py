"""Metrics against hand-computed examples."""

from __future__ import annotations

import math
import random

import pytest

from eval.calibrate import best_threshold
from eval.metrics import (
    TurnScores,
    bleu4,
    bootstrap_ci,
    lcs_length,
    macro_f1,
    normalize,
    paired_delta,
    quality_metrics,
    rouge_l,
    score_turns,
)


def _lcs_table(a: str, b: str) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
            )
    return table[-1][-1]


def test_lcs_matches_the_textbook_table() -> None:
    rng = random.Random(7)
    for _ in range(500):
        a = "".join(rng.choice("退货运费险") for _ in range(rng.randint(0, 15)))
        b = "".join(rng.choice("退货运单号") for _ in range(rng.randint(0, 15)))
        assert lcs_length(a, b) == _lcs_table(a, b)


def test_rouge_l_by_hand() -> None:
    # LCS(我想退货, 我要退货) = 我退货 = 3: P = R = 3/4
    assert rouge_l("我想退货", "我要退货") == pytest.approx(0.75)
    # LCS = 亲发货 (3); P = 3/5, R = 3/3 -> F1 = 2 * 0.6 * 1 / 1.6 = 0.75
    assert rouge_l("亲明天发货", "亲发货") == pytest.approx(0.75)
    assert rouge_l("好的", "稍等") == 0.0
    assert rouge_l("", "稍等") == 0.0


def test_bleu_by_hand_with_method1_smoothing() -> None:
    # 1-grams 3/4, 2-grams 1/3 (退货), 3-grams 0 -> 0.1/2, 4-grams 0 -> 0.1/1; same length: BP 1
    expected = (0.75 * (1 / 3) * 0.05 * 0.1) ** 0.25
    assert bleu4("我要退货", ["我想退货"]) == pytest.approx(expected, rel=1e-6)
    assert bleu4("请您稍等", ["请您稍等"]) == pytest.approx(1.0)
    # Against every reference at once: the second one matches fully.
    assert bleu4("请您稍等", ["我想退货", "请您稍等"]) == pytest.approx(1.0)
    assert bleu4("", ["请您稍等"]) == 0.0


def test_brevity_penalty_by_hand() -> None:
    # 请稍等 vs 请您稍等一下: 1-grams 3/3, 2-grams 1/2 (稍等), 3-grams 0 -> 0.1/1, no 4-gram in
    # the hypothesis -> 0.1/1 as well; BP = exp(1 - 6/3).
    expected = math.exp(1 - 6 / 3) * (1 * 0.5 * 0.1 * 0.1) ** 0.25
    assert bleu4("请稍等", ["请您稍等一下"]) == pytest.approx(expected, rel=1e-9)


def test_normalize_turns_placeholders_into_slots() -> None:
    assert normalize("[订单x] 已 发货") == normalize("{订单号}已发货")


def test_score_turns_takes_the_best_reference_and_counts_saved_characters() -> None:
    [scores] = score_turns([["亲，已经发货了", "好的"]], [["亲，今天发货", "亲，已经发货了"]])
    assert scores.rouge == (pytest.approx(1.0), 0.0)
    assert scores.chars_saved == lcs_length(normalize("亲，已经发货了"), normalize("亲，今天发货"))
    assert scores.reply_chars == len(normalize("亲，今天发货"))


def test_accept_at_k_and_coverage_by_hand() -> None:
    turns = [
        TurnScores((0.6, 0.1), None, 0.5, 3, 5),  # accepted at 1
        TurnScores((0.2, 0.55), None, 0.1, 4, 8),  # accepted at 3 only
        TurnScores((0.35,), None, 0.1, 0, 4),  # only at the loose threshold
        TurnScores((), None, 0.0, 0, 6),  # no candidate
    ]
    m = quality_metrics(turns)
    assert m["turns"] == 4
    assert m["coverage"] == 0.75
    assert m["accept_at_1"] == 0.25
    assert m["accept_at_3"] == 0.5
    assert m["accept_at_3_rl03"] == 0.75
    assert m["jddc_bleu"] == pytest.approx(0.175)
    assert m["chars_saved"] == 7
    assert m["chars_saved_share"] == pytest.approx(7 / 23, abs=1e-4)
    curve = {p["threshold"]: p["accept_at_3"] for p in m["rouge_curve"]}
    assert curve[0.1] == 0.75 and curve[0.6] == 0.25 and curve[0.9] == 0.0


def test_bootstrap_interval_by_hand() -> None:
    assert bootstrap_ci([0.4] * 30) == [0.4, 0.4]
    # 100 coin flips, half heads: the mean's standard error is 0.05, so the 95% interval is
    # about 0.5 ± 0.098.
    low, high = bootstrap_ci([0, 1] * 50, resamples=4000, seed=1)
    assert 0.38 <= low <= 0.42
    assert 0.58 <= high <= 0.62
    assert bootstrap_ci([0, 1] * 50, seed=3) == bootstrap_ci([0, 1] * 50, seed=3)


def test_paired_delta_by_hand() -> None:
    d = paired_delta([1, 1, 1, 0], [1, 0, 0, 0])
    assert d["delta"] == 0.5
    assert d["ci"][0] >= 0.0 and d["ci"][1] <= 1.0
    assert paired_delta([1, 0, 1], [1, 0, 1]) == {"delta": 0.0, "ci": [0.0, 0.0]}


def test_macro_f1_by_hand() -> None:
    pairs = [("退货", "退货"), ("退货", "物流"), ("物流", "物流"), ("物流", "物流")]
    # 退货: tp 1, fn 1 -> 2/3; 物流: tp 2, fp 1 -> 4/5
    assert macro_f1(pairs) == pytest.approx((2 / 3 + 4 / 5) / 2, abs=1e-4)


def test_calibrated_threshold_separates_used_from_dismissed() -> None:
    rows = [(0.9, True), (0.8, True), (0.7, True), (0.3, False), (0.2, False), (0.75, False)]
    fit = best_threshold(rows)
    assert fit["threshold"] == pytest.approx(0.5)  # midway between 0.3 and 0.7
    assert fit["balanced_accuracy"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)
