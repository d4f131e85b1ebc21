"""Stale knowledge: promotions named outside their validity and date ranges that have ended.
Pure functions on the day they are given: every case runs at two days a year apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dates import TEST_TODAY

from copilot.clock import CHINA, FixedClock, SystemClock, timestamp, today
from copilot.guardrails.staleness import ending_within, links, stale_mentions
from kb.files.codec import parse_rule
from kb.types import FAQ, Promotion, Script

pytestmark = pytest.mark.dates

YEAR_APART = [TEST_TODAY, TEST_TODAY + timedelta(days=365)]


def md(day: date) -> str:
    return f"{day.month}月{day.day}日"


def promo(pid: str, title: str, rule: str, starts: date, ends: date) -> Promotion:
    return Promotion("s", pid, title, rule, parse_rule(rule), (), starts, ends)


def sale(day: date) -> list[Promotion]:
    """满300减30 ended yesterday, 满2件9折 runs, 刻字礼盒8折 starts in ten days."""
    return [
        promo("over", "周末满300减30", "满300减30", day - timedelta(days=20), day - timedelta(1)),
        promo("live", "配件任选2件9折", "满2件9折", day - timedelta(days=5), day + timedelta(30)),
        promo("soon", "刻字礼盒限时8折", "8折", day + timedelta(days=10), day + timedelta(20)),
    ]


def reasons(text: str, day: date) -> list[str]:
    return [str(m) for m in stale_mentions(text, sale(day), day)]


@pytest.mark.parametrize("day", YEAR_APART)
def test_an_ended_promotion_is_stale_by_rule_title_or_figures(day: date) -> None:
    for text in ("亲，现在全店满300减30哦", "周末满300减30活动进行中", "亲，满300元可以减30元"):
        assert reasons(text, day) == [f"周末满300减30（{md(day - timedelta(1))}已结束）"], text
    # the day before it ended, the same answer was true
    assert stale_mentions("亲，现在全店满300减30哦", sale(day), day - timedelta(days=2)) == []


@pytest.mark.parametrize("day", YEAR_APART)
def test_a_live_promotion_is_fine_and_one_to_come_only_with_its_start_date(day: date) -> None:
    assert reasons("配件任选2件9折，可以混搭", day) == []
    assert reasons("刻字礼盒8折哦", day) == [f"刻字礼盒限时8折（{md(day + timedelta(10))}才开始）"]
    assert reasons(f"{md(day + timedelta(10))}起刻字礼盒8折", day) == []


@pytest.mark.parametrize("day", YEAR_APART)
def test_a_live_promotion_with_the_same_rule_explains_the_mention(day: date) -> None:
    promotions = [*sale(day), promo("again", "返场满300减30", "满300减30", day, day + timedelta(7))]
    assert stale_mentions("现在满300减30", promotions, day) == []


@pytest.mark.parametrize("day", YEAR_APART)
def test_ended_ranges_and_deadlines_are_stale_and_running_ones_are_not(day: date) -> None:
    start, end = day - timedelta(days=30), day - timedelta(days=2)
    ended = [
        f"活动时间{md(start)}-{md(end)}",
        f"{start.isoformat()}至{end.isoformat()}",
        f"截止{md(end)}",
        f"{md(end)}前下单有赠品",
        f"（到{end.year}年{md(end)}）",
    ]
    for text in ended:
        assert [m.reason for m in stale_mentions(text, [], day)] == ["已过期"], text
    later = day + timedelta(days=3)
    running = [f"活动时间{md(start)}-{md(later)}", f"截止{md(later)}", f"预计{md(end)}补货"]
    for text in [*running, "发货后3-5天到", f"{md(end)}前后补货"]:
        assert stale_mentions(text, [], day) == [], text


def test_a_range_over_new_year_ends_in_the_next_year() -> None:
    assert stale_mentions("12月25日-1月5日刻字礼盒", [], date(2026, 12, 30)) == []
    assert [m.reason for m in stale_mentions("12月25日-1月5日刻字礼盒", [], date(2027, 1, 6))] == [
        "已过期"
    ]


def test_faqs_and_scripts_are_linked_to_the_promotions_they_name() -> None:
    entries = [
        FAQ("s", "f1", "有活动吗", "满300减30，配件任选2件9折"),
        FAQ("s", "f2", "保温吗", "保温12小时"),
        Script("s", "s1", "payment_reminder", "催付", "现在付款满300元立减30元"),
    ]
    assert links(entries, sale(TEST_TODAY)) == {"f1": ("over", "live"), "s1": ("over",)}


@pytest.mark.parametrize("day", YEAR_APART)
def test_promotions_ending_soon_come_soonest_first(day: date) -> None:
    promotions = [*sale(day), promo("end3", "三天后结束", "满100减5", day, day + timedelta(3))]
    assert [p.id for p in ending_within(promotions, day, 7)] == ["end3"]
    assert [p.id for p in ending_within(promotions, day, 30)] == ["end3", "live"]


def test_the_clock_counts_days_in_china_and_shifts_the_calendar() -> None:
    # 17:00 UTC on 11-30 is 01:00 on 12-01 in China: a promotion ending 11-30 is over
    assert today(FixedClock(datetime(2026, 11, 30, 17, tzinfo=UTC))) == date(2026, 12, 1)
    assert today(FixedClock.on(date(2026, 11, 30))).isoformat() == "2026-11-30"
    assert FixedClock.on(date(2026, 11, 30)).now().tzinfo is CHINA
    assert today(SystemClock.on(date(2030, 1, 1))) == date(2030, 1, 1)
    shifted = SystemClock.on(today(SystemClock()) + timedelta(days=365))
    assert 365 * 86400 - 60 < timestamp(shifted) - timestamp(SystemClock()) < 365 * 86400 + 60
