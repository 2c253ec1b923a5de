"""Time zones: the one check of a zone name, and the one conversion of an instant to UTC.

Policy calendars, topic timestamp fields, team rosters and the worker's ``tz`` query all name
an IANA zone; each refuses an unknown one with the same message, so an operator reads one
instruction whichever file the mistake is in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

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


def utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; a naive datetime is refused, naming ``what`` it was.

    Raises:
        ValueError: ``value`` has no time zone.
    """
    if value.tzinfo is UTC:  # the usual case; astimezone(UTC) would return it unchanged
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} {value.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. tzinfo=datetime.UTC)"
        )
    return value.astimezone(UTC)
