"""Topic forms that say what a log's records mean: ``order_by`` a sequence field and an event
type ``join``\\ ed from several fields, from the topics file through the mapping to replay."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sla.config_file import ConfigError
from sla.events import LifecycleEvent
from sla.readmodels.replay import sort_events
from slawatch.replay import replay_files
from sources.mapping import MappingError
from sources.topics import load_topics
from tests.sources.test_topics import problems, write

TOPICS = """\
version: 1
topics:
  - name: incidents.updates
    format: csv
    csv:
      columns: [number, state, sub_state, updated_at, mod_count]
    case_kind: incident
    event_id_from: [case_id, event_type, occurred_at]
    order_by: $.mod_count
    fields:
      case_id: $.number
      event_type: {join: [$.state, $.sub_state]}
      occurred_at: {path: $.updated_at, format: "%Y-%m-%d %H:%M", timezone: UTC}
    event_types:
      New: incident_new
      Active: incident_active
      Active/Awaiting User: awaiting_user
      Resolved: incident_resolved
"""
POLICY = """\
version: "forms-1"
allowed_lateness: 0s
clocks:
  - id: incident_resolution
    case_kind: incident
    start: first_event
    stop: [incident_resolved]
    pause: [awaiting_user]
    resume: other
    limit: 8h
    warn_at: []
"""


def mapping(tmp_path: Path, text: str = TOPICS) -> object:
    return load_topics(write(tmp_path, text)).mappings()["incidents.updates"]


def decode(tmp_path: Path, record: str) -> LifecycleEvent:
    return mapping(tmp_path).decode(None, record.encode())  # type: ignore[attr-defined, no-any-return]


class TestJoin:
    def test_event_type_from_status_and_sub_status(self, tmp_path: Path) -> None:
        event = decode(tmp_path, "INC1,Active,Awaiting User,2017-02-10 08:00,3")
        assert event.event_type == "awaiting_user"

    def test_an_empty_part_is_left_out(self, tmp_path: Path) -> None:
        assert decode(tmp_path, "INC1,Active,,2017-02-10 08:00,3").event_type == "incident_active"

    def test_no_part_at_all_is_a_missing_field(self, tmp_path: Path) -> None:
        with pytest.raises(MappingError) as caught:
            decode(tmp_path, "INC1,,,2017-02-10 08:00,3")
        assert caught.value.reason == "missing_field"
        assert "$.state + $.sub_state" in caught.value.detail

    def test_separator(self, tmp_path: Path) -> None:
        text = TOPICS.replace(
            "[$.state, $.sub_state]}", "[$.state, $.sub_state], separator: ' - '}"
        )
        text = text.replace("Active/Awaiting User", "Active - Awaiting User")
        event = mapping(tmp_path, text).decode(  # type: ignore[attr-defined]
            None, b"INC1,Active,Awaiting User,2017-02-10 08:00,3"
        )
        assert event.event_type == "awaiting_user"

    @pytest.mark.parametrize(
        ("spec", "expected"),
        [
            ("{join: [$.state]}", "fields.event_type.join: List should have at least 2 items"),
            ("{join: [$.state, $.sub_state], path: $.state}", "give exactly one of path, const"),
            ("{join: [$.state, $.sub_state], format: iso8601}", "join builds a text"),
        ],
    )
    def test_refused(self, tmp_path: Path, spec: str, expected: str) -> None:
        text = TOPICS.replace("{join: [$.state, $.sub_state]}", spec)
        found = problems(tmp_path, text)
        assert any(expected in line for line in found), found


class TestOrderBy:
    def test_the_field_becomes_the_sequence(self, tmp_path: Path) -> None:
        assert decode(tmp_path, "INC1,New,,2017-02-10 08:00,7").sequence == 7

    def test_a_missing_value_gives_no_sequence(self, tmp_path: Path) -> None:
        assert decode(tmp_path, "INC1,New,,2017-02-10 08:00,").sequence is None

    def test_a_value_that_is_no_integer_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(MappingError) as caught:
            decode(tmp_path, "INC1,New,,2017-02-10 08:00,seven")
        assert caught.value.reason == "invalid_event"
        assert "order_by (path $.mod_count)" in caught.value.detail

    def test_only_for_field_mappings(self, tmp_path: Path) -> None:
        text = "version: 1\ntopics:\n  - name: a.b\n    order_by: $.n\n"
        with pytest.raises(ConfigError, match="order_by is only for mapping: fields"):
            load_topics(write(tmp_path, text))

    def test_time_wins_over_a_contradicting_sequence(self) -> None:
        """The sequence orders events that share a time; it never moves an event in time."""

        def ev(n: str, minute: int, sequence: int) -> LifecycleEvent:
            return LifecycleEvent(
                event_id=n,
                case_id="INC1",
                case_kind="incident",
                event_type=n,
                occurred_at=datetime(2017, 2, 10, 8, minute, tzinfo=UTC),
                sequence=sequence,
            )

        events = [ev("c", 1, 1), ev("b", 0, 9), ev("a", 0, 5)]
        assert [e.event_id for e in sort_events(events)] == ["a", "b", "c"]


class TestReplayBySequence:
    """Same minute, file order contradicting the sequence: the sequence decides."""

    LOG = (
        "number,state,sub_state,updated_at,mod_count\n"
        "INC1,New,,2017-02-10 08:00,0\n"
        # written out of order in the file: the resume (4) before the pause (3), same minute
        "INC1,Active,,2017-02-10 09:00,4\n"
        "INC1,Active,Awaiting User,2017-02-10 09:00,3\n"
        "INC1,Resolved,,2017-02-10 10:00,5\n"
    )

    def _replay(self, tmp_path: Path, log: str) -> tuple[float, float]:
        (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
        (tmp_path / "log.csv").write_text(log, encoding="utf-8")
        result, _ = replay_files(
            [str(tmp_path / "log.csv")], write(tmp_path, TOPICS), tmp_path / "p.yaml"
        )
        (outcome,) = result.outcomes
        return outcome.elapsed_seconds, outcome.paused_seconds

    def test_paused_then_resumed_in_sequence_order(self, tmp_path: Path) -> None:
        """Pause (3) then resume (4) at 09:00: zero pause, so 2 h counted."""
        assert self._replay(tmp_path, self.LOG) == (7200, 0)

    def test_without_the_sequence_the_same_instant_rule_applies(self, tmp_path: Path) -> None:
        """No sequence: resume before pause at one instant, so the clock stays paused."""
        log = self.LOG.replace(",4\n", ",\n").replace(",3\n", ",\n")
        assert self._replay(tmp_path, log) == (3600, 3600)
