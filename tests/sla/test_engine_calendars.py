"""The calendar a cycle's terms count in, as the engine remembers it (``Engine._calendar``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sla.engine import Engine
from sla.policy import ClockTerms, PolicySpec

SPEC = PolicySpec.model_validate(
    {
        "version": "test",
        "calendars": {"shanghai": {"timezone": "Asia/Shanghai"}},
        "clocks": [
            {
                "id": "contact",
                "case_kind": "complaint",
                "start": ["complaint_registered"],
                "stop": ["customer_contacted"],
                "limit": "3 working days",
                "calendar": "shanghai",
            },
            {
                "id": "first_response",
                "case_kind": "complaint",
                "start": ["complaint_registered"],
                "stop": ["complaint_acknowledged"],
                "limit": "24h",
            },
        ],
    }
)
AT = datetime(2026, 11, 9, tzinfo=UTC)


def _terms(clock: str) -> ClockTerms:
    policy = next(p for p in SPEC.clocks if p.id == clock)
    return policy.terms_for({}, AT, SPEC)


def test_each_terms_object_gets_its_own_calendar_however_ids_are_reused() -> None:
    """Fresh terms objects, dropped at once (their ids come round again), beyond the memo's
    size: each is answered by what it holds, never by an earlier object's entry."""
    engine = Engine.for_policy(SPEC)
    working, elapsed = _terms("contact"), _terms("first_response")
    shanghai, counted_elapsed = engine._calendar(working), engine._calendar(elapsed)
    assert shanghai is not counted_elapsed
    assert shanghai.working_days(1) != counted_elapsed.working_days(1)
    for n in range(10_000):
        fresh = replace(working if n % 3 else elapsed, standard=f"s{n}")
        assert engine._calendar(fresh) is (shanghai if n % 3 else counted_elapsed)
        assert engine._has_calendar(fresh)


def test_terms_on_a_calendar_the_engine_lacks_name_it() -> None:
    engine = Engine.for_policy(SPEC)
    moved = replace(_terms("contact"), calendar="chengdu")
    assert not engine._has_calendar(moved)
    with pytest.raises(ValueError, match=r"needs calendar 'chengdu'.*it has \['shanghai'\]"):
        engine._calendar(moved)
    assert engine._has_calendar(replace(_terms("first_response"), calendar="chengdu"))
