"""Recorded event logs: files read through a topic's mapping into canonical events.

The offline side of a source: ``slawatch replay``, ``slawatch explain`` and ``slawatch
report`` read the same topic mappings the live ingest agent uses, from files instead of
Kafka. A ``.csv`` file's first line is its header; ``.gz`` and ``.zip`` (first member, or
``archive.zip:member``) are read directly. A bad record is counted with its file and line and
the reading goes on.
"""

from __future__ import annotations

import gzip
import heapq
import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic_core import SchemaValidator

from sla.events import Attributes, LifecycleEvent
from sla.readmodels.replay import event_order
from sla.trusted import instance
from sources.mapping import DEFAULT_MAX_BYTES, EventSkipped, MappingError, TopicMapping

__all__ = [
    "REPLAY_EARLIEST",
    "REPLAY_LATEST",
    "DecodeStats",
    "ProgressHook",
    "Source",
    "canonical_events",
    "load_events",
    "parse_sources",
    "read_records",
    "stream_events",
]

#: Refused records quoted with file and line, at most.
_EXAMPLES = 5


@dataclass(frozen=True)
class Source:
    """One input file read through one topic's mapping."""

    path: Path
    topic: str
    mapping: TopicMapping

    @property
    def label(self) -> str:
        return f"{self.topic}={self.path}"


@dataclass
class DecodeStats:
    """What reading the files gave: records read, events decoded, and what was refused."""

    records: int = 0
    decoded: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def refuse(self, source: Source, line: int, error: MappingError) -> None:
        target = self.skipped if isinstance(error, EventSkipped) else self.rejected
        target[f"{source.topic}: {error.reason}"] += 1
        if not isinstance(error, EventSkipped) and len(self.examples) < _EXAMPLES:
            self.examples.append(f"{source.path}:{line}: {error.detail}")

    def fail(self, where: str, reason: str, detail: str) -> None:
        """A record the pipeline could not use for a reason the mapping did not foresee."""
        self.rejected[reason] += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(f"{where}: {detail}")


def parse_sources(inputs: Sequence[str], mappings: dict[str, TopicMapping]) -> list[Source]:
    """``PATH`` (every topic, in file order) or ``TOPIC=PATH`` -> sources.

    Raises:
        ValueError: an unknown topic or a missing file, naming the known topics.
    """
    sources: list[Source] = []
    for item in inputs:
        topic, sep, rest = item.partition("=")
        if sep and topic in mappings:
            topics, path = [topic], Path(rest)
        elif sep and not Path(item).exists():
            known = ", ".join(mappings)
            raise ValueError(f"unknown topic {topic!r} in {item!r}; the topics file has: {known}")
        else:
            topics, path = list(mappings), Path(item)
        if not _archive_path(path).exists():
            raise ValueError(f"input file {path} does not exist")
        sources.extend(Source(path, t, mappings[t]) for t in topics)
    if not sources:
        raise ValueError("give at least one event log file")
    return sources


def _archive_path(path: Path) -> Path:
    """``data.zip:member.csv`` -> ``data.zip``; any other path unchanged."""
    text = str(path)
    if ".zip:" in text:
        return Path(text.split(".zip:", 1)[0] + ".zip")
    return path


def _open(path: Path) -> io.BufferedReader:
    """``path`` for buffered reading: a plain file, a ``.gz`` file or a member of a ``.zip``."""
    text = str(path)
    if ".zip" in text and (text.endswith(".zip") or ".zip:" in text):
        archive = zipfile.ZipFile(_archive_path(path))
        member = text.split(".zip:", 1)[1] if ".zip:" in text else archive.namelist()[0]
        return io.BufferedReader(cast(zipfile.ZipExtFile, archive.open(member)))
    if text.endswith(".gz"):
        return io.BufferedReader(gzip.open(path, "rb"))
    return open(path, "rb")


def read_records(source: Source) -> Iterator[tuple[int, bytes]]:
    """(line number, record bytes) of a file: one JSON object per line, or one CSV record.

    A CSV record runs over several lines while a quoted cell is open (a note holding a line
    break stays one record); it is numbered by its first line. A quote opens a cell only at the
    cell's start, as the csv module reads it: ``5" wide`` in a plain cell is a character, not
    the start of a record that swallows the lines below. A record that grows past the topic's
    ``max_bytes`` (an unclosed quote) is handed over as it is, to be refused as too large, and
    the next line starts a new record. The header line of a CSV file is skipped; blank lines
    are left out.
    """
    if source.mapping.format != "csv":
        yield from _json_lines(source.path)
        return
    layout = getattr(source.mapping, "csv", None)
    cells = _CsvCells(
        (layout.quotechar if layout else '"').encode(), (layout.delimiter if layout else ",")
    )
    limit = getattr(source.mapping, "max_bytes", DEFAULT_MAX_BYTES)
    with _open(source.path) as stream:
        pending, start, open_cell = b"", 0, False
        for number, line in enumerate(stream, start=1):
            if number == 1:
                continue
            if not pending:
                start = number
            pending += line
            open_cell = cells.open_after(line, open_cell)
            if open_cell and len(pending) <= limit:
                continue  # a quoted cell is still open: the record goes on
            record, pending, open_cell = pending.rstrip(b"\r\n"), b"", False
            if record.strip():
                yield start, record
        if pending.strip():
            yield start, pending.rstrip(b"\r\n")  # an unclosed quote: the mapping refuses it


def _json_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with _open(path) as stream:
        for number, line in enumerate(stream, start=1):
            record = line.rstrip(b"\r\n")
            if record.strip():
                yield number, record


@dataclass(frozen=True)
class _CsvCells:
    """Where quoted cells open and close in the lines of a CSV file (the csv module's rules)."""

    quote: bytes
    delimiter: str

    def open_after(self, line: bytes, open_cell: bool) -> bool:
        """Whether a quoted cell is open at the end of ``line``, given it was at its start.

        A quote opens a cell only as the cell's first character; inside a quoted cell a
        doubled quote is one quote character and a single one closes the cell.
        """
        if not open_cell and self.quote not in line:
            return False
        text, quote = line.decode("utf-8", "surrogateescape"), self.quote.decode()
        if not open_cell:
            text = text.removeprefix("\ufeff")  # the mapping drops a BOM starting a record
        at_start, i = not open_cell, 0
        while i < len(text):
            char = text[i]
            if open_cell:
                if char == quote:
                    if text[i + 1 : i + 2] == quote:
                        i += 1  # a doubled quote inside the cell
                    else:
                        open_cell = False
            elif char == quote and at_start:
                open_cell = True
            at_start = char == self.delimiter and not open_cell
            i += 1
        return open_cell


#: Event times replay accepts: it checks no distance from now (old logs are its purpose), but
#: a year-1 or year-9999 time overflows date arithmetic and would move the watermark to the
#: end of time; epoch 0 and earlier are null dates.
REPLAY_EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
REPLAY_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _check_times(event: LifecycleEvent, topic: str) -> None:
    """Refuse times outside :data:`REPLAY_EARLIEST` .. :data:`REPLAY_LATEST`."""
    for name, at in (
        ("occurred_at", event.occurred_at),
        ("promised_by", event.attributes.promised_by),
    ):
        if at is None:
            continue
        try:
            inside = REPLAY_EARLIEST <= at <= REPLAY_LATEST
        except OverflowError:
            inside = False
        if not inside:
            raise MappingError(
                "implausible_timestamp",
                f"field {name} on topic {topic} is {at.isoformat()}, outside "
                f"{REPLAY_EARLIEST:%Y-%m-%d} .. {REPLAY_LATEST:%Y-%m-%d}; check the source's "
                "time field and its unit",
            )


def _decode(
    source: Source, records: Iterable[tuple[int, bytes]], stats: DecodeStats
) -> Iterator[LifecycleEvent]:
    """Decoded events; a bad record is counted with its file and line, and the run goes on."""
    decode = source.mapping.decode
    for number, record in records:
        stats.records += 1
        try:
            event = decode(None, record)
            _check_times(event, source.topic)
        except MappingError as error:
            stats.refuse(source, number, error)
            continue
        except Exception as error:  # a record the mapping did not foresee must not stop a run
            where = f"{source.path}:{number}"
            detail = f"{type(error).__name__}: {error}"
            stats.fail(where, f"{source.topic}: mapping_failed", detail)
            continue
        stats.decoded += 1
        yield event


ProgressHook = Callable[[int], None]


def load_events(
    sources: Sequence[Source], stats: DecodeStats, on_record: ProgressHook | None = None
) -> list[bytes]:
    """Every event of ``sources`` in event-time order, as canonical JSON (compact in memory).

    At equal times the lower ``sequence`` (a topic's ``order_by``) comes first, then the earlier
    source, then the earlier line: a derived "opened" topic listed first starts a case before
    that same record's own update is applied. Events without a sequence go first.
    """
    keyed: list[tuple[float, int, int, bytes]] = []
    seq = 0
    dump = LifecycleEvent.__pydantic_serializer__.to_json  # model_dump_json's bytes, unencoded
    for source in sources:
        for event in _decode(source, _counting(read_records(source), on_record), stats):
            order = -1 if event.sequence is None else event.sequence
            payload = dump(event)
            keyed.append((event.occurred_at.timestamp(), order, seq, payload))
            seq += 1
    keyed.sort(key=lambda item: (item[0], item[1], item[2]))
    return [item[3] for item in keyed]


def _fields_only(schema: Any) -> Any:
    """A core schema that validates like the model's, minus its Python checks, into tuples.

    Each model becomes its ``model-fields`` schema (a ``(values, extra, fields_set)`` tuple):
    pydantic-core uses a model's own prebuilt validator, Python checks included, wherever a
    schema names the model class, so the checks can only be left out without the class.
    """
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("function-after", "function-before"):
            return _fields_only(schema["schema"])
        if kind == "model":
            fields = _fields_only(schema["schema"])
            fields["extra_behavior"] = schema["config"].get("extra_fields_behavior", "ignore")
            return fields
        if kind == "default" and "default_factory" in schema:
            return _fields_only(schema["schema"])  # absent: validated in full instead
        return {key: _fields_only(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_fields_only(item) for item in schema]
    return schema


#: Reads back what :func:`load_events` wrote: the model's core validator without the Python
#: checks (control characters, offsets, bare numbers) those events passed when they were mapped.
_FIELDS = SchemaValidator(_fields_only(LifecycleEvent.__pydantic_core_schema__))


def _read_back(payload: bytes) -> LifecycleEvent:
    """One event of :func:`load_events`' JSON: validated fields, then the two instances."""
    values, extra, fields = _FIELDS.validate_json(payload)
    own, own_extra, own_fields = values["attributes"]
    values["attributes"] = instance(Attributes, own, own_fields, own_extra)
    return instance(LifecycleEvent, values, fields, extra)


def canonical_events(payloads: Iterable[bytes]) -> Iterator[LifecycleEvent]:
    """The events of the canonical JSON :func:`load_events` returns (and only of that JSON).

    Equal to ``LifecycleEvent.model_validate_json`` of each payload, field sets and time
    zone objects included (property-tested); a payload of any other shape is validated.
    """
    validate = LifecycleEvent.model_validate_json
    previous: bytes | None = None
    event: LifecycleEvent | None = None
    for payload in payloads:
        # A log that repeats a record sorts the copies side by side (ServiceNow: 82,000 of
        # 283,000); events are frozen, so the same bytes can share one read.
        if event is None or payload != previous:
            try:
                event = _read_back(payload)
            except ValueError:  # not load_events' JSON: the full validation says why
                event = validate(payload)
            previous = payload
        yield event


def _counting(
    records: Iterator[tuple[int, bytes]], hook: ProgressHook | None
) -> Iterator[tuple[int, bytes]]:
    for item in records:
        if hook is not None:
            hook(1)
        yield item


def stream_events(sources: Sequence[Source], stats: DecodeStats) -> Iterator[LifecycleEvent]:
    """Events of already time-ordered files, merged by time without holding them in memory."""
    streams = [_decode(s, read_records(s), stats) for s in sources]
    return heapq.merge(*streams, key=event_order)
