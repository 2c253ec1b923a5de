"""Create the topics slawatch needs, idempotently (kafka-python admin client).

Internal topics (``slawatch.events``, ``slawatch.due``) and the output topics get the same
partition count, so the events and timer commands of one case land in the same partition
number and the same worker (co-partitioning). A topic that already exists is left as it is;
if its partition count differs, :func:`ensure_topics` says so (Tansu cannot add partitions:
recreate the topic, or set SLAWATCH_PARTITIONS to the existing count).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

__all__ = ["TopicMismatch", "ensure_topics", "partition_counts"]

log = logging.getLogger(__name__)

#: Keys of kafka-python client arguments whose values are secrets.
_SECRET_KEYS = ("sasl_plain_password", "ssl_password")


class _HideSecrets(logging.Filter):
    """kafka-python logs the admin client's whole configuration at debug level, password too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            record.args = _hidden(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(_hidden(arg) for arg in record.args)
        return True


def _hidden(value: Any) -> Any:
    if isinstance(value, Mapping) and any(value.get(k) for k in _SECRET_KEYS):
        return {k: ("***" if k in _SECRET_KEYS and v else v) for k, v in value.items()}
    return value


logging.getLogger("kafka.admin.client").addFilter(_HideSecrets())


class TopicMismatch(RuntimeError):
    """An existing topic has another partition count than slawatch needs."""


def _client(
    bootstrap: str, timeout: float, security: Mapping[str, Any] | None = None
) -> KafkaAdminClient:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return KafkaAdminClient(
                bootstrap_servers=bootstrap.split(","),
                client_id="slawatch-admin",
                request_timeout_ms=int(min(timeout, 30.0) * 1000),
                **(security or {}),
            )
        except KafkaError as exc:
            if time.monotonic() >= deadline:
                raise ConnectionError(
                    f"no Kafka broker answered on {bootstrap} within {timeout}s: {exc!r}; "
                    "check SLAWATCH_BROKER, the SLAWATCH_KAFKA_* security settings and that "
                    "the broker runs"
                ) from exc
            time.sleep(0.5)


def partition_counts(
    bootstrap: str,
    names: list[str],
    timeout: float = 30.0,
    *,
    security: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Partition count of each existing topic among ``names``.

    ``security`` are kafka-python client arguments (:func:`streams.kafka_auth.client_security`).
    """
    admin = _client(bootstrap, timeout, security)
    try:
        return _counts(admin, names)
    finally:
        admin.close()


def _counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    existing = set(admin.list_topics())
    wanted = [n for n in names if n in existing]
    if not wanted:
        return {}
    counts: dict[str, int] = {}
    for desc in admin.describe_topics(wanted):
        if desc.get("error_code", 0) == 0:
            counts[desc["name"]] = len(desc.get("partitions") or [])
    return counts


def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    *,
    strict: bool = False,
    timeout: float = 30.0,
    replication_factor: int = 1,
    security: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Create each missing topic with its partition count; leave existing ones alone.

    Args:
        bootstrap: ``host:port[,host:port]``.
        topics: topic name -> partition count.
        strict: raise :class:`TopicMismatch` when an existing topic has another count
            (co-partitioned topics must match); otherwise log a warning.
        timeout: seconds to wait for the broker.
        replication_factor: copies of each topic created (``SLAWATCH_REPLICATION_FACTOR``);
            existing topics keep theirs.
        security: kafka-python client arguments for SASL/TLS
            (:func:`streams.kafka_auth.client_security`); plaintext when None.

    Returns:
        topic name -> partition count after the call.
    """
    admin = _client(bootstrap, timeout, security)
    try:
        counts = _counts(admin, list(topics))
        missing = {
            n: {"num_partitions": p, "replication_factor": replication_factor}
            for n, p in topics.items()
            if n not in counts
        }
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=int(timeout * 1000), raise_errors=False)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another worker
            except KafkaError as exc:
                if "TopicAlreadyExists" not in repr(exc):
                    raise
            for name, spec in missing.items():
                log.info(
                    "created topic %s with %d partitions, replication factor %d",
                    name,
                    spec["num_partitions"],
                    spec["replication_factor"],
                )
        deadline = time.monotonic() + timeout
        while True:
            counts = _counts(admin, list(topics))
            if all(n in counts for n in topics) or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        mismatched = {
            n: (counts[n], p) for n, p in topics.items() if n in counts and counts[n] != p
        }
        for name, (have, want) in mismatched.items():
            message = (
                f"topic {name} has {have} partitions, slawatch wants {want}; set "
                f"SLAWATCH_PARTITIONS={have} or recreate the topic with {want} partitions"
            )
            if strict:
                raise TopicMismatch(message)
            log.warning(message)
        return counts
    finally:
        admin.close()
