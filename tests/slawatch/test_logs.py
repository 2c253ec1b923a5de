"""Logging: one structured format for our lines and for library lines."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import structlog

from slawatch.logs import configure_logging, logging_dict_config, resolve_format


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _log_to_buffer(level: str) -> io.StringIO:
    """Configure logging as the worker does, into a buffer; the caller resets it."""
    stream = io.StringIO()
    config = logging_dict_config("json", level)
    config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return stream


class TestResolveFormat:
    """auto picks console on a terminal and JSON elsewhere."""

    def test_auto(self) -> None:
        """A terminal gets console, a pipe gets JSON; explicit choices stay."""
        assert ("console", "json", "json") == (
            resolve_format("auto", _Tty()),
            resolve_format("auto", io.StringIO()),
            resolve_format("json", _Tty()),
        )


class TestJsonLogging:
    """Stdlib records (Faust, aiokafka) and structlog events render as JSON lines."""

    def test_stdlib_and_structlog_lines_are_json(self) -> None:
        """Both kinds of lines parse as JSON with event, level and bound context."""
        stream = _log_to_buffer("info")
        try:
            logging.getLogger("faust.test").warning("hello %s", "world")
            structlog.get_logger("slawatch.test").bind(clock="c1").info("sla_breach", cycle=1)
            lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        finally:
            structlog.reset_defaults()
            logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})

        assert [("hello world", "warning", None), ("sla_breach", "info", "c1")] == [
            (line["event"], line["level"], line.get("clock")) for line in lines
        ]

    def test_values_json_cannot_hold_are_rendered_as_text(self) -> None:
        """A value no JSON type fits (an object, a set) becomes text; the line still parses."""
        stream = _log_to_buffer("info")
        try:
            structlog.get_logger("slawatch.test").info("odd", thing=_Opaque(), tags={"a"})
            line = json.loads(stream.getvalue())
        finally:
            structlog.reset_defaults()
            logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})

        assert ("odd", "<opaque>", "{'a'}") == (line["event"], line["thing"], line["tags"])


class TestWorkerLogging:
    """``configure_logging``, as the worker runs it: our lines and library lines in one stream."""

    def test_one_stream_of_json_lines_filtered_by_level(self) -> None:
        """Our lines (name, level, context) and library lines are JSON; below the level: none."""
        stream = io.StringIO()
        configure_logging("json", "info", stream=stream)
        try:
            log = structlog.get_logger("slawatch.clocks")
            log.debug("hidden", case_id="C-0")
            log.warning("sla_breach", case_id="C-1", value=b"secret bytes")
            logging.getLogger("faust.test").warning("hello %s", "world")
            lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        finally:
            structlog.reset_defaults()
            logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})

        assert [
            ("sla_breach", "warning", "slawatch.clocks", "<12 bytes>"),
            ("hello world", "warning", "faust.test", None),
        ] == [(x["event"], x["level"], x["logger"], x.get("value")) for x in lines]


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


class ConsumerRecord:
    """Stands in for aiokafka's record: its repr shows the message value."""

    def __init__(self, value: bytes) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"ConsumerRecord(value={self.value!r})"


class TestNoMessageBytes:
    """Message bytes stay out of the log at every level, whoever logs them."""

    def test_debug_lines_carry_no_payload(self) -> None:
        """At DEBUG: aiokafka's debug is held back; bytes and records in any line are redacted."""
        payload = b'{"customer":"Zhang San","phone":"13800138000"}'
        stream = _log_to_buffer("debug")
        try:
            logging.getLogger("aiokafka.consumer.fetcher").debug("Fetched %r", payload)
            logging.getLogger("faust.transport.producer").debug("send %s", payload)
            logging.getLogger("faust.agents").debug("value %r", ConsumerRecord(payload))
            logging.getLogger("mode").debug("args %(v)s", {"v": payload})
            structlog.get_logger("slawatch.test").debug("decoded", value=payload)
            text = stream.getvalue()
            lines = [json.loads(line)["event"] for line in text.splitlines()]
        finally:
            structlog.reset_defaults()
            logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})

        assert ("13800138000" in text, "Zhang" in text) == (False, False)
        assert ["value '<ConsumerRecord>'", f"args <{len(payload)} bytes>", "decoded"] == lines
