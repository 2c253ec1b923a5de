"""The canonical lifecycle event every source topic is mapped onto.

Sources differ (a call-centre system, a courier app, a partner's tracking feed); the clocks see
one shape only. The JSON Schema in ``schemas/lifecycle-event.schema.json`` is generated from
:class:`LifecycleEvent`, so the model is the single source of truth.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["AttributeValue", "Attributes", "LifecycleEvent"]

AttributeValue = str | int | float | bool | None


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "occurred_at has no UTC offset; send ISO-8601 with an offset, "
            "e.g. 2026-11-11T09:30:00+08:00"
        )
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_offset)]


class Attributes(BaseModel):
    """What policies filter on and alerts route by. Unknown keys are kept as extra attributes.

    Attributes carry staff and organisation ids, never customer personal data: the topic
    mapping decides what is copied here, and it copies no names, phones or addresses.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    channel: str | None = Field(None, description="phone, email, web, app, ...")
    priority: str | None = Field(None, description="normal, high, expedited, ...")
    product: str | None = Field(None, description="next_day, second_day, expedited, standard, ...")
    region: str | None = Field(None, description="region or province code")
    team: str | None = Field(None, description="owning team id")
    assignee: str | None = Field(None, description="staff id of the case owner (not a name)")
    department: str | None = Field(None, description="responsible department id")
    complaint_class: str | None = Field(None, description="service, transport, loss_damage")
    satisfaction: str | None = Field(
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


class LifecycleEvent(BaseModel):
    """One thing that happened to one case, at the time it happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=1, max_length=200, description="unique per event; dedup key")
    case_id: str = Field(min_length=1, max_length=200, description="the case the event belongs to")
    case_kind: str = Field(min_length=1, max_length=64, description="complaint, shipment, ...")
    event_type: str = Field(min_length=1, max_length=100, description="complaint_registered, ...")
    occurred_at: AwareDatetime = Field(description="ISO-8601 with UTC offset; clocks count from it")
    attributes: Attributes = Field(default_factory=Attributes)
