"""Pydantic instances built from values slawatch already checked, without validating them again.

Validation belongs at the edge (a config file, a decoded event). The engine's records are built
from values it computed itself, each already of its field's type: validating them again cost
about 5 µs a record, 7-8 % of a replay (py-spy ``--native``, bench/README.md 2026-12-07). The
instances built here are the ones validation would build from the same values (same ``__dict__``,
same fields set), so they compare, hash and serialise alike (tested).
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from pydantic import BaseModel

__all__ = ["instance", "record"]

M = TypeVar("M", bound=BaseModel)

_REQUIRED: Final[Any] = object()
#: Every field in declaration order with its default or _REQUIRED, the required names, every
#: name, every name in declaration order.
_Layout = tuple[dict[str, Any], frozenset[str], frozenset[str], tuple[str, ...]]
#: Model class -> its :data:`_Layout`.
_layouts: Final[dict[type[BaseModel], _Layout]] = {}


def instance(
    cls: type[M],
    values: dict[str, Any],
    fields_set: set[str],
    extra: dict[str, Any] | None = None,
) -> M:
    """An instance of ``cls`` whose ``__dict__`` is ``values`` (every field, in field order).

    What pydantic's own model validator does after validating: ``values`` is taken as it is.
    """
    made = cls.__new__(cls)
    object.__setattr__(made, "__dict__", values)
    object.__setattr__(made, "__pydantic_extra__", extra)
    object.__setattr__(made, "__pydantic_fields_set__", fields_set)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


def record(cls: type[M], values: dict[str, Any]) -> M:
    """``cls(**values)`` for values of the right types already: the defaults filled in.

    ``values`` naming every field in field order becomes the instance's ``__dict__`` as it
    is (the engine's records do: merging them into the defaults cost about 6,000
    instructions a record); pass a dict of your own.

    Raises:
        TypeError: a required field is missing or a name is not a field (a programming error;
            the values' types are not checked, which is the point).
    """
    layout = _layouts.get(cls)
    if layout is None:
        layout = _layouts[cls] = _layout(cls)
    template, required, names, order = layout
    if len(values) == len(order) and _in_field_order(values, order):
        return instance(cls, values, set(values))
    data = dict(template)
    data.update(values)
    # Only names of fields: nothing was added. Every required field given: no marker left.
    # (Checked on the merged dict, a compiled loop: comparing the key sets took 2,500
    # instructions a record.)
    if len(data) != len(template) or _unfilled(data):
        missing = sorted(name for name in required if name not in values)
        unknown = sorted(name for name in values if name not in names)
        raise TypeError(f"{cls.__name__}: missing fields {missing}, unknown fields {unknown}")
    return instance(cls, data, set(values))


def _in_field_order(values: dict[str, Any], order: tuple[str, ...]) -> bool:
    """Whether the keys of ``values`` are ``order`` (as many of them, it is checked before)."""
    for index, key in enumerate(values):  # noqa: SIM110  (a loop: measured cheaper compiled)
        if key != order[index]:
            return False
    return True


def _unfilled(data: dict[str, Any]) -> bool:
    """Whether a required field of the template was left unset."""
    for value in data.values():  # noqa: SIM110  (as above)
        if value is _REQUIRED:
            return True
    return False


def _layout(cls: type[BaseModel]) -> _Layout:
    template: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if info.default_factory is not None:
            raise TypeError(f"{cls.__name__}.{name} has a default factory; build it validated")
        template[name] = _REQUIRED if info.is_required() else info.default
    required = frozenset(n for n, v in template.items() if v is _REQUIRED)
    return template, required, frozenset(template), tuple(template)
