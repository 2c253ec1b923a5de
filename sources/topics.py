"""The topics file: which source topics slawatch reads and how each maps onto the canonical event.

A platform team connects a feed by adding an entry to ``config/topics.yaml`` and restarting the
worker; no code changes. :func:`load_topics` validates the whole file at once and reports every
mistake as ``file:line: field: message``; :meth:`TopicSpec.mapping_for` builds the pure
:class:`~sources.mapping.TopicMapping` the ingest agent (and replay) decode with.

The reference of every key is ``docs/reference/topics.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sla.config_file import load_model
from sla.zones import ZoneName
from sources.mapping import (
    CANONICAL_FIELDS,
    DEFAULT_MAX_BYTES,
    CsvFormat,
    FieldRule,
    TimestampFormat,
    TopicMapping,
    looks_personal,
    parse_path,
)

__all__ = [
    "CsvSpec",
    "FieldSpec",
    "FieldsSpec",
    "TopicSpec",
    "TopicsConfig",
    "load_topics",
    "topics_summary",
]

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_ATTRIBUTE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """Where one value comes from: a ``path`` into the message or a ``const``.

    A plain string in the file is shorthand for ``{path: ...}``. ``format`` marks a timestamp
    (``iso8601``, ``epoch_s``, ``epoch_ms`` or a ``strptime`` pattern such as
    ``%Y-%m-%d %H:%M:%S``); ``timezone`` is applied to naive times.
    """

    path: str | None = None
    const: str | None = None
    join: list[str] | None = Field(
        None, min_length=2, description="several paths whose values are joined into one text"
    )
    separator: str = Field("/", description="between the joined values")
    format: str | None = None
    timezone: ZoneName | None = None
    required: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.startswith("$"):
                raise ValueError(
                    f"expected a field path such as '$.status', got {value!r}; "
                    "for a constant write {const: " + value + "}"
                )
            return {"path": value}
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value

    @field_validator("join")
    @classmethod
    def _paths(cls, value: list[str] | None) -> list[str] | None:
        for path in value or []:
            parse_path(path)
        return value

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if (
            value is not None
            and value not in ("iso8601", "epoch_s", "epoch_ms")
            and "%" not in value
        ):
            raise ValueError(
                f"unknown timestamp format {value!r}; use iso8601, epoch_s, epoch_ms or a "
                "strptime pattern such as '%Y-%m-%d %H:%M:%S'"
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if sum(x is not None for x in (self.path, self.const, self.join)) != 1:
            raise ValueError("give exactly one of path, const or join")
        if self.join is not None and self.format is not None:
            raise ValueError("join builds a text; it cannot be a timestamp (drop format)")
        pattern = self.format is not None and "%" in self.format
        if pattern and "%z" not in (self.format or "") and self.timezone is None:
            raise ValueError(
                f"format {self.format!r} has no %z offset, so timezone is required "
                "(e.g. timezone: Asia/Shanghai)"
            )
        return self

    def rule(self, *, timestamp: bool = False) -> FieldRule:
        """The runtime rule; ``timestamp`` forces time parsing (ISO-8601 unless ``format``)."""
        stamp = None
        if self.format is not None or timestamp:
            stamp = TimestampFormat(format=self.format or "iso8601", timezone=self.timezone)
        path = parse_path(self.path) if self.path is not None else None
        joined = tuple(parse_path(p) for p in self.join or ())
        return FieldRule(
            path=path,
            const=self.const,
            timestamp=stamp,
            required=self.required,
            join=joined,
            separator=self.separator,
        )


class FieldsSpec(_Strict):
    """Where the canonical fields and the attributes of a foreign message are found."""

    event_id: FieldSpec | None = None
    case_id: FieldSpec | None = None
    case_kind: FieldSpec | None = None
    event_type: FieldSpec | None = None
    occurred_at: FieldSpec | None = None
    attributes: dict[str, FieldSpec] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _names(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for name in value:
            if not _ATTRIBUTE_NAME.match(name):
                raise ValueError(
                    f"attribute name {name!r} must be lower_snake_case (letters, digits, _)"
                )
        _refuse_personal(value)
        return value


def _refuse_personal(names: Iterable[str]) -> None:
    """Attributes reach logs, metrics and alerts: a personal-looking name is a config error."""
    personal = [name for name in names if looks_personal(name)]
    if personal:
        raise ValueError(
            f"attribute {personal[0]!r} looks like personal data (a name, phone, address or "
            "id number); attributes reach logs, metrics and alerts, so map staff or "
            "organisation ids and codes instead"
        )


#: The most ``max_bytes`` may be (64 MiB): Kafka's own default is 1 MiB, and a replay holds one
#: record of this size in memory while a quoted cell is open.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class CsvSpec(_Strict):
    """The layout of a topic whose messages are single CSV records without a header line."""

    columns: list[str] = Field(min_length=1)
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    null_values: list[str] = Field(
        default_factory=list, description='cells meaning "no value" besides the empty one'
    )

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen = [c for i, c in enumerate(value) if c in value[:i]]
        if seen:
            raise ValueError(f"column {seen[0]!r} is named twice")
        return value

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _not_a_line_break(cls, value: str) -> str:
        if value in "\r\n":
            raise ValueError(f"{value!r} ends a line; a CSV record needs it as a line break")
        return value

    @model_validator(mode="after")
    def _delimiter_is_not_the_quote(self) -> CsvSpec:
        if self.delimiter == self.quotechar:
            raise ValueError(
                f"delimiter and quotechar are both {self.delimiter!r}: no record could be read; "
                "give them different characters"
            )
        return self


class TopicSpec(_Strict):
    """One source topic and its mapping.

    ``mapping: canonical`` (the default when there are no ``fields``) means messages already
    are canonical events; otherwise ``fields`` maps a foreign message.
    """

    name: str
    description: str = ""
    format: Literal["json", "csv"] = "json"
    csv: CsvSpec | None = None
    mapping: Literal["canonical", "fields"] | None = None
    case_kind: str | None = Field(None, min_length=1, max_length=64)
    fields: FieldsSpec | None = None
    event_types: dict[str, str] = Field(default_factory=dict)
    unmapped: Literal["keep", "drop", "deadletter"] = "keep"
    event_id_from: list[Literal["case_id", "case_kind", "event_type", "occurred_at"]] | None = None
    max_bytes: int = Field(
        DEFAULT_MAX_BYTES,
        gt=0,
        le=MAX_MESSAGE_BYTES,
        description="larger messages are dead-lettered; also the longest CSV record a replay reads",
    )
    order_by: FieldSpec | None = Field(
        None,
        description="an integer field (a modification counter, an event index) that orders a "
        "case's events sharing a time; mapping: fields only",
    )
    extra_attributes: list[str] | None = Field(
        None, description="canonical topics: undeclared attribute names to keep (None: none)"
    )
    keyed_by_case: bool = Field(
        False,
        description=(
            "messages are keyed by the raw case id bytes and the topic has the events topic's "
            "partition count, so the clock agent reads it directly (no re-key hop)"
        ),
    )

    @field_validator("extra_attributes")
    @classmethod
    def _extra_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            _refuse_personal(value)
        return value

    @field_validator("name")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        if not _TOPIC_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a Kafka topic name (letters, digits, '.', '_', '-'; "
                "at most 249 characters)"
            )
        return value

    @property
    def kind(self) -> Literal["canonical", "fields"]:
        """``canonical`` or ``fields``, after applying the default."""
        if self.mapping is not None:
            return self.mapping
        return "fields" if self.fields is not None else "canonical"

    @model_validator(mode="after")
    def _consistent(self) -> TopicSpec:
        problems = []
        if self.format == "csv" and self.csv is None:
            problems.append("format csv needs csv.columns (the names of the record's columns)")
        if self.format == "json" and self.csv is not None:
            problems.append("csv is only for format: csv")
        if self.kind == "canonical":
            if self.fields is not None:
                problems.append(
                    "mapping canonical takes no fields; drop them or use mapping: fields"
                )
            if self.format != "json":
                problems.append("mapping canonical needs format json")
            if self.event_id_from:
                problems.append("event_id_from is only for mapping: fields")
            if self.order_by is not None:
                problems.append(
                    "order_by is only for mapping: fields (canonical events carry `sequence`)"
                )
            if self.case_kind is not None:
                problems.append("case_kind is only for mapping: fields (canonical events carry it)")
        elif self.extra_attributes is not None:
            problems.append(
                "extra_attributes is only for mapping: canonical; list fields.attributes"
            )
        else:
            problems.extend(self._missing_fields())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _missing_fields(self) -> list[str]:
        fields = self.fields or FieldsSpec()
        missing = [
            f"fields.{name} is required"
            for name in ("case_id", "event_type", "occurred_at")
            if getattr(fields, name) is None
        ]
        if fields.event_id is None and not self.event_id_from:
            missing.append("fields.event_id (or event_id_from) is required")
        if fields.case_kind is None and self.case_kind is None:
            missing.append("case_kind (a constant) or fields.case_kind is required")
        return missing

    def mapping_for(self) -> TopicMapping:
        """The pure runtime mapping for this topic."""
        csv = None
        if self.csv is not None:
            csv = CsvFormat(
                tuple(self.csv.columns),
                self.csv.delimiter,
                self.csv.quotechar,
                frozenset(self.csv.null_values),
            )
        common: dict[str, Any] = {
            "topic": self.name,
            "format": self.format,
            "event_types": dict(self.event_types),
            "unmapped": self.unmapped,
            "csv": csv,
            "max_bytes": self.max_bytes,
        }
        if self.kind == "canonical":
            extra = frozenset(self.extra_attributes or ())
            return TopicMapping(canonical=True, extra_attributes=extra, **common)
        fields = self.fields or FieldsSpec()
        rules = {
            name: spec.rule(timestamp=name == "occurred_at")
            for name in ("event_id", *CANONICAL_FIELDS)
            if (spec := getattr(fields, name)) is not None
        }
        return TopicMapping(
            canonical=False,
            case_kind=self.case_kind if fields.case_kind is None else None,
            fields=rules,
            attributes={name: spec.rule() for name, spec in fields.attributes.items()},
            event_id_from=tuple(self.event_id_from or ()),
            order_by=None if self.order_by is None else self.order_by.rule(),
            **common,
        )


class TopicsConfig(_Strict):
    """A whole topics file."""

    version: Literal[1]
    topics: list[TopicSpec] = Field(min_length=1)

    @field_validator("topics")
    @classmethod
    def _unique_names(cls, value: list[TopicSpec]) -> list[TopicSpec]:
        first: dict[str, int] = {}
        for i, topic in enumerate(value):
            if topic.name in first:
                raise ValueError(
                    f"topic {topic.name!r} is listed twice (topics[{first[topic.name]}] and "
                    f"topics[{i}]); keep one entry per topic"
                )
            first[topic.name] = i
        return value

    def names(self) -> list[str]:
        """The source topic names, in file order."""
        return [topic.name for topic in self.topics]

    def mappings(self) -> dict[str, TopicMapping]:
        """Topic name -> runtime mapping."""
        return {topic.name: topic.mapping_for() for topic in self.topics}


def load_topics(path: Path | str) -> TopicsConfig:
    """Read and check a topics file.

    Raises:
        sla.config_file.ConfigError: listing every mistake as ``file:line: field: message``.
    """
    config, _ = load_model(Path(path), TopicsConfig)
    return config


def topics_summary(config: TopicsConfig) -> list[dict[str, str]]:
    """One row per topic for ``slawatch check-config``: name, format, mapping, what it maps."""
    rows = []
    for topic in config.topics:
        fields = topic.fields or FieldsSpec()
        if topic.kind == "canonical":
            case_kind = "(from message)"
        else:
            case_kind = (
                topic.case_kind or f"path {fields.case_kind.path if fields.case_kind else ''}"
            )
        renames = f"{len(topic.event_types)} renamed" if topic.event_types else "as sent"
        if topic.event_types:
            renames += f", unmapped: {topic.unmapped}"
        rows.append(
            {
                "topic": topic.name,
                "format": topic.format,
                "mapping": topic.kind,
                "case_kind": case_kind,
                "event_types": renames,
                "attributes": ", ".join(fields.attributes) if topic.kind == "fields" else "(all)",
            }
        )
    return rows
