"""The ``__init__`` written out on the engine's value classes matches their dataclass fields.

They are written by hand so mypyc compiles them (sla/effects.py); a field added to a class but
not to its ``__init__`` (or in another order, or with another default) must fail here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sla.case import CaseEvent, CaseState, ClockTrack, EndedCycle, Orphan
from sla.clock import Closing, Cycle, Due, Mark
from sla.effects import (
    Breached,
    BreachRetracted,
    ClockEnded,
    ClockStarted,
    EventIgnored,
    WarningDue,
)
from sla.engine import Step
from sla.readmodels.replay import Emitted, _Open
from sla.records import BreachRecord

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = [
    ClockStarted, WarningDue, Breached, BreachRetracted, ClockEnded, EventIgnored,
    Mark, Due, Closing, Cycle, CaseEvent, Orphan, EndedCycle, ClockTrack, CaseState,
    Step, Emitted, _Open,
]  # fmt: skip


def written_init(cls: type) -> ast.FunctionDef:
    """The ``__init__`` in the class's source (read from the file: compiled code has none)."""
    module = inspect.getmodule(cls)
    assert module is not None
    name = module.__name__.replace(".", "/") + ".py"
    tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return item
    raise AssertionError(f"{cls.__name__} has no __init__ written out")


def has_default(field: dataclasses.Field[Any]) -> bool:
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


@pytest.mark.parametrize("cls", WRITTEN, ids=lambda c: c.__name__)
def test_parameters_are_the_init_fields_in_order(cls: type) -> None:
    init = written_init(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    params = [a.arg for a in init.args.args[1:]]
    assert [f.name for f in fields] == params
    with_default = params[len(params) - len(init.args.defaults) :]
    assert [f.name for f in fields if has_default(f)] == with_default


@pytest.mark.parametrize("cls", WRITTEN, ids=lambda c: c.__name__)
def test_defaults_are_the_fields_defaults(cls: type) -> None:
    """A plain default is the field's; a default factory's field defaults to None, made anew."""
    init = written_init(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    params = [a.arg for a in init.args.args[1:]]
    defaulted = params[len(params) - len(init.args.defaults) :]
    for name, default in zip(defaulted, init.args.defaults, strict=True):
        assert isinstance(default, ast.Constant), name
        field = fields[name]
        expected = None if field.default is dataclasses.MISSING else field.default
        assert default.value == expected, name


@pytest.mark.parametrize("cls", WRITTEN, ids=lambda c: c.__name__)
def test_each_argument_lands_in_its_field(cls: type) -> None:
    """Every parameter is stored in the field of its name (``self.x = ...x...`` or, frozen,
    ``object.__setattr__(self, "x", ...x...)``)."""
    init = written_init(cls)
    stored: dict[str, set[str]] = {}
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute):
            stored[node.targets[0].attr] = names_in(node.value)
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "object.__setattr__"
            and isinstance(node.args[1], ast.Constant)
        ):
            stored[node.args[1].value] = names_in(node.args[2])
    for param in (a.arg for a in init.args.args[1:]):
        assert param in stored.get(param, set()), f"{cls.__name__}.{param} is not stored"


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def test_a_default_container_is_new_for_each_instance() -> None:
    one, other = CaseState("C-1", "complaint"), CaseState("C-2", "complaint")
    one.seen.append("e-1")
    assert [] == other.seen


def test_checked_effects_still_refuse_the_wrong_record() -> None:
    with pytest.raises(ValueError, match="type 'breach'"):
        Breached(breach("breach_retracted"))
    with pytest.raises(ValueError, match="type 'breach_retracted'"):
        BreachRetracted(breach("breach"))
    assert "breach" == Breached(breach("breach")).record.type


def test_frozen_classes_stay_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        EventIgnored("duplicate", "e-1").reason = "other"  # type: ignore[misc]


def breach(kind: str) -> BreachRecord:
    at = datetime(2026, 12, 7, tzinfo=UTC)
    return BreachRecord(
        case_id="C-1", case_kind="complaint", clock="c", cycle=1, policy_version="v1",
        standard="s", target=0.9, type=kind, breach_id="b", started_at=at, deadline=at,
        emitted_at=at,
    )  # fmt: skip
