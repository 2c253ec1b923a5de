"""China's statutory holidays and make-up working days (调休), read from ``chinese_calendar``.

The library answers "is this a working day in a Monday-to-Friday office?". A working calendar
needs less and more than that: only the days the State Council *changes* (holidays taken off,
weekend days worked in exchange), so that its own weekly pattern decides every other day. A
Monday-to-Saturday service then keeps its ordinary Saturdays, but not those inside a holiday.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import chinese_calendar

__all__ = ["YearNotCovered", "china_day"]

#: ``holiday``: a statutory day off; ``makeup``: a weekend day worked in exchange;
#: ``ordinary``: the State Council changes nothing, the weekly pattern decides.
ChinaDay = Literal["holiday", "makeup", "ordinary"]


class YearNotCovered(LookupError):
    """The installed ``chinese_calendar`` has no data for the year (it ships 2004 to ~2026)."""


def china_day(day: date) -> ChinaDay:
    """What China's official holiday schedule says about ``day``.

    Raises:
        YearNotCovered: the library does not know ``day.year``; update ``chinesecalendar``.

    >>> china_day(date(2026, 2, 16)), china_day(date(2026, 2, 14)), china_day(date(2026, 3, 9))
    ('holiday', 'makeup', 'ordinary')
    """
    try:
        off, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError as exc:
        raise YearNotCovered(str(exc)) from exc
    if name is None:
        return "ordinary"
    return "holiday" if off else "makeup"
