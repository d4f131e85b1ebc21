"""What a suggestion does, read from its words, and how varied the three offered are."""

from __future__ import annotations

import pytest

from eval.acts import act_metrics, act_of


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("亲，双旋钮空气炸锅 6L：80-200℃ / 0-60min定时～", "answer"),
        ("亲，您问的是哪一款呢？豆腐猫砂还是膨润土猫砂？", "clarify"),
        ("麻烦提供一下订单号，这边帮您查询～", "clarify"),
        ("亲，稍等哦，这边马上帮您核实一下～", "next_step"),
        ("已经帮您反馈给仓库了", "next_step"),
        ("感谢您对京东的支持，祝您生活愉快，再见!", "close"),
        ("请问还有其他还可以帮到您的吗?", "close"),
    ],
)
def test_each_reply_reads_as_the_move_it_makes(text: str, act: str) -> None:
    assert act_of(text) == act


def test_three_wordings_of_one_answer_are_one_move_and_a_mix_is_several() -> None:
    same = ["亲，现货哦", "有货的亲", "亲，现在有货"]
    mixed = ["亲，现货哦", "您要哪个颜色呢？", "稍等，这边帮您核实库存"]
    assert act_metrics([same]) == {"acts_at_3": 1.0, "varied_at_3": 0.0}
    assert act_metrics([same, mixed]) == {"acts_at_3": 2.0, "varied_at_3": 0.5}
    assert act_metrics([[], ["只有一条"]]) == {"acts_at_3": 1.0, "varied_at_3": 0.0}
