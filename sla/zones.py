"""Time zones: the one check of a zone name, and the one conversion of an instant to UTC.

Policy calendars, topic timestamp fields, team rosters and the worker's ``tz`` query all name
an IANA zone; each refuses an unknown one with the same message, so an operator reads one
instruction whichever file the mistake is in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timezone
from typing import Annotated, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator
from pydantic_core import TzInfo

__all__ = ["ZoneName", "utc", "zone"]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``.

    Raises:
        ValueError: ``name`` is not an IANA zone; the message names it and an example.

    >>> zone("Asia/Shanghai").key
    'Asia/Shanghai'
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as 'Asia/Shanghai'"
        ) from exc


def _known(name: str) -> str:
    zone(name)
    return name


#: A config field holding an IANA zone name, checked when the file is read.
ZoneName = Annotated[str, AfterValidator(_known)]


#: Time zone classes that give every datetime an offset: asking (about 300 ns through
#: pydantic's ``TzInfo``) is needed only for others, whose ``utcoffset`` may say None.
_ALWAYS_AN_OFFSET: Final = frozenset({timezone, ZoneInfo, TzInfo})

#: The last instant converted, with its UTC form: one pair, stored and read as one object so
#: a thread never sees one value's input beside another's result. An event's time is asked
#: for twice in a row (the replay's watermark, then the engine), and a conversion costs
#: about 3,000 instructions (two calls, two new datetimes).
#: Held in a one-slot list: compiled, a name rebound at module level is read from the module's
#: dict on every use, a ``Final`` one is a C variable.
_LAST: Final[list[tuple[datetime, datetime] | None]] = [None]
#: ``datetime.UTC`` as a ``Final`` name, for the same reason.
_UTC: Final = UTC


def utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; a naive datetime is refused, naming ``what`` it was.

    Raises:
        ValueError: ``value`` has no time zone.
    """
    zone_of = value.tzinfo
    if zone_of is _UTC:  # the usual case; astimezone(UTC) would return it unchanged
        return value
    last = _LAST[0]
    if last is not None and last[0] is value:  # datetimes are immutable; the pair holds it
        return last[1]
    if zone_of is None or (type(zone_of) not in _ALWAYS_AN_OFFSET and value.utcoffset() is None):
        raise ValueError(
            f"{what} {value.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. tzinfo=datetime.UTC)"
        )
    converted = value.astimezone(_UTC)
    _LAST[0] = (value, converted)
    return converted
