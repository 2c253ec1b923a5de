"""The topics file: validation with file/line/field errors, cross-checks, runtime mappings."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import orjson
import pytest

from sla.config_file import ConfigError
from sources.topics import TopicsConfig, TopicSpec, load_topics, topics_summary

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "config" / "topics.yaml"

FOREIGN = """\
version: 1
topics:
  - name: partner.tracking
    format: json
    case_kind: shipment
    fields:
      event_id: $.id
      case_id: $.waybill.number
      event_type: $.status
      occurred_at: {path: $.scan_time, format: "%Y-%m-%d %H:%M:%S", timezone: Asia/Shanghai}
      attributes:
        region: $.site.province
        promised_by: {path: $.promise, format: epoch_ms}
    event_types:
      SIGNED: signed_for
    unmapped: deadletter
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a topics file and return its path."""
    path = tmp_path / "topics.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problem lines ``load_topics`` reports for ``text``."""
    with pytest.raises(ConfigError) as caught:
        load_topics(write(tmp_path, text))
    return [str(p) for p in caught.value.problems]


class TestDefaultFile:
    def test_loads(self) -> None:
        """The shipped topics file is valid and lists the two lifecycle topics."""
        assert ["complaints.lifecycle", "shipments.lifecycle"] == load_topics(DEFAULT).names()

    def test_commented_example_is_valid(self, tmp_path: Path) -> None:
        """The commented partner example in the shipped file stays valid when uncommented."""
        text = DEFAULT.read_text(encoding="utf-8")
        uncommented = re.sub(r"(?m)^  # (?=[ -])", "  ", text)
        config = load_topics(write(tmp_path, uncommented))
        assert "partner.tracking" in config.names()


class TestLoad:
    def test_foreign_mapping(self, tmp_path: Path) -> None:
        """A foreign topic loads and its mapping decodes a message."""
        config = load_topics(write(tmp_path, FOREIGN))
        message = {
            "id": "1",
            "waybill": {"number": "SF1"},
            "status": "SIGNED",
            "scan_time": "2026-11-11 09:30:00",
            "promise": 1_794_000_000_000,
        }
        event = config.mappings()["partner.tracking"].decode(None, orjson.dumps(message))
        assert ("SF1", "shipment", "signed_for") == (
            event.case_id,
            event.case_kind,
            event.event_type,
        )

    def test_canonical_is_default_without_fields(self) -> None:
        """A topic without fields is canonical."""
        assert "canonical" == TopicSpec(name="a.b").kind

    def test_csv_mapping(self, tmp_path: Path) -> None:
        """A CSV topic maps a record by its configured columns."""
        config = load_topics(
            write(
                tmp_path,
                """\
                version: 1
                topics:
                  - name: helpdesk.csv
                    format: csv
                    csv: {columns: [ticket, kind, at], delimiter: ";"}
                    case_kind: enquiry
                    fields:
                      case_id: $.ticket
                      event_type: $.kind
                      occurred_at: {path: $.at, format: epoch_s}
                    event_id_from: [case_id, event_type, occurred_at]
                """,
            )
        )
        event = config.mappings()["helpdesk.csv"].decode(None, b"T-1;email_received;1794360600")
        assert ("T-1", 40) == (event.case_id, len(event.event_id))

    def test_summary(self, tmp_path: Path) -> None:
        """topics_summary gives one row of strings per topic."""
        config = load_topics(write(tmp_path, FOREIGN))
        expected = [
            {
                "topic": "partner.tracking",
                "format": "json",
                "mapping": "fields",
                "case_kind": "shipment",
                "event_types": "1 renamed, unmapped: deadletter",
                "attributes": "region, promised_by",
            }
        ]
        assert expected == topics_summary(config)

    def test_summary_canonical(self) -> None:
        """A canonical topic's summary says its fields come from the message."""
        row = topics_summary(load_topics(DEFAULT))[0]
        assert ("canonical", "(from message)", "as sent") == (
            row["mapping"],
            row["case_kind"],
            row["event_types"],
        )


#: A CSV topic; LAYOUT stands for more keys of its csv layout.
CSV_TOPIC = """\
    version: 1
    topics:
      - name: a
        format: csv
        csv: {columns: [c, s, t], LAYOUT}
        case_kind: complaint
        fields: {case_id: $.c, event_type: $.s, occurred_at: $.t}
        event_id_from: [case_id, event_type, occurred_at]
    """

BAD = [
    (
        "duplicate names",
        """\
        version: 1
        topics:
          - name: a
          - name: a
        """,
        "topics.yaml:2: topics: topic 'a' is listed twice (topics[0] and topics[1])",
    ),
    (
        "canonical with fields",
        """\
        version: 1
        topics:
          - name: a
            mapping: canonical
            fields: {case_id: $.x}
        """,
        "topics.yaml:3: topics[0]: mapping canonical takes no fields",
    ),
    (
        "foreign without case_id",
        """\
        version: 1
        topics:
          - name: a
            case_kind: shipment
            fields: {event_id: $.id, event_type: $.s, occurred_at: $.t}
        """,
        "topics.yaml:3: topics[0]: fields.case_id is required",
    ),
    (
        "foreign without event id",
        """\
        version: 1
        topics:
          - name: a
            case_kind: shipment
            fields: {case_id: $.c, event_type: $.s, occurred_at: $.t}
        """,
        "fields.event_id (or event_id_from) is required",
    ),
    (
        "foreign without case kind",
        """\
        version: 1
        topics:
          - name: a
            fields: {event_id: $.id, case_id: $.c, event_type: $.s, occurred_at: $.t}
        """,
        "case_kind (a constant) or fields.case_kind is required",
    ),
    (
        "path without $",
        """\
        version: 1
        topics:
          - name: a
            case_kind: shipment
            fields: {event_id: $.id, case_id: waybill, event_type: $.s, occurred_at: $.t}
        """,
        "topics.yaml:5: topics[0].fields.case_id: expected a field path such as '$.status', "
        "got 'waybill'",
    ),
    (
        "malformed path",
        """\
        version: 1
        topics:
          - name: a
            case_kind: shipment
            fields:
              event_id: $.id
              case_id: $.a[x]
              event_type: $.s
              occurred_at: $.t
        """,
        "topics.yaml:7: topics[0].fields.case_id.path: cannot read field path '$.a[x]'",
    ),
    (
        "strptime without zone",
        """\
        version: 1
        topics:
          - name: a
            case_kind: shipment
            fields:
              event_id: $.id
              case_id: $.c
              event_type: $.s
              occurred_at: {path: $.t, format: "%Y-%m-%d %H:%M"}
        """,
        "topics.yaml:9: topics[0].fields.occurred_at: format '%Y-%m-%d %H:%M' has no %z offset",
    ),
    (
        "unknown zone",
        """\
        version: 1
        topics:
          - name: a
            case_kind: shipment
            fields:
              event_id: $.id
              case_id: $.c
              event_type: $.s
              occurred_at: {path: $.t, timezone: Mars/Olympus}
        """,
        "topics[0].fields.occurred_at.timezone: unknown time zone 'Mars/Olympus'",
    ),
    (
        "unknown format",
        """\
        version: 1
        topics:
          - name: a
            case_kind: shipment
            fields:
              event_id: $.id
              case_id: $.c
              event_type: $.s
              occurred_at: {path: $.t, format: rfc2822}
        """,
        "unknown timestamp format 'rfc2822'",
    ),
    (
        "csv without columns",
        """\
        version: 1
        topics:
          - name: a
            format: csv
            case_kind: enquiry
            fields: {event_id: $.i, case_id: $.c, event_type: $.s, occurred_at: $.t}
        """,
        "format csv needs csv.columns",
    ),
    (
        "bad topic name",
        """\
        version: 1
        topics:
          - name: "complaints lifecycle"
        """,
        "topics.yaml:3: topics[0].name: 'complaints lifecycle' is not a Kafka topic name",
    ),
    (
        "unknown key",
        """\
        version: 1
        topics:
          - name: a
            formats: json
        """,
        "topics.yaml:4: topics[0].formats: is not a known field (check the spelling)",
    ),
    (
        "bad unmapped",
        """\
        version: 1
        topics:
          - name: a
            unmapped: ignore
        """,
        "topics.yaml:4: topics[0].unmapped:",
    ),
    (
        "wrong version",
        """\
        version: 2
        topics:
          - name: a
        """,
        "topics.yaml:1: version:",
    ),
    (
        "attribute not snake case",
        """\
        version: 1
        topics:
          - name: a
            case_kind: shipment
            fields:
              event_id: $.id
              case_id: $.c
              event_type: $.s
              occurred_at: $.t
              attributes: {Region: $.r}
        """,
        "attribute name 'Region' must be lower_snake_case",
    ),
    (
        "csv delimiter is the quote",
        CSV_TOPIC.replace("LAYOUT", "delimiter: '\"'"),
        "topics.yaml:5: topics[0].csv: delimiter and quotechar are both '\"'",
    ),
    (
        "csv delimiter is a line break",
        CSV_TOPIC.replace("LAYOUT", 'delimiter: "\\n"'),
        "topics.yaml:5: topics[0].csv.delimiter: '\\n' ends a line",
    ),
    (
        "max_bytes beyond 64 MiB",
        """\
        version: 1
        topics:
          - name: a
            max_bytes: 99999999999999
        """,
        "topics.yaml:4: topics[0].max_bytes: Input should be less than or equal to 67108864",
    ),
]


class TestProblems:
    @pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
    def test_reported(self, tmp_path: Path, text: str, expected: str) -> None:
        """Each bad topics file is refused with a problem naming file, line, field and value."""
        found = problems(tmp_path, text)
        assert [True] == [any(expected in line for line in found)], found

    def test_all_problems_at_once(self, tmp_path: Path) -> None:
        """Every mistake in a file is reported, not just the first."""
        found = problems(
            tmp_path,
            """\
            version: 1
            topics:
              - name: "bad name"
              - name: ok
                unmapped: ignore
            """,
        )
        assert 2 == len(found)


class TestMappingFor:
    def test_canonical(self) -> None:
        """A canonical topic builds a canonical mapping with its size limit."""
        mapping = TopicSpec(name="a", max_bytes=10).mapping_for()
        assert (True, 10, "a") == (mapping.canonical, mapping.max_bytes, mapping.topic)

    def test_occurred_at_defaults_to_iso(self) -> None:
        """occurred_at without a format is read as ISO-8601."""
        config = TopicsConfig.model_validate(
            {
                "version": 1,
                "topics": [
                    {
                        "name": "a",
                        "case_kind": "complaint",
                        "fields": {
                            "event_id": "$.i",
                            "case_id": "$.c",
                            "event_type": "$.t",
                            "occurred_at": "$.at",
                        },
                    }
                ],
            }
        )
        rule = config.topics[0].mapping_for().fields["occurred_at"]
        assert "iso8601" == (rule.timestamp.format if rule.timestamp else None)
