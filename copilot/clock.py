"""The one clock every date decision reads: promotion validity, "today" in a reply, record
timestamps and the windows of stats.

Shops sell in China, so a day is a day in China (UTC+8, no daylight saving): a promotion that
ends on 11-30 ends at midnight Beijing time, whatever the server's own time zone.

The wiring (service/wiring.py, eval/cli.py) builds one clock and passes it down like any other
config; nothing below it reads the wall clock for a date. `SystemClock(offset=...)` shifts the
calendar while time keeps flowing (a demo or a test run "a year ahead", as faketime does);
`FixedClock` stops time at one instant, for unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, time-zone aware."""
        ...


@dataclass(frozen=True)
class SystemClock:
    """The machine's clock in China's time zone, optionally shifted by `offset`."""

    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(CHINA) + self.offset

    @classmethod
    def on(cls, day: date) -> SystemClock:
        """A clock whose today is `day`, time still flowing (tomorrow comes after midnight)."""
        return cls(timedelta(days=(day - today(cls())).days))


@dataclass(frozen=True)
class FixedClock:
    """Time stopped at one instant (noon in China when made with `on`)."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    @classmethod
    def on(cls, day: date) -> FixedClock:
        return cls(datetime.combine(day, time(12), tzinfo=CHINA))


def today(clock: Clock) -> date:
    """The calendar day in China by this clock."""
    return clock.now().astimezone(CHINA).date()


def timestamp(clock: Clock) -> float:
    """Seconds since the epoch by this clock (what records and stats windows store)."""
    return clock.now().timestamp()
