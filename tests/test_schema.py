"""The committed JSON Schema of the canonical event is exactly what the model generates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError
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


class TestControlCharacters:
    """Ids with control characters are refused by the model and the published schema alike."""

    @settings(max_examples=300, deadline=None)
    @given(st.text(min_size=1, max_size=12))
    def test_schema_and_model_agree(self, case_id: str) -> None:
        """For any case id, the JSON Schema accepts exactly what the model accepts."""
        event = {**lifecycle_event_schema()["examples"][0], "case_id": case_id}
        validator = Draft202012Validator(lifecycle_event_schema())
        try:
            LifecycleEvent.model_validate(event)
            model_ok = True
        except ValidationError:
            model_ok = False
        assert model_ok == validator.is_valid(event)

    @pytest.mark.parametrize(
        "bad", ["CP-1\r\nX-Forged: 1", "CP\x00", "CP\x7f", "CP\x85", "CP\u2028"]
    )
    def test_refused_with_reason(self, bad: str) -> None:
        """A control character is refused, naming its code point."""
        event = {**lifecycle_event_schema()["examples"][0], "case_id": bad}
        with pytest.raises(ValidationError) as caught:
            LifecycleEvent.model_validate(event)
        assert f"U+{ord(next(c for c in bad if not c.isprintable())):04X}" in str(caught.value)
