"""Worker settings from SLAWATCH_* variables."""

from __future__ import annotations

import pytest

from streams.settings import PACKAGE_CONFIG, Settings, SettingsError


class TestSettings:
    """Defaults, parsing, and errors that name the variable."""

    def test_defaults(self) -> None:
        """An empty environment gives the documented defaults."""
        s = Settings.from_env({})

        assert (
            "kafka://127.0.0.1:19092",
            PACKAGE_CONFIG / "policies.yaml",
            PACKAGE_CONFIG / "topics.yaml",
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


class TestAdvertisedUrl:
    def test_reachable_url_for_the_other_workers(self) -> None:
        """Explicit, from host and port, or this host's name when bound to every address."""
        import socket

        assert (
            "http://slawatch-1.slawatch:6066",
            "http://10.0.0.7:7000",
            f"http://{socket.getfqdn()}:6066",
        ) == (
            Settings(web_advertise="http://slawatch-1.slawatch:6066/").advertised_url(),
            Settings(web_host="10.0.0.7", web_port=7000).advertised_url(),
            Settings(web_host="0.0.0.0").advertised_url(),
        )


class TestRetention:
    def test_retention_is_a_duration_with_a_week_by_default(self) -> None:
        """SLAWATCH_RETENTION reads like every duration; unset it is seven days."""
        from datetime import timedelta

        from streams.settings import Settings

        assert (timedelta(days=7), timedelta(minutes=2)) == (
            Settings.from_env({}).retention,
            Settings.from_env({"SLAWATCH_RETENTION": "2m"}).retention,
        )

    def test_a_retention_of_nothing_is_refused(self) -> None:
        """A case must be kept for some time: 0 is refused, naming the variable."""
        import pytest

        from streams.settings import Settings, SettingsError

        with pytest.raises(SettingsError, match="SLAWATCH_RETENTION"):
            Settings.from_env({"SLAWATCH_RETENTION": "0"})
