"""Turn one raw message of a source topic into a canonical :class:`~sla.events.LifecycleEvent`.

Platform teams connect a new feed by configuration, not code: ``config/topics.yaml`` says, per
topic, how its bytes decode (JSON or one CSV line) and where each canonical field is found
(``$.waybill.number``). This module is the runtime half of that configuration and is pure: no
Faust or Kafka import, so replay and tests reuse it as is.

Every way a message can be unusable raises :class:`MappingError` with a short stable ``reason``
(a metric label) and a ``detail`` sentence naming the field path and the bad value, so a
dead-lettered message says what to fix.

Personal data: only the configured fields are copied. Never map customer names, phones or
addresses into attributes; attributes reach metrics, alerts and logs. As a second line of
defence the mapping drops, from every event, attributes whose name looks personal
(:func:`looks_personal`: ``name``, ``phone``, ``address``, ``id_number`` ...) and, on canonical
topics, extra attributes that are not a plain value or not in the topic's ``extra_attributes``.

Example:
    >>> mapping = TopicMapping(topic="complaints.lifecycle")
    >>> raw = (b'{"event_id": "e1", "case_id": "C-1", "case_kind": "complaint", '
    ...        b'"event_type": "registered", "occurred_at": "2026-11-11T09:30:00+08:00"}')
    >>> mapping.decode(None, raw).case_id
    'C-1'
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError

from sla.events import Attributes, LifecycleEvent
from sla.zones import utc

__all__ = [
    "CANONICAL_FIELDS",
    "DEFAULT_MAX_BYTES",
    "PERSONAL_WORDS",
    "REASONS",
    "CsvFormat",
    "EventSkipped",
    "FieldPath",
    "FieldRule",
    "MappingError",
    "TimeWindow",
    "TimestampFormat",
    "TopicMapping",
    "looks_personal",
    "parse_path",
]

#: The largest message accepted by default (1 MiB); larger ones are dead-lettered as too_large.
DEFAULT_MAX_BYTES = 1024 * 1024

#: Why a source message could not become a canonical event.
Reason = Literal[
    "invalid_json",
    "invalid_csv",
    "missing_field",
    "bad_timestamp",
    "naive_timestamp",
    "invalid_event",
    "too_large",
    "not_an_object",
    "unmapped_event_type",
    "implausible_timestamp",
    "control_character",
    "ambiguous_timestamp",
]

#: Every ``MappingError.reason``; each is a value of the ``reason`` metric label.
REASONS: tuple[Reason, ...] = get_args(Reason)

#: Canonical fields a deterministic event id can be derived from (``event_id_from``).
CANONICAL_FIELDS = ("case_id", "case_kind", "event_type", "occurred_at")

TimestampKind = Literal["iso8601", "epoch_s", "epoch_ms", "strptime"]

_SHOW_LIMIT = 80
#: A UTF-8 byte-order mark: some exporters start every file (and so, after concatenation, some
#: rows) with one. At the start of a message it is dropped; inside an id it is refused.
_BOM = b"\xef\xbb\xbf"
_MISSING: Any = object()

#: Words that make an attribute name personal data (a word of the name, split at ``_``, ``-``,
#: ``.``, spaces and camelCase). Such attributes are dropped by every mapping.
PERSONAL_WORDS = frozenset(
    {
        "name", "names", "fullname", "surname", "firstname", "lastname", "nickname",
        "phone", "phones", "mobile", "tel", "telephone", "cellphone", "fax", "msisdn",
        "address", "addr", "street", "email", "mail", "wechat", "qq",
        "receiver", "sender", "consignee", "shipper", "contact",
        "passport", "ssn", "birthday", "birthdate", "dob", "idcard", "idno", "idnumber",
    }
)  # fmt: skip
#: Word pairs that are personal together (``id_number``, ``id-card``) though not apart.
_PERSONAL_PAIRS = frozenset({("id", "number"), ("id", "card"), ("id", "no"), ("national", "id")})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SCALARS = (str, int, float, bool)
#: Stands for a name :meth:`TopicMapping._kept_attributes` has not judged yet.
_UNKNOWN: Any = object()
#: (attribute name, a topic's extra attributes) -> kept (True), dropped (False) or kept when
#: a plain value (None): asked per attribute of every canonical event, of the few names feeds
#: use. Bounded: a feed that invents names cannot grow it (the rest are judged each time).
_VERDICTS: dict[tuple[str, frozenset[str]], bool | None] = {}
_VERDICTS_KEPT = 4096


def _verdict(name: str, extra_attributes: frozenset[str]) -> bool | None:
    """Whether a canonical event's attribute ``name`` is kept: None when only a plain value
    is (an undeclared name on the topic's ``extra_attributes`` list)."""
    if looks_personal(name):
        return False
    if name in Attributes.model_fields:
        return True
    return None if name in extra_attributes else False


@lru_cache(maxsize=4096)
def looks_personal(name: str) -> bool:
    """True if an attribute called ``name`` would carry personal data.

    Asked for every attribute of every event, of the few names a feed uses: each answer is
    kept (bounded, so a feed that invents names cannot grow it).

    >>> [looks_personal(n) for n in ("customer_name", "receiverPhone", "id_number", "region")]
    [True, True, True, False]
    """
    words = [w.lower() for w in _WORD.findall(name)]
    if any(w in PERSONAL_WORDS for w in words):
        return True
    return any(pair in _PERSONAL_PAIRS for pair in pairwise(words))


def _show(value: Any) -> str:
    """``repr`` of a bad value, truncated so a detail line stays readable."""
    text = repr(value)
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 3] + "..."


class MappingError(Exception):
    """A message that cannot become a canonical event.

    Args:
        reason: a short stable code (one of :data:`REASONS`), used as a metric label.
        detail: what is wrong, naming the field path and the (truncated) bad value.
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason
        self.detail = detail


class EventSkipped(MappingError):
    """A message deliberately ignored: an unmapped event type on a topic with ``unmapped: drop``.

    Count it (``slawatch_events_ignored_total{reason}``); do not dead-letter it.
    """


# --------------------------------------------------------------------------------------------
# Field paths: ``$.a.b[0].c``, ``$['key.with.dots']``, ``$`` (the whole message), ``$key``.

_STEP = re.compile(
    r"""\.(?P<name>[^.\[\]'"]+)"""
    r"""|\[(?P<index>-?\d+)\]"""
    r"""|\[(?P<quote>['"])(?P<qname>.*?)(?P=quote)\]"""
)


@dataclass(frozen=True)
class FieldPath:
    """Where a value is found in a decoded message.

    ``steps`` are object keys (str) and list indexes (int). ``from_key`` reads the Kafka
    message key (UTF-8) instead of the value.
    """

    text: str
    steps: tuple[str | int, ...] = ()
    from_key: bool = False

    def read(self, message: Any, key: bytes | None = None) -> Any:
        """The value at this path, or :data:`_MISSING` when any step is absent.

        >>> parse_path("$.a.b[1]").read({"a": {"b": [10, 20]}})
        20
        """
        if self.from_key:
            if key is None:
                return _MISSING
            try:
                return key.decode("utf-8")
            except UnicodeDecodeError:
                return _MISSING
        current = message
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(current, list) or not -len(current) <= step < len(current):
                    return _MISSING
                current = current[step]
            else:
                if not isinstance(current, dict) or step not in current:
                    return _MISSING
                current = current[step]
        return current


def parse_path(text: str) -> FieldPath:
    """Parse a field path such as ``$.waybill.number`` or ``$.scans[0].site``.

    Raises:
        ValueError: the path is not of the form ``$``, ``$key``, ``$.name``, ``$[0]`` or
            ``$['name']`` chained.

    >>> parse_path("$.a['b.c'][0]").steps
    ('a', 'b.c', 0)
    """
    if text == "$key":
        return FieldPath(text=text, from_key=True)
    if not text.startswith("$"):
        raise ValueError(f"a field path starts with '$', e.g. '$.waybill.number'; got {text!r}")
    steps: list[str | int] = []
    pos = 1
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            raise ValueError(
                f"cannot read field path {text!r} at character {pos + 1}; "
                "write steps as .name, [0] or ['name']"
            )
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(match.group("qname"))
        pos = match.end()
    return FieldPath(text=text, steps=tuple(steps))


# --------------------------------------------------------------------------------------------
# Timestamps.


@lru_cache(maxsize=1 << 16)
def _strptime(text: str, pattern: str) -> datetime:
    """``datetime.strptime``, remembered (raises as it does; errors are not remembered).

    ``strptime`` costs about ten times ``fromisoformat``, and logs repeat their times: a
    ServiceNow incident's opening time is on every one of its rows.
    """
    return datetime.strptime(text, pattern)


@dataclass(frozen=True)
class TimestampFormat:
    """How a source writes a time: ISO-8601, a ``strptime`` pattern, or epoch seconds/millis.

    ``timezone`` (an IANA name) is applied to naive values; without it a naive value is
    refused (``naive_timestamp``): guessing the zone shifts every deadline by hours.
    """

    format: str = "iso8601"
    timezone: str | None = None

    @property
    def kind(self) -> TimestampKind:
        """``iso8601``, ``epoch_s``, ``epoch_ms`` or ``strptime`` (any other format string)."""
        if self.format in ("iso8601", "epoch_s", "epoch_ms"):
            return self.format  # type: ignore[return-value]
        return "strptime"

    def zone(self) -> tzinfo | None:
        """The configured zone, or None."""
        return ZoneInfo(self.timezone) if self.timezone else None

    def parse(self, value: Any, where: str) -> datetime:
        """Read ``value`` as an aware datetime; ``where`` names the field in errors."""
        kind = self.kind
        if kind in ("epoch_s", "epoch_ms"):
            return self._epoch(value, where, 1000.0 if kind == "epoch_ms" else 1.0)
        if not isinstance(value, str):
            raise MappingError(
                "bad_timestamp",
                f"{where} must be a text timestamp ({self.format}), got {_show(value)}",
            )
        try:
            if kind == "iso8601":
                parsed = datetime.fromisoformat(value.strip())
            else:
                parsed = _strptime(value.strip(), self.format)
        except ValueError:
            raise MappingError(
                "bad_timestamp",
                f"{where} is not a timestamp in format {self.format}: got {_show(value)}",
            ) from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            zone = self.zone()
            if zone is None:
                raise MappingError(
                    "naive_timestamp",
                    f"{where} has no UTC offset: got {_show(value)}; send an offset "
                    "(e.g. +08:00) or set `timezone` for this field in the topics file",
                )
            parsed = parsed.replace(tzinfo=zone)
        return parsed

    def _epoch(self, value: Any, where: str, divisor: float) -> datetime:
        number: float
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise MappingError(
                "bad_timestamp", f"{where} must be a number ({self.format}), got {_show(value)}"
            )
        try:
            number = float(value)
            moment = datetime.fromtimestamp(number / divisor, tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise MappingError(
                "bad_timestamp", f"{where} is not a usable {self.format} value: got {_show(value)}"
            ) from None
        zone = self.zone()
        return moment.astimezone(zone) if zone is not None else moment


@dataclass(frozen=True)
class TimeWindow:
    """How far from now an event time may plausibly be (``SLAWATCH_EVENT_MAX_AGE``/``_FUTURE``).

    A time years away is a broken source (epoch 0, a null date, milliseconds read as seconds, a
    local time sent as UTC); counting a clock from it would breach or hide a breach at once.
    None means no limit on that side. The live worker checks against the wall clock; replay
    does not check (its "now" is the event time itself).
    """

    max_age: timedelta | None = timedelta(days=365)
    max_future: timedelta | None = timedelta(hours=1)

    def check(self, event: LifecycleEvent, now: datetime, topic: str) -> None:
        """Raise ``implausible_timestamp`` when ``event.occurred_at`` is outside the window.

        The time is compared in UTC (``now``'s zone, usually): two datetimes of different
        zones compare through their ``utcoffset`` methods, looked up by name on every call,
        and the engine converts the same time to UTC next (``sla.zones.utc`` keeps the last).
        """
        at = event.occurred_at
        at_utc = utc(at, "occurred_at")
        if self.max_future is not None and at_utc > now + self.max_future:
            raise MappingError(
                "implausible_timestamp",
                f"field occurred_at on topic {topic} is {_span(at_utc - now)} in the future "
                f"({at.isoformat()}), more than SLAWATCH_EVENT_MAX_FUTURE "
                f"({_span(self.max_future)}); check the source's clock and time zone",
            )
        if self.max_age is not None and at_utc < now - self.max_age:
            raise MappingError(
                "implausible_timestamp",
                f"field occurred_at on topic {topic} is {_span(now - at_utc)} old "
                f"({at.isoformat()}), more than SLAWATCH_EVENT_MAX_AGE ({_span(self.max_age)}); "
                "check the source's time field and its unit, or raise the limit for a backfill",
            )


def _span(delta: timedelta) -> str:
    """A duration for people: ``3d 4h``, ``2h 5m``, ``40s``."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


# --------------------------------------------------------------------------------------------
# Rules and the mapping itself.


@dataclass(frozen=True)
class FieldRule:
    """Where one canonical field or attribute comes from: a path or a constant.

    ``timestamp`` set means the value is a time and is normalised to an aware datetime
    (ISO-8601 text in attributes). ``required`` attributes are ``missing_field`` when absent;
    canonical fields are always required.
    """

    path: FieldPath | None = None
    const: str | None = None
    timestamp: TimestampFormat | None = None
    required: bool = False
    #: Several paths whose values are joined with ``separator`` (status + sub-status).
    join: tuple[FieldPath, ...] = ()
    separator: str = "/"

    @property
    def source(self) -> str:
        """The path text or the constant, for error messages and summaries."""
        if self.join:
            return " + ".join(p.text for p in self.join)
        return self.path.text if self.path is not None else f"const {self.const!r}"

    def read(self, message: Any, key: bytes | None) -> Any:
        """The raw value: the constant, the path's value, or the joined values.

        Joined: the values present (not missing, not null, not empty) as text, in order; when
        none is present the value is missing.
        """
        if self.join:
            parts = [p.read(message, key) for p in self.join]
            present = [str(v) for v in parts if v is not _MISSING and v is not None and v != ""]
            return self.separator.join(present) if present else _MISSING
        return self.const if self.path is None else self.path.read(message, key)


@dataclass(frozen=True)
class CsvFormat:
    """A message is one CSV record; ``columns`` name its fields (the header is not sent)."""

    columns: tuple[str, ...]
    delimiter: str = ","
    quotechar: str = '"'
    #: Cells that mean "no value" besides the empty cell (e.g. ServiceNow's ``?``).
    null_values: frozenset[str] = frozenset()


def _event_id(values: Mapping[str, Any], names: Sequence[str]) -> str:
    """A deterministic id: sha1 of the listed canonical fields (times normalised to UTC)."""
    parts = []
    for name in names:
        value = values[name]
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        parts.append(f"{name}={value}")
    digest = hashlib.sha1(
        "\x1f".join(parts).encode("utf-8", "surrogatepass"), usedforsecurity=False
    )
    return digest.hexdigest()


@dataclass(frozen=True)
class TopicMapping:
    """How messages of one topic become canonical events.

    ``canonical=True``: the message already is a ``LifecycleEvent`` in JSON (``event_types``
    still renames). Otherwise ``fields`` (event_id, case_id, case_kind, event_type,
    occurred_at) and ``attributes`` say where each value is read; ``case_kind`` may be a
    constant for the whole topic.

    Args:
        topic: the source topic, named in error details.
        format: ``json`` or ``csv`` (one record per message, see ``csv``).
        canonical: the message is a canonical event already.
        case_kind: constant case kind for every message of the topic.
        fields: canonical field name -> rule.
        attributes: attribute name -> rule; only these are copied.
        event_types: source event type -> canonical event type.
        unmapped: what to do with a type not in ``event_types`` (when it is not empty).
        event_id_from: derive ``event_id`` from these canonical fields when the source has none.
        order_by: the integer field that becomes the event's ``sequence`` (orders a case's
            events sharing a time).
        csv: the CSV layout when ``format == "csv"``.
        max_bytes: larger messages are refused as ``too_large``.
        extra_attributes: canonical topics: the undeclared attribute names kept (an
            allow-list; empty: none). Only plain values are kept, and personal-looking names
            are dropped regardless: a name such as ``客户姓名`` or ``note`` is not recognisable
            as personal, so nothing unlisted passes.
    """

    topic: str
    format: Literal["json", "csv"] = "json"
    canonical: bool = True
    case_kind: str | None = None
    fields: Mapping[str, FieldRule] = field(default_factory=dict)
    attributes: Mapping[str, FieldRule] = field(default_factory=dict)
    event_types: Mapping[str, str] = field(default_factory=dict)
    unmapped: Literal["keep", "drop", "deadletter"] = "keep"
    event_id_from: tuple[str, ...] = ()
    csv: CsvFormat | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    extra_attributes: frozenset[str] = frozenset()
    order_by: FieldRule | None = None

    def decode(self, key: bytes | None, value: bytes) -> LifecycleEvent:
        """Decode, map and validate one message.

        Raises:
            EventSkipped: the event type is unmapped and the topic says ``unmapped: drop``.
            MappingError: the message cannot be used; ``reason`` and ``detail`` say why.
        """
        if len(value) > self.max_bytes:
            raise MappingError(
                "too_large",
                f"message of {len(value)} bytes on topic {self.topic} exceeds max_bytes "
                f"{self.max_bytes}; raise max_bytes for the topic or send smaller messages",
            )
        message = self._parse(value.removeprefix(_BOM))
        if self.canonical:
            return self._canonical(message)
        return self._mapped(message, key)

    # -- decoding ---------------------------------------------------------------------------

    def _parse(self, value: bytes) -> dict[str, Any]:
        if self.format == "csv":
            return self._parse_csv(value)
        try:
            message = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise MappingError(
                "invalid_json",
                f"message on topic {self.topic} is not valid JSON ({exc}); starts with "
                f"{_show(value[:40])}",
            ) from None
        if not isinstance(message, dict):
            raise MappingError(
                "not_an_object",
                f"message on topic {self.topic} must be a JSON object, got "
                f"{type(message).__name__} {_show(message)}",
            )
        return message

    def _parse_csv(self, value: bytes) -> dict[str, Any]:
        layout = self.csv or CsvFormat(columns=())
        try:
            text = value.decode("utf-8")
            if (
                text
                and layout.quotechar not in text
                and "\n" not in text
                and "\r" not in text
                and "\x00" not in text
            ):
                # No quote, line break or NUL: the reader would split at the delimiter alone.
                rows = [text.split(layout.delimiter)]
            else:
                rows = list(
                    csv.reader(  # newline="": a quoted cell may hold CR/LF and stays one cell
                        io.StringIO(text, newline=""),
                        delimiter=layout.delimiter,
                        quotechar=layout.quotechar,
                        strict=True,
                    )
                )
        except (UnicodeDecodeError, csv.Error) as exc:
            raise MappingError(
                "invalid_csv",
                f"message on topic {self.topic} is not one UTF-8 CSV record ({exc}); starts with "
                f"{_show(value[:40])}",
            ) from None
        rows = [row for row in rows if row]
        if len(rows) != 1:
            raise MappingError(
                "invalid_csv",
                f"message on topic {self.topic} must hold one CSV record, got {len(rows)}",
            )
        row = rows[0]
        if len(row) != len(layout.columns):
            raise MappingError(
                "invalid_csv",
                f"message on topic {self.topic} has {len(row)} columns, the topic's csv.columns "
                f"name {len(layout.columns)} ({', '.join(layout.columns)}): {_show(row)}",
            )
        return {
            name: (None if cell == "" or cell in layout.null_values else cell)
            for name, cell in zip(layout.columns, row, strict=True)
        }

    # -- canonical --------------------------------------------------------------------------

    def _canonical(self, message: dict[str, Any]) -> LifecycleEvent:
        event_type = message.get("event_type")
        if isinstance(event_type, str):
            message = {**message, "event_type": self._rename(event_type)}
        attributes = message.get("attributes")
        if isinstance(attributes, dict):
            kept = self._kept_attributes(attributes)
            if kept is not attributes:
                message = {**message, "attributes": kept}
        return self._validate(message)

    def _kept_attributes(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """A canonical event's attributes without personal or unlisted extra ones (the given
        dict itself when all are kept)."""
        extra = self.extra_attributes
        kept: dict[str, Any] = {}
        dropped = False
        for name, value in attributes.items():
            verdict = _VERDICTS.get((name, extra), _UNKNOWN)
            if verdict is _UNKNOWN:
                verdict = _verdict(name, extra)
                if len(_VERDICTS) < _VERDICTS_KEPT:
                    _VERDICTS[name, extra] = verdict
            if verdict is False or (
                verdict is None and value is not None and not isinstance(value, _SCALARS)
            ):
                dropped = True
                continue
            kept[name] = value
        return kept if dropped else attributes

    def _validate(self, data: dict[str, Any]) -> LifecycleEvent:
        try:
            return LifecycleEvent.model_validate(data)
        except ValidationError as exc:
            raise self._validation_error(exc) from None

    def _validation_error(self, exc: ValidationError) -> MappingError:
        """The first pydantic error as a MappingError, with the most specific reason."""
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
        value = error.get("input")
        kind = error["type"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if kind == "missing":
            return MappingError(
                "missing_field", f"field {where} is missing from the message on topic {self.topic}"
            )
        if "no UTC offset" in message:
            return MappingError(
                "naive_timestamp",
                f"field {where} has no UTC offset: got {_show(value)}; "
                "send an offset (e.g. +08:00)",
            )
        if message.startswith("is a bare number"):
            return MappingError(
                "ambiguous_timestamp", f"field {where} on topic {self.topic} {message}"
            )
        if message.startswith("contains control character"):
            return MappingError(
                "control_character",
                f"field {where} on topic {self.topic} {message}: got {_show(value)}",
            )
        if kind.startswith("datetime"):
            return MappingError(
                "bad_timestamp", f"field {where} is not a timestamp: got {_show(value)}"
            )
        return MappingError(
            "invalid_event", f"field {where} on topic {self.topic}: {message}: got {_show(value)}"
        )

    # -- field mapping ----------------------------------------------------------------------

    def _rename(self, event_type: str) -> str:
        if not self.event_types or event_type in self.event_types.values():
            return self.event_types.get(event_type, event_type)
        if event_type in self.event_types:
            return self.event_types[event_type]
        if self.unmapped == "keep":
            return event_type
        detail = (
            f"event type {_show(event_type)} on topic {self.topic} is not in event_types; "
            "add it there or set unmapped: keep"
        )
        if self.unmapped == "drop":
            raise EventSkipped("unmapped_event_type", detail)
        raise MappingError("unmapped_event_type", detail)

    def _value(
        self,
        name: str,
        rule: FieldRule,
        message: dict[str, Any],
        key: bytes | None,
        *,
        canonical: bool,
    ) -> Any:
        """The value of a canonical field or an attribute; _MISSING for an absent optional one."""
        value: Any = rule.read(message, key)
        if type(value) is str and rule.timestamp is None and name != "occurred_at":
            return value  # the usual case, as the checks below would return it
        label = "field" if canonical else "attribute"
        where = f"{label} {name} (path {rule.source})"
        if value is _MISSING or value is None:
            if canonical or rule.required:
                state = "is null" if value is None else "is not found"
                raise MappingError(
                    "missing_field",
                    f"{label} {name}: path {rule.source} {state} "
                    f"in the message on topic {self.topic}",
                )
            return _MISSING
        timestamp = rule.timestamp
        if timestamp is None and canonical and name == "occurred_at":
            timestamp = TimestampFormat()
        if timestamp is not None:
            return timestamp.parse(value, where)
        if canonical:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise MappingError(
                    "invalid_event",
                    f"{where} must be text or an integer, "
                    f"got {type(value).__name__} {_show(value)}",
                )
            return str(value)
        if not isinstance(value, str | int | float | bool):
            raise MappingError(
                "invalid_event",
                f"{where} must be text, a number or true/false, got "
                f"{type(value).__name__} {_show(value)}",
            )
        return value

    def _mapped(self, message: dict[str, Any], key: bytes | None) -> LifecycleEvent:
        values: dict[str, Any] = {}
        if self.case_kind is not None:
            values["case_kind"] = self.case_kind
        for name, rule in self.fields.items():
            values[name] = self._value(name, rule, message, key, canonical=True)
        needed = CANONICAL_FIELDS if self.event_id_from else ("event_id", *CANONICAL_FIELDS)
        for name in needed:
            if name not in values:
                raise MappingError(
                    "missing_field",
                    f"topic {self.topic} maps no {name}; fix its entry in the topics file",
                )
        values["event_type"] = self._rename(values["event_type"])
        if "event_id" not in values:
            values["event_id"] = _event_id(values, self.event_id_from)
        attributes: dict[str, Any] = {}
        for name, rule in self.attributes.items():
            value = self._value(name, rule, message, key, canonical=False)
            if value is not _MISSING:
                attributes[name] = value.isoformat() if isinstance(value, datetime) else value
        values["attributes"] = attributes
        if self.order_by is not None:
            values["sequence"] = self._sequence(self.order_by, message, key)
        return self._validate(values)

    def _sequence(self, rule: FieldRule, message: dict[str, Any], key: bytes | None) -> int | None:
        """The ``order_by`` value as an integer; None when the message has none."""
        value = rule.read(message, key)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        raise MappingError(
            "invalid_event",
            f"order_by (path {rule.source}) on topic {self.topic} must be an integer, "
            f"got {_show(value)}",
        )
