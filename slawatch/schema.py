"""The published JSON Schema of the canonical lifecycle event, generated from the pydantic model.

Producers validate against ``schemas/lifecycle-event.schema.json`` without running Python.
The file is generated, never edited: ``slawatch schema --write`` regenerates it and a test
compares the committed file with a fresh generation (a golden file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sla.events import LifecycleEvent

__all__ = ["SCHEMA_ID", "SCHEMA_PATH", "lifecycle_event_schema", "render", "write"]

SCHEMA_PATH = Path("schemas/lifecycle-event.schema.json")
SCHEMA_ID = "urn:slawatch:schema:lifecycle-event:v1"

_DESCRIPTION = (
    "One thing that happened to one customer-service case (a complaint, an enquiry, a "
    "shipment), at the time it happened. Every source topic is mapped onto this shape; "
    "slawatch's clocks start, pause and stop on it. Times carry a UTC offset. Attributes carry "
    "staff and organisation ids, never customer personal data (names, phones, addresses). "
    "Generated from sla.events.LifecycleEvent: do not edit, run `slawatch schema --write`."
)

_EXAMPLES: list[dict[str, Any]] = [
    {
        "event_id": "cs-20261111-000123-1",
        "case_id": "CP-20261111-000123",
        "case_kind": "complaint",
        "event_type": "complaint_registered",
        "occurred_at": "2026-11-11T09:30:00+08:00",
        "attributes": {
            "channel": "phone",
            "region": "cn-gd",
            "team": "cs-frontline",
            "complaint_class": "transport",
            "priority": "normal",
        },
    },
    {
        "event_id": "wb-SF1234567890-pickup-1",
        "case_id": "SF1234567890",
        "case_kind": "shipment",
        "event_type": "picked_up",
        "occurred_at": "2026-11-11T14:05:12+08:00",
        "attributes": {
            "product": "next_day",
            "region": "cn-zj",
            "promised_by": "2026-11-12T18:00:00+08:00",
        },
    },
]


def lifecycle_event_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :class:`~sla.events.LifecycleEvent`."""
    generated = LifecycleEvent.model_json_schema(mode="validation")
    for example in _EXAMPLES:
        LifecycleEvent.model_validate(example)  # an example that stopped validating is a bug
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "slawatch lifecycle event",
        "description": _DESCRIPTION,
        **{k: v for k, v in generated.items() if k not in ("title", "description")},
        "examples": _EXAMPLES,
    }


def render() -> str:
    """The schema as the committed file's text: stable key order, two-space indent."""
    return json.dumps(lifecycle_event_schema(), indent=2, ensure_ascii=False) + "\n"


def write(path: Path = SCHEMA_PATH) -> bool:
    """Write the schema to ``path``; True when the file changed."""
    text = render()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
