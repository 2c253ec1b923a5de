"""Worker settings from ``SLAWATCH_*`` environment variables, validated once at start.

Every setting has a default that works on a developer laptop with ``slawatch demo``; a bad
value stops the process with a message naming the variable, the value and what to do.

Example:
    >>> s = Settings.from_env({"SLAWATCH_PARTITIONS": "8"})
    >>> s.partitions, s.broker
    (8, 'kafka://127.0.0.1:19092')
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "TopicNames"]

ENV_PREFIX = "SLAWATCH_"
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class SettingsError(ValueError):
    """One or more ``SLAWATCH_*`` variables are invalid; the message lists each one."""


class TopicNames(BaseModel):
    """Names of the topics slawatch itself reads and writes (design.md, Topics).

    Each can be renamed with ``SLAWATCH_TOPIC_<ROLE>``, e.g. ``SLAWATCH_TOPIC_BREACHES``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: str = "slawatch.events"
    due: str = "slawatch.due"
    warnings: str = "sla.warnings"
    breaches: str = "sla.breaches"
    outcomes: str = "sla.outcomes"
    deadletter: str = "sla.deadletter"
    acks: str = "slawatch.acks"

    @field_validator("*")
    @classmethod
    def _kafka_name(cls, value: str) -> str:
        if not _TOPIC_NAME.match(value):
            raise ValueError("a topic name is 1-249 letters, digits, '.', '_' or '-'")
        return value


class Settings(BaseModel):
    """What one worker process needs to know. Field ``x`` comes from ``SLAWATCH_X``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str = Field("kafka://127.0.0.1:19092", description="Faust broker URL(s)")
    policies: Path = Field(Path("config/policies.yaml"), description="policy file")
    topics: Path = Field(Path("config/topics.yaml"), description="topic mapping file")
    shadow_policies: Path | None = Field(
        None, description="candidate policy judged beside the live one (streams/shadow.py)"
    )
    app_id: str = Field("slawatch", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(4, ge=1, le=1024, description="partitions of internal topics")
    store: str = Field("memory://", description="table store: memory:// or rocksdb://")
    datadir: Path = Field(Path(".slawatch-data"), description="Faust data directory")
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    tansu: bool = Field(False, description="broker is Tansu: highwater fix, short timeouts")
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    timer_max_sleep: float = Field(1.0, gt=0, le=60, description="cap on the due-timer sleep, s")
    standby_replicas: int = Field(1, ge=0, le=8)
    debug_endpoints: bool = Field(True, description="serve /cases/{id} (state JSON)")
    topic_names: TopicNames = Field(default_factory=TopicNames)

    @field_validator("broker")
    @classmethod
    def _kafka_url(cls, value: str) -> str:
        if not value.startswith("kafka://"):
            raise ValueError("use kafka://host:port (several: kafka://h1:9092;h2:9092)")
        return value

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if value.split("://", 1)[0] not in ("memory", "rocksdb"):
            raise ValueError("use memory:// or rocksdb://")
        return value if "://" in value else f"{value}://"

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def bootstrap(self) -> str:
        """The broker list for plain Kafka clients: ``host:port[,host:port]``."""
        return ",".join(part.strip() for part in self.broker[len("kafka://") :].split(";"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``SLAWATCH_*`` variables; raise :class:`SettingsError` naming each bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            if name == "topic_names":
                continue
            key = ENV_PREFIX + name.upper()
            if key in env and env[key] != "":
                values[name] = env[key]
        names = {
            role: env[key]
            for role in TopicNames.model_fields
            if (key := f"{ENV_PREFIX}TOPIC_{role.upper()}") in env and env[key] != ""
        }
        if names:
            values["topic_names"] = names
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            lines = []
            for err in exc.errors():
                loc = [str(part) for part in err["loc"]]
                if loc[:1] == ["topic_names"] and len(loc) > 1:
                    key = f"{ENV_PREFIX}TOPIC_{loc[1].upper()}"
                    bad = str(names.get(loc[1]))
                else:
                    field = loc[0] if loc else "?"
                    key = ENV_PREFIX + field.upper()
                    bad = str(values.get(field))
                lines.append(f"{key}={bad!r}: {err['msg']}")
            raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
