"""The committed JSON Schema of the canonical event is exactly what the model generates."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sla.events import LifecycleEvent
from slawatch.cli import app
from slawatch.schema import SCHEMA_ID, lifecycle_event_schema, render, write

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "schemas" / "lifecycle-event.schema.json"


class TestGoldenFile:
    def test_committed_file_is_current(self) -> None:
        """The committed schema equals a fresh generation (run `slawatch schema --write`)."""
        assert render() == COMMITTED.read_text(encoding="utf-8")


class TestSchema:
    def test_identity(self) -> None:
        """The schema names its draft, id and title."""
        schema = lifecycle_event_schema()
        assert (
            "https://json-schema.org/draft/2020-12/schema",
            SCHEMA_ID,
            "slawatch lifecycle event",
        ) == (schema["$schema"], schema["$id"], schema["title"])

    def test_required_fields(self) -> None:
        """The five canonical fields are required."""
        expected = ["event_id", "case_id", "case_kind", "event_type", "occurred_at"]
        assert expected == lifecycle_event_schema()["required"]

    def test_examples_are_valid_events(self) -> None:
        """Every example validates as a LifecycleEvent."""
        examples = lifecycle_event_schema()["examples"]
        assert len(examples) == len([LifecycleEvent.model_validate(e) for e in examples])

    def test_no_extra_fields(self) -> None:
        """Unknown top-level fields are refused, as the model refuses them."""
        assert False is lifecycle_event_schema()["additionalProperties"]

    def test_write_reports_change(self, tmp_path: Path) -> None:
        """write() creates the file, then reports no change on a second call."""
        path = tmp_path / "s.json"
        assert (True, False, render()) == (write(path), write(path), path.read_text("utf-8"))


class TestCommand:
    def test_prints_schema(self) -> None:
        """`slawatch schema` prints the schema as JSON."""
        result = CliRunner().invoke(app, ["schema"])
        assert (0, SCHEMA_ID) == (result.exit_code, json.loads(result.stdout)["$id"])

    def test_check_stale(self, tmp_path: Path) -> None:
        """`slawatch schema --check` exits 1 for a stale file."""
        stale = tmp_path / "s.json"
        stale.write_text("{}\n", encoding="utf-8")
        result = CliRunner().invoke(app, ["schema", "--check", "--output", str(stale)])
        assert 1 == result.exit_code
