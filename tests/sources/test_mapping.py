"""Raw message -> canonical event: paths, formats, timestamps, renames, and every error reason."""

from __future__ import annotations

import ast
import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sources.mapping
from sla.events import LifecycleEvent
from sources.mapping import (
    REASONS,
    CsvFormat,
    EventSkipped,
    FieldRule,
    MappingError,
    TimestampFormat,
    TimeWindow,
    TopicMapping,
    looks_personal,
    parse_path,
)

SHANGHAI = timezone(timedelta(hours=8))


def rule(path: str, **kwargs: Any) -> FieldRule:
    """A rule reading ``path``."""
    return FieldRule(path=parse_path(path), **kwargs)


def canonical_event(**changes: Any) -> dict[str, Any]:
    """A valid canonical event as a dict."""
    event: dict[str, Any] = {
        "event_id": "e-1",
        "case_id": "C-1",
        "case_kind": "complaint",
        "event_type": "complaint_registered",
        "occurred_at": "2026-11-11T09:30:00+08:00",
        "attributes": {"region": "cn-gd", "team": "cs-frontline"},
    }
    event.update(changes)
    return event


CANONICAL = TopicMapping(topic="complaints.lifecycle")

PARTNER = TopicMapping(
    topic="partner.tracking",
    canonical=False,
    case_kind="shipment",
    fields={
        "event_id": rule("$.id"),
        "case_id": rule("$.waybill.number"),
        "event_type": rule("$.status"),
        "occurred_at": rule(
            "$.scan_time",
            timestamp=TimestampFormat("%Y-%m-%d %H:%M:%S", "Asia/Shanghai"),
        ),
    },
    attributes={
        "region": rule("$.site.province"),
        "promised_by": rule("$.promise", timestamp=TimestampFormat("epoch_ms")),
        "first_scan_site": rule("$.scans[0].site"),
    },
    event_types={"SIGNED": "signed_for", "OUT_FOR_DELIVERY": "out_for_delivery"},
    unmapped="deadletter",
)


def partner_message(**changes: Any) -> dict[str, Any]:
    """A valid partner message as a dict."""
    message: dict[str, Any] = {
        "id": "p-77",
        "waybill": {"number": "SF100"},
        "status": "SIGNED",
        "scan_time": "2026-11-11 09:30:00",
        "site": {"province": "cn-zj"},
        "promise": 1_794_000_000_000,
        "scans": [{"site": "hz-01"}, {"site": "hz-02"}],
        "receiver": {"name": "not copied", "phone": "13800000000"},
    }
    message.update(changes)
    return message


def decode(mapping: TopicMapping, message: Any, key: bytes | None = None) -> LifecycleEvent:
    """Encode ``message`` as JSON and decode it with ``mapping``."""
    return mapping.decode(key, orjson.dumps(message))


def error_of(mapping: TopicMapping, value: bytes, key: bytes | None = None) -> MappingError:
    """The MappingError ``mapping`` raises for ``value``."""
    with pytest.raises(MappingError) as caught:
        mapping.decode(key, value)
    return caught.value


class TestParsePath:
    def test_dotted(self) -> None:
        """Dotted names become key steps."""
        assert ("a", "b", "c") == parse_path("$.a.b.c").steps

    def test_index(self) -> None:
        """Bracketed integers become list indexes, negative ones included."""
        assert ("a", 0, "c", -1) == parse_path("$.a[0].c[-1]").steps

    def test_quoted(self) -> None:
        """Quoted brackets allow keys with dots and spaces."""
        assert ("a.b", "c d") == parse_path("$['a.b'][\"c d\"]").steps

    def test_root(self) -> None:
        """``$`` alone is the whole message."""
        assert () == parse_path("$").steps

    def test_key(self) -> None:
        """``$key`` reads the Kafka message key."""
        assert parse_path("$key").from_key

    @pytest.mark.parametrize("bad", ["a.b", "$.", "$..a", "$[x]", "$.a[", "$a"])
    def test_refused(self, bad: str) -> None:
        """Malformed paths are refused naming the path."""
        with pytest.raises(ValueError, match="path"):
            parse_path(bad)


class TestFieldPathRead:
    def test_nested(self) -> None:
        """Keys and indexes are followed."""
        assert "x" == parse_path("$.a[1].b").read({"a": [{}, {"b": "x"}]})

    def test_absent_key_is_missing(self) -> None:
        """A missing key gives the missing marker, not an exception."""
        assert sources.mapping._MISSING is parse_path("$.a.b").read({"a": 3})

    def test_index_out_of_range_is_missing(self) -> None:
        """An index beyond the list gives the missing marker."""
        assert sources.mapping._MISSING is parse_path("$.a[5]").read({"a": [1]})

    def test_index_on_object_is_missing(self) -> None:
        """An index into an object gives the missing marker."""
        assert sources.mapping._MISSING is parse_path("$.a[0]").read({"a": {"0": 1}})

    def test_key_read(self) -> None:
        """``$key`` decodes the message key."""
        assert "C-9" == parse_path("$key").read({}, b"C-9")

    def test_key_absent(self) -> None:
        """``$key`` without a key is missing."""
        assert sources.mapping._MISSING is parse_path("$key").read({}, None)


class TestTimestampFormat:
    def test_iso_with_offset(self) -> None:
        """ISO-8601 with an offset keeps it."""
        expected = datetime(2026, 11, 11, 9, 30, tzinfo=SHANGHAI)
        assert expected == TimestampFormat().parse("2026-11-11T09:30:00+08:00", "f")

    def test_iso_zulu(self) -> None:
        """A trailing Z means UTC."""
        expected = datetime(2026, 11, 11, 1, 30, tzinfo=UTC)
        assert expected == TimestampFormat().parse("2026-11-11T01:30:00Z", "f")

    def test_iso_naive_with_timezone(self) -> None:
        """A configured timezone is applied to a naive ISO value."""
        parsed = TimestampFormat(timezone="Asia/Shanghai").parse("2026-11-11T09:30:00", "f")
        assert datetime(2026, 11, 11, 1, 30, tzinfo=UTC) == parsed

    def test_iso_naive_without_timezone(self) -> None:
        """A naive ISO value without a configured timezone is naive_timestamp."""
        with pytest.raises(MappingError) as caught:
            TimestampFormat().parse("2026-11-11T09:30:00", "field occurred_at")
        assert ("naive_timestamp", True) == (
            caught.value.reason,
            "occurred_at" in caught.value.detail and "2026-11-11T09:30:00" in caught.value.detail,
        )

    def test_strptime(self) -> None:
        """A strptime pattern with a timezone reads local wall-clock times."""
        parsed = TimestampFormat("%Y/%m/%d %H:%M", "Asia/Shanghai").parse("2026/11/11 09:30", "f")
        assert datetime(2026, 11, 11, 1, 30, tzinfo=UTC) == parsed

    def test_strptime_with_offset(self) -> None:
        """A %z pattern needs no timezone."""
        parsed = TimestampFormat("%Y%m%d%H%M%S%z").parse("20261111093000+0800", "f")
        assert datetime(2026, 11, 11, 1, 30, tzinfo=UTC) == parsed

    def test_epoch_s(self) -> None:
        """Epoch seconds are UTC."""
        assert datetime(2026, 11, 11, 1, 30, tzinfo=UTC) == TimestampFormat("epoch_s").parse(
            1_794_360_600, "f"
        )

    def test_epoch_ms_text(self) -> None:
        """Epoch milliseconds may arrive as text (CSV)."""
        assert datetime(2026, 11, 11, 1, 30, tzinfo=UTC) == TimestampFormat("epoch_ms").parse(
            "1794360600000", "f"
        )

    @pytest.mark.parametrize(
        ("fmt", "value"),
        [
            ("iso8601", "yesterday"),
            ("iso8601", 12),
            ("%Y-%m-%d", "11/11/2026"),
            ("epoch_s", "soon"),
            ("epoch_s", True),
            ("epoch_ms", 10**30),
            ("epoch_s", float("nan")),
        ],
    )
    def test_bad(self, fmt: str, value: Any) -> None:
        """Unreadable values are bad_timestamp naming the field."""
        with pytest.raises(MappingError) as caught:
            TimestampFormat(fmt, "Asia/Shanghai").parse(value, "field occurred_at")
        assert ("bad_timestamp", True) == (
            caught.value.reason,
            "occurred_at" in caught.value.detail,
        )


class TestCanonical:
    def test_valid(self) -> None:
        """A canonical message decodes to the same event."""
        expected = LifecycleEvent.model_validate(canonical_event())
        assert expected == decode(CANONICAL, canonical_event())

    def test_rename(self) -> None:
        """event_types renames on canonical topics too."""
        mapping = TopicMapping(topic="t", event_types={"registered": "complaint_registered"})
        event = decode(mapping, canonical_event(event_type="registered"))
        assert "complaint_registered" == event.event_type

    @pytest.mark.parametrize(
        ("event", "reason", "named"),
        [
            (
                {k: v for k, v in canonical_event().items() if k != "case_id"},
                "missing_field",
                "case_id",
            ),
            (canonical_event(occurred_at="2026-11-11T09:30:00"), "naive_timestamp", "occurred_at"),
            (canonical_event(occurred_at="next tuesday"), "bad_timestamp", "occurred_at"),
            (canonical_event(case_id=""), "invalid_event", "case_id"),
            (canonical_event(case_id=5), "invalid_event", "case_id"),
            (canonical_event(colour="red"), "invalid_event", "colour"),
            (canonical_event(occurred_at=1794360600), "ambiguous_timestamp", "occurred_at"),
            (canonical_event(occurred_at="1794360600000"), "ambiguous_timestamp", "epoch_ms"),
            (
                canonical_event(attributes={"promised_by": 1794360600}),
                "ambiguous_timestamp",
                "attributes.promised_by",
            ),
            (canonical_event(case_id="\ufeffCP-1"), "control_character", "U+FEFF"),
            (canonical_event(case_id="CP-1\r\nforged"), "control_character", "U+000D"),
            (canonical_event(event_id="e\x00"), "control_character", "event_id"),
            (
                canonical_event(event_type="complaint\u2028registered"),
                "control_character",
                "U+2028",
            ),
            (canonical_event(case_kind="complaint\x85"), "control_character", "case_kind"),
            (
                canonical_event(attributes={"team": "cs\nfront"}),
                "control_character",
                "attributes.team",
            ),
            (
                canonical_event(attributes={"promised_by": "2026-11-11T09:30:00"}),
                "naive_timestamp",
                "attributes.promised_by",
            ),
        ],
    )
    def test_invalid(self, event: dict[str, Any], reason: str, named: str) -> None:
        """Each invalid canonical event gets its reason and a detail naming the field."""
        error = error_of(CANONICAL, orjson.dumps(event))
        assert (reason, True) == (error.reason, named in error.detail)

    def test_invalid_json(self) -> None:
        """Bytes that are not JSON are invalid_json, showing their start."""
        error = error_of(CANONICAL, b"{not json")
        assert ("invalid_json", True) == (error.reason, "{not json" in error.detail)

    def test_huge_integer(self) -> None:
        """An integer id beyond 64 bits is invalid_event naming the field."""
        value = orjson.dumps(canonical_event(case_id="__N__")).replace(b'"__N__"', b"1" * 30)
        error = error_of(CANONICAL, value)
        assert ("invalid_event", True) == (error.reason, "case_id" in error.detail)

    def test_invalid_utf8(self) -> None:
        """Bytes that are not UTF-8 are invalid_json."""
        assert "invalid_json" == error_of(CANONICAL, b'{"a": "\xff"}').reason

    @pytest.mark.parametrize("value", [b"[1, 2]", b'"text"', b"42", b"null"])
    def test_not_an_object(self, value: bytes) -> None:
        """JSON that is not an object is not_an_object, naming what it is."""
        error = error_of(CANONICAL, value)
        assert ("not_an_object", True) == (error.reason, "JSON object" in error.detail)

    def test_too_large(self) -> None:
        """A message over max_bytes is too_large, naming the size and the limit."""
        mapping = TopicMapping(topic="t", max_bytes=100)
        error = error_of(mapping, orjson.dumps(canonical_event(pad="x" * 200)))
        assert ("too_large", True) == (error.reason, "max_bytes 100" in error.detail)


class TestFieldMapping:
    def test_maps_configured_fields(self) -> None:
        """Paths, constants, strptime times and epoch attributes land on the canonical event."""
        expected = LifecycleEvent(
            event_id="p-77",
            case_id="SF100",
            case_kind="shipment",
            event_type="signed_for",
            occurred_at=datetime(2026, 11, 11, 1, 30, tzinfo=UTC),
            attributes={
                "region": "cn-zj",
                "promised_by": datetime.fromtimestamp(1_794_000_000, UTC),
                "first_scan_site": "hz-01",
            },
        )
        assert expected == decode(PARTNER, partner_message())

    def test_copies_only_configured_fields(self) -> None:
        """Unmapped source fields (a receiver's name and phone) are not copied."""
        dumped = decode(PARTNER, partner_message()).model_dump_json()
        assert (False, False) == ("13800000000" in dumped, "not copied" in dumped)

    def test_optional_attribute_absent(self) -> None:
        """An absent attribute is left out."""
        event = decode(PARTNER, partner_message(site={}))
        assert None is event.attributes.region

    def test_integer_ids_become_text(self) -> None:
        """A numeric waybill number becomes its decimal text."""
        event = decode(PARTNER, partner_message(waybill={"number": 123456}))
        assert "123456" == event.case_id

    def test_key_path_and_const(self) -> None:
        """``$key`` and ``const`` rules feed canonical fields."""
        mapping = TopicMapping(
            topic="t",
            canonical=False,
            fields={
                "event_id": rule("$.id"),
                "case_id": rule("$key"),
                "case_kind": FieldRule(const="enquiry"),
                "event_type": rule("$.t"),
                "occurred_at": rule("$.at"),
            },
        )
        event = decode(
            mapping, {"id": "1", "t": "email_received", "at": "2026-01-01T00:00:00Z"}, b"E-5"
        )
        assert ("E-5", "enquiry") == (event.case_id, event.case_kind)

    def test_event_id_from(self) -> None:
        """A derived event id is a stable sha1 of the listed fields, equal for equal input."""
        mapping = TopicMapping(
            topic="t",
            canonical=False,
            case_kind="shipment",
            fields={k: v for k, v in PARTNER.fields.items() if k != "event_id"},
            event_types=PARTNER.event_types,
            event_id_from=("case_id", "event_type", "occurred_at"),
        )
        first = decode(mapping, partner_message(id=None))
        again = decode(mapping, partner_message(id="ignored"))
        other = decode(mapping, partner_message(status="OUT_FOR_DELIVERY"))
        assert (True, 40, False) == (
            first.event_id == again.event_id,
            len(first.event_id),
            first.event_id == other.event_id,
        )

    def test_unmapped_keep(self) -> None:
        """unmapped: keep passes an unlisted type through as sent."""
        mapping = TopicMapping(**{**PARTNER.__dict__, "unmapped": "keep"})
        assert "LOST" == decode(mapping, partner_message(status="LOST")).event_type

    def test_unmapped_drop(self) -> None:
        """unmapped: drop raises EventSkipped (counted, not dead-lettered)."""
        mapping = TopicMapping(**{**PARTNER.__dict__, "unmapped": "drop"})
        with pytest.raises(EventSkipped) as caught:
            decode(mapping, partner_message(status="LOST"))
        assert "unmapped_event_type" == caught.value.reason

    def test_unmapped_deadletter(self) -> None:
        """unmapped: deadletter raises MappingError naming the type."""
        error = error_of(PARTNER, orjson.dumps(partner_message(status="LOST")))
        assert ("unmapped_event_type", False, True) == (
            error.reason,
            isinstance(error, EventSkipped),
            "'LOST'" in error.detail,
        )

    def test_canonical_name_passes_rename(self) -> None:
        """A source already sending a canonical name is not treated as unmapped."""
        assert "signed_for" == decode(PARTNER, partner_message(status="signed_for")).event_type

    @pytest.mark.parametrize(
        ("changes", "reason", "named"),
        [
            ({"waybill": {}}, "missing_field", "$.waybill.number"),
            ({"status": None}, "missing_field", "$.status"),
            ({"scan_time": "11/11/2026"}, "bad_timestamp", "$.scan_time"),
            ({"promise": "tomorrow"}, "bad_timestamp", "$.promise"),
            ({"waybill": {"number": ["a"]}}, "invalid_event", "$.waybill.number"),
            ({"waybill": {"number": True}}, "invalid_event", "$.waybill.number"),
            ({"waybill": {"number": "SF1\r\nX"}}, "control_character", "case_id"),
            ({"site": {"province": {"code": 1}}}, "invalid_event", "$.site.province"),
            ({"id": "x" * 300}, "invalid_event", "event_id"),
        ],
    )
    def test_invalid(self, changes: dict[str, Any], reason: str, named: str) -> None:
        """Each bad foreign message gets its reason and a detail naming the path."""
        error = error_of(PARTNER, orjson.dumps(partner_message(**changes)))
        assert (reason, True) == (error.reason, named in error.detail)

    def test_naive_without_timezone(self) -> None:
        """A naive time on a field without timezone is naive_timestamp naming the path."""
        mapping = TopicMapping(
            **{**PARTNER.__dict__, "fields": {**PARTNER.fields, "occurred_at": rule("$.scan_time")}}
        )
        error = error_of(mapping, orjson.dumps(partner_message(scan_time="2026-11-11T09:30:00")))
        assert ("naive_timestamp", True) == (error.reason, "$.scan_time" in error.detail)

    def test_required_attribute(self) -> None:
        """A required attribute that is absent is missing_field."""
        mapping = TopicMapping(
            **{**PARTNER.__dict__, "attributes": {"region": rule("$.site.province", required=True)}}
        )
        error = error_of(mapping, orjson.dumps(partner_message(site={})))
        assert ("missing_field", True) == (error.reason, "region" in error.detail)

    def test_long_values_truncated(self) -> None:
        """Details show at most a truncated bad value."""
        error = error_of(PARTNER, orjson.dumps(partner_message(scan_time="9" * 5000)))
        assert (True, True) == (len(error.detail) < 300, "..." in error.detail)


CSV = TopicMapping(
    topic="helpdesk.csv",
    format="csv",
    canonical=False,
    case_kind="enquiry",
    csv=CsvFormat(columns=("ticket", "kind", "at", "region")),
    fields={
        "case_id": rule("$.ticket"),
        "event_type": rule("$.kind"),
        "occurred_at": rule("$.at", timestamp=TimestampFormat("epoch_s")),
    },
    attributes={"region": rule("$.region")},
    event_id_from=("case_id", "event_type", "occurred_at"),
)


class TestCsv:
    def test_record(self) -> None:
        """A CSV record maps by column name; an empty cell is absent."""
        event = CSV.decode(None, b"T-1,email_received,1794360600,\n")
        assert ("T-1", "email_received", None) == (
            event.case_id,
            event.event_type,
            event.attributes.region,
        )

    def test_quoted(self) -> None:
        """Quoted cells may hold the delimiter."""
        event = CSV.decode(None, b'"T,2",reply_sent,1794360600,cn-sh')
        assert "T,2" == event.case_id

    @pytest.mark.parametrize(
        ("value", "named"),
        [
            (b"T-1,email_received,1794360600", "3 columns"),
            (b"a,b,c,d\ne,f,g,h", "one CSV record"),
            (b"\xff\xfe,b,c,d", "UTF-8"),
            (b'"T-1,email_received,1,x', "CSV"),
        ],
    )
    def test_invalid(self, value: bytes, named: str) -> None:
        """Wrong column counts, several records and bad bytes are invalid_csv."""
        error = error_of(CSV, value)
        assert ("invalid_csv", True) == (error.reason, named in error.detail)

    def test_control_character_in_quoted_cell(self) -> None:
        """A quoted cell holding CR/LF is read whole, then refused for its control character."""
        error = error_of(CSV, b'"T-1\r\nX",email_received,1794360600,cn-sh')
        assert ("control_character", True) == (error.reason, "case_id" in error.detail)

    def test_leading_bom_is_dropped(self) -> None:
        """A byte-order mark starting a record is not part of the first cell (the case id)."""
        event = CSV.decode(None, b"\xef\xbb\xbfT-1,email_received,1794360600,cn-sh")
        assert "T-1" == event.case_id

    def test_null_values(self) -> None:
        """A cell listed in null_values (ServiceNow's ``?``) counts as no value."""
        mapping = dataclasses.replace(
            CSV, csv=CsvFormat(columns=CSV.csv.columns, null_values=frozenset({"?"}))
        )
        event = mapping.decode(None, b"T-1,email_received,1794360600,?")
        assert None is event.attributes.region

    def test_missing_cell(self) -> None:
        """An empty required cell is missing_field naming the column path."""
        error = error_of(CSV, b",email_received,1794360600,cn-sh")
        assert ("missing_field", True) == (error.reason, "$.ticket" in error.detail)


def _reader_cells(text: str, columns: int) -> list[str] | None:
    """What ``csv.reader`` makes of one record: its cells, or None for anything else."""
    try:
        rows = [
            r for r in csv.reader(io.StringIO(text, newline=""), quotechar='"', strict=True) if r
        ]
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 and len(rows[0]) == columns else None


class TestCsvFastPath:
    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.text(alphabet=list('ab ,"\r\n\x00?\t;'), max_size=5), max_size=6))
    def test_same_cells_as_the_csv_reader(self, cells_in: list[str]) -> None:
        """A record without quotes or line breaks is split, not read: the cells must not change."""
        mapping = dataclasses.replace(
            CSV, csv=CsvFormat(columns=("a", "b", "c", "d"), null_values=frozenset({"?"}))
        )
        text = ",".join(cells_in)
        expected = _reader_cells(text, 4)
        try:
            cells: list[str | None] | None = list(mapping._parse_csv(text.encode()).values())
        except MappingError as error:
            assert error.reason == "invalid_csv"
            cells = None
        want = None if expected is None else [None if c in ("", "?") else c for c in expected]
        assert want == cells


class TestReasons:
    def test_every_reason_is_tested(self) -> None:
        """Every declared reason appears in this test module (so each has a test)."""
        source = Path(__file__).read_text(encoding="utf-8")
        assert [] == [reason for reason in REASONS if f'"{reason}"' not in source]


class TestPurity:
    def test_no_streaming_imports(self) -> None:
        """mapping.py imports nothing of faust, kafka, aiokafka (replay reuses it)."""
        tree = ast.parse(Path(sources.mapping.__file__).read_text(encoding="utf-8"))
        names = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        banned = ("faust", "kafka", "aiokafka", "redis", "prometheus_client", "aiohttp")
        assert [] == sorted(n for n in names if n.split(".")[0] in banned)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = ["event_id", "case_id", "case_kind", "event_type", "occurred_at", "attributes"]
almost_events = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.text(max_size=5) | json_values,
        "case_id": st.text(max_size=5) | json_values,
        "case_kind": st.sampled_from(["complaint", "shipment", ""]) | json_values,
        "event_type": st.text(max_size=5),
        "occurred_at": st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat)
        | json_values,
        "attributes": st.dictionaries(st.sampled_from(["region", "promised_by", "x"]), json_values),
    },
)
partner_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "waybill": st.fixed_dictionaries({}, optional={"number": json_values}),
        "status": st.sampled_from(["SIGNED", "LOST"]) | json_values,
        "scan_time": st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")) | json_values,
        "site": st.fixed_dictionaries({}, optional={"province": json_values}),
        "promise": st.integers(-(2**63), 2**64 - 1) | json_values,
        "scans": st.lists(json_values, max_size=2),
    },
)


def decodes_or_refuses(mapping: TopicMapping, value: bytes, key: bytes | None = None) -> None:
    """``decode`` returns a valid event or raises MappingError with a known reason."""
    try:
        event = mapping.decode(key, value)
    except MappingError as exc:
        assert (True, True) == (exc.reason in REASONS, bool(exc.detail))
    else:
        assert event == LifecycleEvent.model_validate_json(event.model_dump_json())


class TestFuzz:
    @settings(max_examples=300, deadline=None)
    @given(value=st.binary(max_size=300), key=st.none() | st.binary(max_size=10))
    def test_arbitrary_bytes(self, value: bytes, key: bytes | None) -> None:
        """Arbitrary bytes never escape as anything but MappingError, on every mapping."""
        for mapping in (CANONICAL, PARTNER, CSV):
            decodes_or_refuses(mapping, value, key)

    @settings(max_examples=300, deadline=None)
    @given(message=st.dictionaries(st.sampled_from(KEYS), json_values) | almost_events)
    def test_arbitrary_objects_canonical(self, message: dict[str, Any]) -> None:
        """Arbitrary JSON objects decode or raise MappingError on a canonical topic."""
        decodes_or_refuses(CANONICAL, orjson.dumps(message))

    @settings(max_examples=300, deadline=None)
    @given(message=partner_like | json_values)
    def test_arbitrary_objects_mapped(self, message: Any) -> None:
        """Arbitrary JSON decodes or raises MappingError on a field-mapped topic."""
        decodes_or_refuses(PARTNER, orjson.dumps(message))


class TestTimeWindow:
    NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)

    def event_at(self, at: datetime) -> LifecycleEvent:
        """A canonical event at ``at``."""
        return CANONICAL.decode(None, orjson.dumps(canonical_event(occurred_at=at.isoformat())))

    @pytest.mark.parametrize("offset", [timedelta(days=-365), timedelta(0), timedelta(hours=1)])
    def test_inside(self, offset: timedelta) -> None:
        """Times from a year ago up to an hour ahead pass (the default window)."""
        TimeWindow().check(self.event_at(self.NOW + offset), self.NOW, "t")

    @pytest.mark.parametrize(
        ("offset", "named"),
        [
            (timedelta(days=-366), "SLAWATCH_EVENT_MAX_AGE"),
            (timedelta(days=-20000), "SLAWATCH_EVENT_MAX_AGE"),
            (timedelta(hours=1, seconds=1), "SLAWATCH_EVENT_MAX_FUTURE"),
            (timedelta(hours=8), "SLAWATCH_EVENT_MAX_FUTURE"),
        ],
    )
    def test_outside(self, offset: timedelta, named: str) -> None:
        """Too old or too far ahead is implausible_timestamp, naming the setting to change."""
        with pytest.raises(MappingError) as caught:
            TimeWindow().check(self.event_at(self.NOW + offset), self.NOW, "t")
        assert ("implausible_timestamp", True) == (
            caught.value.reason,
            named in caught.value.detail,
        )

    def test_no_limit(self) -> None:
        """None on both sides accepts any time."""
        TimeWindow(None, None).check(self.event_at(datetime(1970, 1, 1, tzinfo=UTC)), self.NOW, "t")


class TestPersonalAttributes:
    @pytest.mark.parametrize(
        "name",
        ["customer_name", "name", "receiverPhone", "mobile", "tel", "home_address", "id_number",
         "IDCard", "email", "contact", "sender_addr"],
    )  # fmt: skip
    def test_looks_personal(self, name: str) -> None:
        """Names, phones, addresses, id numbers and e-mail look personal."""
        assert looks_personal(name)

    @pytest.mark.parametrize(
        "name", ["region", "team", "assignee", "site_code", "waybill_number", "promised_by"]
    )
    def test_not_personal(self, name: str) -> None:
        """Codes, staff ids and times do not."""
        assert not looks_personal(name)

    def test_canonical_keeps_declared_attributes_only(self) -> None:
        """Without an allow-list a canonical event keeps only declared attributes."""
        attributes = {
            "region": "cn-gd",
            "customer_name": "Zhang San",
            "phone": "13800138000",
            "receiver": {"address": "1 Road"},
            "info": {"note": "x"},
            "source_system": "crm",
            "客户姓名": "张三",
            "手机": "13800138000",
            "customer": "Zhang San",
            "recipient": "Li Si",
            "note": "Zhang San 138 0013 8000",
        }
        event = CANONICAL.decode(None, orjson.dumps(canonical_event(attributes=attributes)))
        assert {"region": "cn-gd"} == event.attributes.model_dump(exclude_none=True)

    def test_canonical_allow_list(self) -> None:
        """With extra_attributes set, only the listed extra attributes are kept."""
        mapping = dataclasses.replace(CANONICAL, extra_attributes=frozenset({"ticket_source"}))
        attributes = {"region": "cn-gd", "ticket_source": "web", "remark": "call me back"}
        event = mapping.decode(None, orjson.dumps(canonical_event(attributes=attributes)))
        assert {"region": "cn-gd", "ticket_source": "web"} == event.attributes.model_dump(
            exclude_none=True
        )
