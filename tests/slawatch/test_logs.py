"""Logging: one structured format for our lines and for library lines."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import structlog

from slawatch.logs import logging_dict_config, resolve_format


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


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
        stream = io.StringIO()
        config = logging_dict_config("json", "info")
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
