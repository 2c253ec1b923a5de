"""No personal data leaves the ingest edge: not in logs, metrics, records, state or alerts.

A customer's name, phone number and address arrive three ways: as extra attributes of a
canonical event (``Attributes`` keeps unknown keys), as unmapped fields of a foreign topic, and
inside a message that is dead-lettered. The worker runs with alerts on (Redis, a webhook
receiver on loopback); afterwards none of the values may appear in the worker's log, in
``/metrics``, in any record it wrote (events, warnings, breaches, outcomes, the table's
changelog), in ``/cases/{id}``, in Redis or in a notification. Only ``sla.deadletter`` keeps the
original bytes, by design.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from pytest_httpserver import HTTPServer

from sla.config_file import ConfigError
from sla.policy_file import load_policy
from slawatch.testing import Stack, TopicReader, canonical, wait_for, webhook_alerts
from sources.topics import load_topics
from streams.app import create_app
from streams.broker import TansuBroker
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
POLICY = """\
version: "privacy-1"
allowed_lateness: 1s
teams:
  desk: {}
clocks:
  - id: first_response
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 2s
    warn_at: [0.5]
    team: desk
"""

ALERTS = webhook_alerts("privacy-1", escalate_after="1h")

NAME, NAME_ZH = "Zhang San", "张三"
PHONE, PHONE_SPACED = "13800138000", "138 0013 8000"
ADDRESS, ADDRESS_ZH = "88 Jianguo Road", "北京市朝阳区建国路88号"
PERSONAL = (NAME, NAME_ZH, PHONE, PHONE_SPACED, ADDRESS, ADDRESS_ZH)


def _forms(value: str) -> set[str]:
    """The value as written, and as a JSON string escapes it (``\\u5f20`` for 张)."""
    return {value, json.dumps(value)[1:-1]}


def leaks(where: str, text: str) -> list[str]:
    """``where: value`` for each personal value found in ``text``."""
    return [f"{where}: {v}" for v in PERSONAL if any(f in text for f in _forms(v))]


class TestTopicsConfig:
    """A topics file cannot ask for personal attributes."""

    @pytest.mark.parametrize(
        "entry",
        [
            "    mapping: fields\n    case_kind: complaint\n    fields:\n"
            "      event_id: $.id\n      case_id: $.case\n      event_type: $.type\n"
            "      occurred_at: $.at\n      attributes:\n        customer_phone: $.phone\n",
            "    mapping: canonical\n    extra_attributes: [ticket_source, receiver_name]\n",
        ],
    )
    def test_personal_attribute_names_refused(self, tmp_path: Path, entry: str) -> None:
        """A mapped or allowed attribute named like a phone or a name is a config error."""
        path = tmp_path / "topics.yaml"
        path.write_text("version: 1\ntopics:\n  - name: a.b\n" + entry)
        with pytest.raises(ConfigError) as caught:
            load_topics(path)
        assert "personal data" in str(caught.value)

    def test_extra_attributes_allow_list(self, tmp_path: Path) -> None:
        """extra_attributes on a canonical topic becomes the mapping's allow-list."""
        path = tmp_path / "topics.yaml"
        path.write_text(
            "version: 1\ntopics:\n  - name: a.b\n    extra_attributes: [ticket_source]\n"
        )
        assert frozenset({"ticket_source"}) == load_topics(path).mappings()["a.b"].extra_attributes


class TestDebugEndpoints:
    @pytest.mark.parametrize(
        ("env", "served"), [({}, False), ({"SLAWATCH_DEBUG_ENDPOINTS": "1"}, True)]
    )
    def test_off_unless_asked_for(self, tmp_path: Path, env: dict[str, str], served: bool) -> None:
        """/cases/{id} and its explain view are only served with SLAWATCH_DEBUG_ENDPOINTS=1."""
        settings = Settings.from_env(
            {"SLAWATCH_DATADIR": str(tmp_path), "SLAWATCH_ALERTS": "off", **env}
        )
        runtime = create_app(
            settings, policy=load_policy(ROOT / "config" / "policies.yaml"), mappings={}
        )
        paths = set(runtime.app.web.views)
        assert (served, served, True) == (
            "/cases/{case_id}" in paths,
            "/cases/{case_id}/explain" in paths,
            "/metrics" in paths,
        )


def partner_topic(stack: Stack) -> str:
    """The field-mapped source topic of ``stack``."""
    return f"{stack.name}.partner"


@pytest.fixture
def stack(
    tansu: TansuBroker, tmp_path: Path, redis_url: str, httpserver: HTTPServer
) -> Iterator[Stack]:
    """A worker stack with alerts on and a second, field-mapped source topic."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    alerts = tmp_path / "privacy-alerts.yaml"
    alerts.write_text(ALERTS)
    env = {
        "SLAWATCH_REDIS_URL": redis_url,
        "SLAWATCH_ALERTS": str(alerts),
        "SLAWATCH_ACK_SECRET": "privacy-ack-secret-0123456789",
        "HOOK_URL": httpserver.url_for("/hook"),
        "HOOK_SECRET": "privacy-webhook-secret",
        "SLAWATCH_LOG_LEVEL": "debug",  # Faust and aiokafka log message bytes at debug
    }
    s = Stack(tansu.bootstrap, tmp_path, POLICY, extra_env=env)
    s.topics_path.write_text(
        f"""version: 1
topics:
  - name: {s.source}
    mapping: canonical
  - name: {partner_topic(s)}
    mapping: fields
    case_kind: complaint
    fields:
      event_id: $.id
      case_id: $.ticket.number
      event_type: $.status
      occurred_at: $.time
      attributes:
        assignee: $.handler
"""
    )
    try:
        yield s
    finally:
        s.close()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{s.name}:*"):
            client.delete(key)
        client.close()


def _redis_text(url: str, prefix: str) -> str:
    """Every key and value this test's worker wrote to Redis, as one text."""
    client = redis.Redis.from_url(url, decode_responses=True)
    parts: list[Any] = []
    try:
        for key in client.scan_iter(match=f"{prefix}:*"):
            kind = client.type(key)
            reader = {
                "string": client.get,
                "hash": client.hgetall,
                "list": lambda k: client.lrange(k, 0, -1),
                "set": client.smembers,
                "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                "stream": lambda k: client.xrange(k),
            }.get(kind)
            parts.append((key, reader(key) if reader else kind))
    finally:
        client.close()
    return repr(parts)


@pytest.mark.integration
class TestNoPersonalData:
    """Personal values fed in at the edge appear nowhere downstream."""

    def test_name_phone_address_never_leave_ingest(
        self, stack: Stack, redis_url: str, httpserver: HTTPServer
    ) -> None:
        """Two breaching cases carrying a name, phone and address: no trace after ingest."""
        worker = stack.start_worker()
        readers = {role: stack.reader(role) for role in ("events", "warnings", "breaches")}
        readers["outcomes"] = stack.reader("outcomes")
        now = datetime.now(UTC)
        stack.send(
            canonical(
                "p-1",
                "P-1",
                "complaint_registered",
                now,
                assignee="agent-1",
                customer_name=NAME,
                phone=PHONE,
                mobile=PHONE_SPACED,
                address=ADDRESS_ZH,
                receiver={"name": NAME_ZH, "address": ADDRESS},
                # names no word list recognises: only the allow-list stops them
                **{"客户姓名": NAME_ZH, "手机": PHONE, "customer": NAME, "recipient": NAME},
                note=f"{NAME} {PHONE_SPACED} {ADDRESS}",
            )
        )
        partner = {
            "id": "q-1",
            "ticket": {"number": "P-2"},
            "status": "complaint_registered",
            "time": now.isoformat(),
            "handler": "agent-1",
            "customer": {"name": NAME_ZH, "phone": PHONE, "address": ADDRESS_ZH},
            "note": f"{NAME} {PHONE_SPACED} {ADDRESS}",
        }
        stack._producer.send(partner_topic(stack), json.dumps(partner).encode(), key=b"P-2")
        bad = canonical("p-bad", "P-3", "complaint_registered", now, phone=PHONE) | {
            "occurred_at": "2026-11-11T09:30:00"
        }
        stack.send(bad)

        def alerted() -> set[str]:
            return {json.loads(r.get_data())["case_id"] for r, _ in httpserver.log}

        wait_for(lambda: {"P-1", "P-2"} <= alerted(), 60, "breach alerts of P-1 and P-2")
        stack.send(canonical("p-1-ack", "P-1", "complaint_acknowledged", datetime.now(UTC)))
        readers["outcomes"].wait(lambda v: any(o["case_id"] == "P-1" for o in v), 30, "outcome")
        wait_for(lambda: worker.metric("slawatch_deadletters_total") >= 1, 30, "the dead letter")
        cases = {c: worker.get(f"/cases/{c}")[1] for c in ("P-1", "P-2")}
        metrics_text = worker.get("/metrics")[1]
        changelog = TopicReader(stack.bootstrap, f"{stack.name}-cases-changelog")
        changelog_text = "\n".join(r.value.decode() for r in changelog.poll() if r.value)
        changelog.close()
        redis_text = _redis_text(redis_url, stack.name)
        records = {role: reader.values() for role, reader in readers.items()}
        notifications = [r.get_data().decode() for r, _ in httpserver.log]
        worker.stop()

        found = leaks("log", worker.log_path.read_text(errors="replace"))
        found += leaks("metrics", metrics_text)
        found += leaks("changelog", changelog_text)
        found += leaks("redis", redis_text)
        found += leaks("/cases", json.dumps(cases))
        for role, values in records.items():
            found += leaks(role, json.dumps(values, ensure_ascii=False))
        found += leaks("notification", "\n".join(notifications))

        assert [] == found
        starts = [e for e in records["events"] if e["event_type"] == "complaint_registered"]
        assert ["P-1", "P-2"] == sorted(e["case_id"] for e in starts)
        assert {"agent-1"} == {e["attributes"]["assignee"] for e in starts}
        assert {"P-1", "P-2"} <= {b["case_id"] for b in records["breaches"]}
        assert [True, True] == [cases[c]["found"] for c in ("P-1", "P-2")]
        assert len(changelog_text) > 0 and len(redis_text) > 2
