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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ENV_PREFIX",
    "PACKAGE_CONFIG",
    "SASL_PROTOCOLS",
    "SSL_PROTOCOLS",
    "WORKER_URL_ENV",
    "CommandDefaults",
    "Settings",
    "SettingsError",
    "TopicNames",
]

ENV_PREFIX = "SLAWATCH_"
#: The worker ``slawatch explain`` asks when given no log files (commands only; the worker
#: itself serves on SLAWATCH_WEB_HOST/SLAWATCH_WEB_PORT).
WORKER_URL_ENV = "SLAWATCH_WORKER_URL"
#: The installed package's default configuration (``slawatch/config`` links to the
#: repository's ``config/`` and is installed with the package), so no default depends on the
#: current directory.
PACKAGE_CONFIG = Path(__file__).parents[1] / "slawatch" / "config"
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
#: Kafka security protocols that authenticate with SASL, and those that encrypt with TLS.
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
SSL_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


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
    policies: Path = Field(PACKAGE_CONFIG / "policies.yaml", description="policy file")
    topics: Path = Field(PACKAGE_CONFIG / "topics.yaml", description="topic mapping file")
    shadow_policies: Path | None = Field(
        None, description="candidate policy judged beside the live one (streams/shadow.py)"
    )
    app_id: str = Field("slawatch", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(4, ge=1, le=1024, description="partitions of internal topics")
    store: str = Field("memory://", description="table store: memory:// or rocksdb://")
    datadir: Path = Field(Path(".slawatch-data"), description="Faust data directory")
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    web_advertise: str | None = Field(
        None,
        description="URL the other workers reach this one at (forwarding, the worklist); "
        "default http://WEB_HOST:WEB_PORT, or this host's name when WEB_HOST is 0.0.0.0",
    )
    tansu: bool = Field(False, description="broker is Tansu: highwater fix, short timeouts")
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    timer_max_sleep: float = Field(1.0, gt=0, le=60, description="cap on the due-timer sleep, s")
    standby_replicas: int = Field(1, ge=0, le=8)
    debug_endpoints: bool = Field(
        False, description="serve /cases/{id} and /cases/{id}/explain (case state, no auth)"
    )
    ack_base_url: str | None = Field(
        None, description="public URL of the workers for ack links, unless the alerts file sets one"
    )
    allow_loopback_ack_links: bool = Field(
        False, description="ack links may point at localhost (the demo and tests only)"
    )
    event_max_age: timedelta | None = Field(
        timedelta(days=365),
        description="older event times are dead-lettered as implausible_timestamp; off: no limit",
    )
    event_max_future: timedelta | None = Field(
        timedelta(hours=1),
        description="event times further ahead are dead-lettered as implausible_timestamp",
    )
    retention: timedelta = Field(
        timedelta(days=7),
        description="how long a case with no open clock is kept after its last event",
    )
    topic_names: TopicNames = Field(default_factory=TopicNames)
    reevaluate: bool = Field(
        False, description="re-judge running cycles of an older policy version by this one"
    )
    replication_factor: int = Field(1, ge=1, le=32, description="of the topics slawatch creates")
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = Field(None, description="never logged or printed")
    kafka_sasl_password_file: Path | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

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

    @field_validator("event_max_age", "event_max_future", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """``365d``, ``1h``, ``90m`` (sla.limits.parse_duration); ``off`` or ``0``: no limit."""
        if not isinstance(value, str):
            return value
        if value.strip().lower() in ("off", "none", "0"):
            return None
        from sla.limits import parse_duration

        return parse_duration(value)

    @field_validator("retention", mode="before")
    @classmethod
    def _retention(cls, value: object) -> object:
        """``7d``, ``36h``: a duration (sla.limits.parse_duration), never off."""
        if not isinstance(value, str):
            return value
        from sla.limits import parse_duration

        return parse_duration(value)

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kafka_security(self) -> Settings:
        """Refuse combinations the broker connection cannot use, naming the variables."""
        problems = _kafka_security_problems(self)
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    def kafka_sasl_secret(self) -> str | None:
        """The SASL password, from ``SLAWATCH_KAFKA_SASL_PASSWORD`` or its file; None without SASL.

        Read when the clients are built, so a rotated file is picked up by the next restart;
        the value is never kept in the settings, their ``repr`` or a log line.
        """
        if self.kafka_security_protocol not in SASL_PROTOCOLS:
            return None
        if self.kafka_sasl_password is not None:
            return self.kafka_sasl_password.get_secret_value()
        if self.kafka_sasl_password_file is None:
            return None
        return self.kafka_sasl_password_file.read_text(encoding="utf-8").rstrip("\r\n")

    @property
    def bootstrap(self) -> str:
        """The broker list for plain Kafka clients: ``host:port[,host:port]``."""
        return ",".join(part.strip() for part in self.broker[len("kafka://") :].split(";"))

    def advertised_url(self) -> str:
        """The URL the other workers of the group reach this one at.

        >>> Settings(web_port=7000).advertised_url()
        'http://127.0.0.1:7000'
        """
        if self.web_advertise:
            return self.web_advertise.rstrip("/")
        host = self.web_host
        if host in ("0.0.0.0", "::", ""):
            import socket

            host = socket.getfqdn()
        return f"http://{host}:{self.web_port}"

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
                if not loc:  # a check across several variables names them in its message
                    lines.append(str(err["msg"]).removeprefix("Value error, "))
                    continue
                if loc[:1] == ["topic_names"] and len(loc) > 1:
                    key = f"{ENV_PREFIX}TOPIC_{loc[1].upper()}"
                    bad = str(names.get(loc[1]))
                else:
                    field = loc[0] if loc else "?"
                    key = ENV_PREFIX + field.upper()
                    bad = str(values.get(field))
                lines.append(f"{key}={bad!r}: {err['msg']}")
            raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


def _kafka_security_problems(s: Settings) -> list[str]:
    """What is wrong with the Kafka security variables taken together (empty: nothing)."""
    env = ENV_PREFIX + "KAFKA_"
    protocol = s.kafka_security_protocol
    problems: list[str] = []
    sasl_given = [
        f"{env}{name.upper()}"
        for name, value in (
            ("sasl_username", s.kafka_sasl_username),
            ("sasl_password", s.kafka_sasl_password),
            ("sasl_password_file", s.kafka_sasl_password_file),
        )
        if value is not None
    ]
    if protocol in SASL_PROTOCOLS:
        if not s.kafka_sasl_username:
            problems.append(f"{env}SECURITY_PROTOCOL={protocol} needs {env}SASL_USERNAME")
        if s.kafka_sasl_password is not None and s.kafka_sasl_password_file is not None:
            problems.append(f"set {env}SASL_PASSWORD or {env}SASL_PASSWORD_FILE, not both")
        elif s.kafka_sasl_password_file is not None:
            problems += _secret_file_problems(
                f"{env}SASL_PASSWORD_FILE", s.kafka_sasl_password_file
            )
        elif s.kafka_sasl_password is None or not s.kafka_sasl_password.get_secret_value():
            problems.append(
                f"{env}SECURITY_PROTOCOL={protocol} needs {env}SASL_PASSWORD or "
                f"{env}SASL_PASSWORD_FILE (a file holding the password)"
            )
    elif sasl_given:
        problems.append(
            f"{', '.join(sasl_given)} given but {env}SECURITY_PROTOCOL={protocol}; "
            "set it to SASL_SSL (or SASL_PLAINTEXT) to authenticate"
        )
    files = {
        "SSL_CAFILE": s.kafka_ssl_cafile,
        "SSL_CERTFILE": s.kafka_ssl_certfile,
        "SSL_KEYFILE": s.kafka_ssl_keyfile,
    }
    given = {name: path for name, path in files.items() if path is not None}
    if given and protocol not in SSL_PROTOCOLS:
        problems.append(
            f"{', '.join(env + n for n in given)} given but {env}SECURITY_PROTOCOL={protocol}; "
            "set it to SSL or SASL_SSL to use TLS"
        )
    for name, path in given.items():
        if not path.is_file():
            problems.append(f"{env}{name}={str(path)!r}: no such file")
    if s.kafka_ssl_keyfile is not None and s.kafka_ssl_certfile is None:
        problems.append(f"{env}SSL_KEYFILE needs {env}SSL_CERTFILE (the client certificate)")
    return problems


def _secret_file_problems(variable: str, path: Path) -> list[str]:
    """A secret file must exist, be readable and hold something; never says what it holds."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [f"{variable}={str(path)!r}: cannot read it ({exc.strerror or exc})"]
    if not text.strip():
        return [f"{variable}={str(path)!r}: the file is empty"]
    return []


@dataclass(frozen=True)
class CommandDefaults:
    """What the commands take when an option is not given: the worker's ``SLAWATCH_*`` settings.

    Every command reads the same variables as the worker (``SLAWATCH_POLICIES``,
    ``SLAWATCH_TOPICS``, ``SLAWATCH_ALERTS``, ``SLAWATCH_BROKER``, ``SLAWATCH_TOPIC_OUTCOMES``,
    ``SLAWATCH_WEB_HOST``/``SLAWATCH_WEB_PORT``, and ``SLAWATCH_WORKER_URL`` for a worker
    elsewhere); without them, the installed package's config. Only the variables a command
    uses are read, so a bad unrelated one does not stop ``slawatch rules``.

    Attributes:
        policies, topics: the files the worker would read.
        alerts: ``SLAWATCH_ALERTS`` when set (else the worker looks beside the policy file).
        bootstrap: ``host:port[,host:port]`` from ``SLAWATCH_BROKER``; None when it is unset.
        outcomes_topic: the worker's outcomes topic.
        worker_url: the worker to ask (``SLAWATCH_WORKER_URL``, else this host's web port).
        worker_from: the variable(s) ``worker_url`` came from, for error messages.
    """

    policies: Path
    topics: Path
    alerts: Path | None
    bootstrap: str | None
    outcomes_topic: str
    worker_url: str
    worker_from: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CommandDefaults:
        """Read the variables; raise :class:`SettingsError` naming a bad one."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name, "")
            return value or None

        broker = get("BROKER")
        bootstrap = None
        if broker is not None:
            if not broker.startswith("kafka://"):
                raise SettingsError(
                    f"{ENV_PREFIX}BROKER={broker!r}: use kafka://host:port "
                    "(several: kafka://h1:9092;h2:9092)"
                )
            bootstrap = ",".join(p.strip() for p in broker[len("kafka://") :].split(";"))
        outcomes = get("TOPIC_OUTCOMES") or TopicNames().outcomes
        url, source = get("WORKER_URL"), WORKER_URL_ENV
        if url is None:
            host = get("WEB_HOST") or "127.0.0.1"
            host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            url = f"http://{host}:{get('WEB_PORT') or 6066}"
            source = f"{ENV_PREFIX}WEB_HOST/{ENV_PREFIX}WEB_PORT"
        alerts = get("ALERTS")
        return cls(
            policies=Path(get("POLICIES") or PACKAGE_CONFIG / "policies.yaml"),
            topics=Path(get("TOPICS") or PACKAGE_CONFIG / "topics.yaml"),
            alerts=None if alerts is None or alerts == "off" else Path(alerts),
            bootstrap=bootstrap,
            outcomes_topic=outcomes,
            worker_url=url,
            worker_from=source,
        )
