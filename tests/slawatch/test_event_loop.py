"""The worker's event loop choice: SLAWATCH_EVENT_LOOP, asyncio by default."""

from __future__ import annotations

import pytest

from slawatch.worker import StartupError, event_loop


class TestEventLoop:
    def test_default_is_asyncio(self) -> None:
        """Without the variable the worker runs on the standard loop."""
        assert "asyncio" == event_loop({})

    def test_unknown_name_is_refused_with_the_value(self) -> None:
        """A misspelt loop stops the start with a message naming it."""
        with pytest.raises(StartupError, match="'uvlop'"):
            event_loop({"SLAWATCH_EVENT_LOOP": "uvlop"})

    def test_uvloop_when_asked(self) -> None:
        """The variable selects uvloop, whatever its case."""
        assert "uvloop" == event_loop({"SLAWATCH_EVENT_LOOP": " UVLoop "})
