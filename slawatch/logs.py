"""Logging, configured once at the process edge: structlog for our lines, and for everyone else's.

JSON lines when stderr is not a terminal (or ``SLAWATCH_LOG_FORMAT=json``), the console
renderer on a terminal. Faust, mode, aiokafka and every other stdlib logger go through the same
formatter, so a worker's output is one stream of one format. Bind context (clock, topic,
partition, offset) with ``structlog.contextvars`` or ``log.bind``; never log raw event payloads
or personal data.
"""

from __future__ import annotations

import functools
import logging
import logging.config
import sys
from dataclasses import dataclass
from typing import Any, Literal, TextIO

import orjson
import structlog

__all__ = [
    "LogFormat",
    "NamedWriteLogger",
    "NamedWriteLoggerFactory",
    "RedactPayloads",
    "configure_logging",
    "logging_dict_config",
    "redact_event",
    "resolve_format",
]

LogFormat = Literal["json", "console", "auto"]

#: Libraries that are chatty at INFO; they log at WARNING unless the level is DEBUG.
_QUIET = ("aiokafka", "kafka", "faust.transport", "faust.tables.recovery.Recovery")
#: Libraries whose DEBUG lines hold message bytes (fetch responses, records sent and received):
#: they never log below INFO, whatever SLAWATCH_LOG_LEVEL says.
_PAYLOAD_LOGGERS = ("aiokafka", "kafka", "faust.transport")
#: Type names of objects whose repr shows a message's key or value.
_PAYLOAD_TYPES = ("Record", "Message", "Event", "Response")


#: Types whose values never hold message bytes: returned as they are, without a look.
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _is_payload_type(kind: type) -> bool:
    """Whether ``kind``'s name marks a message-like object (asked once per type)."""
    return any(part in kind.__name__ for part in _PAYLOAD_TYPES)


def _redacted(value: Any) -> Any:
    """``value``, with message bytes and message-like objects replaced by a short description."""
    kind: type = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if _is_payload_type(kind):
        return f"<{kind.__name__}>"
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_redacted(v) for v in value)
    return value


class RedactPayloads(logging.Filter):
    """Keep message bytes out of every log line, at every level, from every library."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            record.args = _redacted(record.args)
        elif record.args:
            record.args = tuple(_redacted(a) for a in record.args)
        if not isinstance(record.msg, str | dict):
            record.msg = _redacted(record.msg)
        # a dict is one of our own structlog lines: ``redact_event`` redacts it when formatted
        return True


def redact_event(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the same redaction for our own lines' values."""
    if all(type(v) in _PLAIN for v in event_dict.values()):
        return event_dict  # the common line: ids, counts, times as text
    return {k: _redacted(v) for k, v in event_dict.items()}


def _orjson_text(obj: Any, default: Any = None, **_: Any) -> str:
    """structlog's JSON serializer: orjson (several times faster than ``json``), as text."""
    return orjson.dumps(obj, default=default).decode()


def resolve_format(fmt: str, stream: Any = None) -> Literal["json", "console"]:
    """``auto`` becomes ``console`` on a terminal and ``json`` otherwise."""
    if fmt in ("json", "console"):
        return fmt  # type: ignore[return-value]
    if fmt != "auto":
        raise ValueError(f"log format must be json, console or auto, got {fmt!r}")
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "console" if callable(isatty) and isatty() else "json"


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(fmt: Literal["json", "console"]) -> Any:
    if fmt == "json":
        return structlog.processors.JSONRenderer(serializer=_orjson_text)
    return structlog.dev.ConsoleRenderer(colors=True)


def logging_dict_config(fmt: str = "auto", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict routing all stdlib logging through structlog.

    Faust's worker takes it as ``logging_config`` so it does not install its own handlers.
    """
    resolved = resolve_format(fmt)
    level_name = level.upper()
    pre_chain = _shared_processors()
    processors: list[Any] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        redact_event,
    ]
    if resolved == "json":
        processors.append(structlog.processors.format_exc_info)
    processors.append(_renderer(resolved))
    quiet_level = "DEBUG" if level_name == "DEBUG" else "WARNING"
    loggers: dict[str, Any] = {name: {"level": quiet_level} for name in _QUIET}
    for name in _PAYLOAD_LOGGERS:
        loggers[name] = {"level": "INFO" if quiet_level == "DEBUG" else quiet_level}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": processors,
                "foreign_pre_chain": pre_chain,
            }
        },
        "filters": {"redact": {"()": RedactPayloads}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level_name, "handlers": ["default"]},
        "loggers": loggers,
    }


class NamedWriteLogger(structlog.WriteLogger):
    """structlog's plain writer, with the name it was asked for (``structlog.get_logger(name)``)
    so ``add_logger_name`` can put it in the line."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


@dataclass(frozen=True)
class NamedWriteLoggerFactory:
    """Makes :class:`NamedWriteLogger` objects writing to ``file``."""

    file: TextIO

    def __call__(self, *args: Any) -> NamedWriteLogger:
        return NamedWriteLogger(self.file, str(args[0]) if args else "slawatch")


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog and stdlib logging once for this process.

    Our own lines are rendered by structlog and written straight to the stream, without a
    stdlib record and handler in between: about 11 µs a line instead of 25 (63 before orjson),
    which matters when 100,000 deadlines pass at once and each breach has its line
    (bench/README.md, storm).
    Library lines go through stdlib logging and the same renderer (:func:`logging_dict_config`).
    """
    out = sys.stderr if stream is None else stream
    config = logging_dict_config(fmt, level)
    config["handlers"]["default"]["stream"] = out
    logging.config.dictConfig(config)
    resolved = resolve_format(fmt, out)
    # the library lines' chain (the stdlib ``extra`` step finds no record here and adds nothing)
    processors: list[Any] = [*_shared_processors(), structlog.processors.StackInfoRenderer()]
    if resolved == "json":
        processors.append(structlog.processors.format_exc_info)
    processors += [redact_event, _renderer(resolved)]
    structlog.configure(
        processors=processors,
        logger_factory=NamedWriteLoggerFactory(out),
        wrapper_class=structlog.make_filtering_bound_logger(_level_number(level)),
        cache_logger_on_first_use=True,
    )


def _level_number(level: str) -> int:
    """``"info"`` -> ``logging.INFO``; ValueError naming the accepted names otherwise."""
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"log level must be debug, info, warning or error, got {level!r}")
    return number
