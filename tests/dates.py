"""The day the tests run on, and the demo shops' dates as seen from it.

TEST_TODAY is today in China, or COPILOT_TEST_TODAY when set (.ci/run runs the date-sensitive
tests once more a year ahead). conftest.py hands it to every Settings() through COPILOT_TODAY,
so no test decides by the wall clock, and a failure names the day to reproduce it with.

The demo files' dates are relative to their load day (kb/demo_shops.py); they were written as if
loaded on STORY_DAY, so `demo_day(11, 15)` is "eleven days before the load day": the day the
tests load the demo shops on is TEST_TODAY.
"""

from __future__ import annotations

import os
from datetime import date

from copilot.clock import SystemClock, today

STORY_DAY = date(2026, 11, 26)
_PINNED = os.environ.get("COPILOT_TEST_TODAY")
TEST_TODAY = date.fromisoformat(_PINNED) if _PINNED else today(SystemClock())


def demo_day(month: int, day: int, year: int = 2026) -> date:
    """The demo story's `year-month-day`, as seen when the demo shops load on TEST_TODAY."""
    return TEST_TODAY + (date(year, month, day) - STORY_DAY)
