"""The kind of fact a question asks for ("能发顺丰吗": which courier; "运费多少": what shipping
costs; "啥时候能发出": when it leaves) puts the candidate stating it first, when the first
does not; "快递会打不通" asks no courier. Records built in code, no models."""

from __future__ import annotations

import pytest

from copilot.grounding.asked_kinds import states_asked_kind, stating_first
from copilot.types import Candidate, Source

SENT_TODAY = "每天都发货，16点前付款当天发，16点后次日发"
COURIER = "默认韵达/中通，不支持指定快递，也不能发顺丰。"
FEE = "小件全国包邮（港澳台除外），新疆/西藏时效7-10天"
BLURB = "冬天所有绿植都会加防寒棉+保温袋"


def answers(*texts: str) -> list[Candidate]:
    return [
        Candidate(t, "answer", Source(kb_entry_ids=(f"f{i}",)), 0.5) for i, t in enumerate(texts)
    ]


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("10kg那个猫砂能发顺丰吗 急用", COURIER),
        ("新疆乌鲁木齐能发吗 运费多少", FEE),
        ("今天周日发货吗 现在拍啥时候能发出", SENT_TODAY),
    ],
)
def test_the_candidate_stating_what_is_asked_goes_first(question: str, first: str) -> None:
    found = stating_first(question, answers(BLURB, SENT_TODAY, COURIER, FEE))
    assert found[0].text == first
    assert len(found) == 4


def test_the_order_stays_when_the_first_states_it_or_nothing_is_asked_of_one_kind() -> None:
    offered = answers(COURIER, SENT_TODAY)
    assert stating_first("能发顺丰吗", offered) == offered
    assert stating_first("这个好养吗", answers(BLURB, COURIER)) == answers(BLURB, COURIER)
    # two kinds at once ("啥时候发 发什么快递"): the parts are answered apart, not reordered
    assert stating_first("啥时候发 发什么快递", answers(BLURB, COURIER)) == answers(BLURB, COURIER)


def test_the_parcel_itself_is_no_question_of_its_courier() -> None:
    assert not states_asked_kind("手机号写错了 快递会打不通", COURIER)
    assert not states_asked_kind("我的快递到哪了 都三天了", COURIER)
    assert states_asked_kind("发什么快递", COURIER)
