"""The canonical lifecycle event every source topic is mapped onto.

Sources differ (a call-centre system, a courier app, a partner's tracking feed); the clocks see
one shape only. The JSON Schema in ``schemas/lifecycle-event.schema.json`` is generated from
:class:`LifecycleEvent`, so the model is the single source of truth.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "CONTROL_PATTERN",
    "AttributeValue",
    "Attributes",
    "LifecycleEvent",
    "Printable",
    "set_attributes",
]

AttributeValue = str | int | float | bool | None


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "occurred_at has no UTC offset; send ISO-8601 with an offset, "
            "e.g. 2026-11-11T09:30:00+08:00"
        )
    return value


def _refuse_bare_number(value: object) -> object:
    """A bare number could be seconds or milliseconds since 1970: refuse rather than guess."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError(
            f"is a bare number ({value!r}), ambiguous between seconds and milliseconds since "
            "1970; send ISO-8601 with an offset, or map the field with format: epoch_s or "
            "epoch_ms in the topics file"
        )
    return value


_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")

AwareDatetime = Annotated[
    datetime, BeforeValidator(_refuse_bare_number), AfterValidator(_require_offset)
]

#: Characters an id may not hold: C0 and C1 controls, DEL, the Unicode line separators and
#: the byte-order mark (an invisible U+FEFF makes two ids that look the same differ).
#: A CR/LF in a case id breaks every HTTP header built from it (``Idempotency-Key``) and forges
#: lines in line-oriented logs, so it is refused at the schema rather than escaped downstream.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
#: The same rule for producers that validate against the published JSON Schema (``not`` this
#: pattern: an anchored ``^...$`` would let a trailing newline through in Python's ``re``).
CONTROL_PATTERN = r"[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]"


def _refuse_control(value: str) -> str:
    """Refuse control characters, naming the first one and where it is.

    Every refused character is also one ``str.isprintable`` rejects (categories Cc, Zl, Zp
    and Cf), so a printable value skips the search: every id and value of every event is
    checked here.
    """
    if value.isprintable():
        return value
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"contains control character U+{ord(found.group()):04X} at position {found.start()}; "
            "ids and codes must be printable (remove CR, LF, tabs and other control characters)"
        )
    return value


#: A string with no control characters (ids, codes, attribute values used in headers and logs).
Printable = Annotated[
    str,
    AfterValidator(_refuse_control),
    Field(json_schema_extra={"not": {"pattern": CONTROL_PATTERN}}),
]


class Attributes(BaseModel):
    """What policies filter on and alerts route by. Unknown keys are kept as extra attributes.

    Attributes carry staff and organisation ids, never customer personal data: the topic
    mapping decides what is copied here, and it copies no names, phones or addresses.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    channel: Printable | None = Field(None, description="phone, email, web, app, ...")
    priority: Printable | None = Field(None, description="normal, high, expedited, ...")
    product: Printable | None = Field(
        None, description="next_day, second_day, expedited, standard, ..."
    )
    region: Printable | None = Field(None, description="region or province code")
    team: Printable | None = Field(None, description="owning team id")
    assignee: Printable | None = Field(None, description="staff id of the case owner (not a name)")
    department: Printable | None = Field(None, description="responsible department id")
    complaint_class: Printable | None = Field(None, description="service, transport, loss_damage")
    satisfaction: Printable | None = Field(
        None,
        description="very_satisfied, relatively_satisfied, basically_satisfied, "
        "dissatisfied, very_dissatisfied",
    )
    promised_by: AwareDatetime | None = Field(None, description="promised time, with offset")

    def get(self, name: str) -> Any:
        """The attribute ``name``, declared or extra, or None."""
        if name in type(self).model_fields:
            return getattr(self, name)
        return (self.model_extra or {}).get(name)


_PLAIN = (str, int, float, bool)


def set_attributes(attributes: Attributes) -> dict[str, Any]:
    """``attributes.model_dump(exclude_none=True)``, read straight from the model.

    Declared attributes first, then the extras, as ``model_dump`` orders them; an extra that
    is not a plain scalar (never so from JSON) goes through ``model_dump`` itself. The engine
    and replay read every event's attributes, and ``model_dump`` costs several times this.
    """
    values = {k: v for k, v in attributes.__dict__.items() if v is not None}
    for key, value in (attributes.__pydantic_extra__ or {}).items():
        if value is not None:
            if type(value) not in _PLAIN:
                return attributes.model_dump(exclude_none=True)
            values[key] = value
    return values


class LifecycleEvent(BaseModel):
    """One thing that happened to one case, at the time it happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: Printable = Field(
        min_length=1, max_length=200, description="unique per event; dedup key"
    )
    case_id: Printable = Field(
        min_length=1, max_length=200, description="the case the event belongs to"
    )
    case_kind: Printable = Field(
        min_length=1, max_length=64, description="complaint, shipment, ..."
    )
    event_type: Printable = Field(
        min_length=1, max_length=100, description="complaint_registered, ..."
    )
    occurred_at: AwareDatetime = Field(description="ISO-8601 with UTC offset; clocks count from it")
    sequence: int | None = Field(
        None,
        description="orders a case's events that share occurred_at (a modification counter, "
        "an event index): lower first; never overrides occurred_at",
    )
    attributes: Attributes = Field(default_factory=Attributes)
