"""Worker settings from SLAWATCH_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from slawatch.settings import Settings, SettingsError


class TestSettings:
    """Defaults, parsing, and errors that name the variable."""

    def test_defaults(self) -> None:
        """An empty environment gives the documented defaults."""
        s = Settings.from_env({})

        assert (
            "kafka://127.0.0.1:19092",
            Path("config/policies.yaml"),
            Path("config/topics.yaml"),
            "slawatch",
            4,
            "memory://",
            6066,
            False,
            1.0,
            "sla.breaches",
        ) == (
            s.broker,
            s.policies,
            s.topics,
            s.app_id,
            s.partitions,
            s.store,
            s.web_port,
            s.tansu,
            s.timer_max_sleep,
            s.topic_names.breaches,
        )

    def test_values_are_parsed(self) -> None:
        """Numbers, booleans, stores and topic names come from their variables."""
        s = Settings.from_env(
            {
                "SLAWATCH_PARTITIONS": "8",
                "SLAWATCH_TANSU": "1",
                "SLAWATCH_STORE": "rocksdb://",
                "SLAWATCH_LOG_FORMAT": "JSON",
                "SLAWATCH_TOPIC_BREACHES": "x.breaches",
                "SLAWATCH_BROKER": "kafka://h1:9092;h2:9092",
            }
        )

        assert (8, True, "rocksdb://", "json", "x.breaches", "h1:9092,h2:9092") == (
            s.partitions,
            s.tansu,
            s.store,
            s.log_format,
            s.topic_names.breaches,
            s.bootstrap,
        )

    def test_every_bad_variable_is_named(self) -> None:
        """One error lists each bad variable with its value."""
        with pytest.raises(SettingsError) as info:
            Settings.from_env(
                {
                    "SLAWATCH_PARTITIONS": "zero",
                    "SLAWATCH_STORE": "redis://",
                    "SLAWATCH_TOPIC_DUE": "bad name",
                }
            )
        message = str(info.value)

        assert [
            "SLAWATCH_PARTITIONS='zero'",
            "SLAWATCH_STORE='redis://'",
            "SLAWATCH_TOPIC_DUE='bad name'",
        ] == [
            part
            for part in (
                "SLAWATCH_PARTITIONS='zero'",
                "SLAWATCH_STORE='redis://'",
                "SLAWATCH_TOPIC_DUE='bad name'",
            )
            if part in message
        ]
