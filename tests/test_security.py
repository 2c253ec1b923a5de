"""Security of the edges: signed ack links, secrets only by reference, no secret in any log line.

Unit tests cover the ack links' expiry, the refusal of secrets written into the alerts file and
the mapping of the ``SLAWATCH_KAFKA_*`` settings to Faust and kafka-python. Two integration
tests run the real worker: one with every alert secret in use (a signed webhook, an SMTP login,
ack links) that also checks the ack page's answers, and one that starts with SASL credentials
against a broker that is not there. Neither finds a secret in the worker's log.

No SASL or TLS broker runs here, so the Kafka settings are checked up to what Faust and
kafka-python are given (Faust's own translation to aiokafka included), not against a broker.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, ClassVar

import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pytest_httpserver import HTTPServer

from alerts.ack import ACK_LINK_TTL, AckError, AckSigner
from alerts.config import load_alerts
from alerts.sinks.webhook import SIGNATURE_HEADER, verify
from sla.config_file import ConfigError
from slawatch.testing import VENV_BIN, Stack, by_case, canonical, wait_for
from streams.app import faust_settings
from streams.broker import TansuBroker, free_port
from streams.kafka_auth import broker_credentials, client_security, ssl_context
from streams.settings import Settings, SettingsError

ACK_SECRET = "ack-secret-7f3a9c1e5b2d4f60"
HOOK_SECRET = "hook-secret-2b8e6d0a4c1f9e37"
SMTP_PASSWORD = "smtp-password-5c9d1e7a3b0f2e84"
SASL_PASSWORD = "sasl-password-8a1f4c6e2d9b0e53"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


# ---- ack links ------------------------------------------------------------------------------


class TestAckLinkExpiry:
    """Links carry a signed expiry; a link past it, or with its expiry edited, is refused."""

    def test_link_works_until_it_expires(self) -> None:
        """Verified a second before the expiry; refused a second after, saying it expired."""
        signer = AckSigner(ACK_SECRET)
        query = query_of(signer.link("http://w", "C-1/reply/1", 1, "agent-1", now=T0))
        ok = signer.verify(query, now=T0 + ACK_LINK_TTL - timedelta(seconds=1))
        with pytest.raises(AckError, match="expired"):
            signer.verify(query, now=T0 + ACK_LINK_TTL + timedelta(seconds=1))
        assert "C-1/reply/1" == ok.breach_id

    def test_edited_expiry_is_refused(self) -> None:
        """Moving ``exp`` later breaks the signature."""
        signer = AckSigner(ACK_SECRET)
        query = query_of(signer.link("http://w", "C-1/reply/1", 1, "agent-1", now=T0))
        query["exp"] = str(int(query["exp"]) + 86400)
        with pytest.raises(AckError, match="signature does not match"):
            signer.verify(query, now=T0)

    def test_removed_expiry_is_refused(self) -> None:
        """Dropping ``exp`` from a link is refused: every link must expire."""
        signer = AckSigner(ACK_SECRET)
        query = query_of(signer.link("http://w", "C-1/reply/1", 1, "agent-1", now=T0))
        del query["exp"]
        with pytest.raises(AckError, match="lacks exp"):
            signer.verify(query, now=T0)


# ---- secrets in the alerts file -------------------------------------------------------------


def _alerts_file(tmp_path: Path, channel: dict[str, Any]) -> Path:
    data = {
        "version": "test",
        "channels": {"c": channel},
        "recipients": {"agent-1": {"channels": [{"channel": "c", "address": "a@example.test"}]}},
        "teams": {"desk": {"members": ["agent-1"]}},
        "routes": [{"to": ["team"]}],
    }
    path = tmp_path / "alerts.yaml"
    path.write_text(json.dumps(data))
    return path


class TestSecretsAreReferences:
    """A secret written into the alerts file is refused; a reference is accepted."""

    CHANNELS: ClassVar[dict[str, tuple[dict[str, Any], str]]] = {
        "webhook secret": (
            {"type": "webhook", "url": "http://x/hook", "secret": "hunter2-literal"},
            "channels.c.secret",
        ),
        "smtp password": (
            {
                "type": "email",
                "host": "mail",
                "sender": "s@example.test",
                "username": "u",
                "password": "hunter2-literal",
            },
            "channels.c.password",
        ),
        "slack url": (
            {"type": "slack", "url": "https://hooks.slack.example/T0/B0/hunter2-literal"},
            "channels.c.url",
        ),
    }

    @pytest.mark.parametrize("name", sorted(CHANNELS))
    def test_literal_is_refused(self, tmp_path: Path, name: str) -> None:
        """The load fails naming the field, and the message does not repeat the secret."""
        channel, field = self.CHANNELS[name]
        with pytest.raises(ConfigError) as caught:
            load_alerts(_alerts_file(tmp_path, channel), clocks=set(), teams={"desk"})
        text = str(caught.value)
        assert (True, False) == (field in text, "hunter2-literal" in text)

    @pytest.mark.parametrize("reference", ["${SOME_SECRET}", "secret_file:/run/secrets/x"])
    def test_reference_is_accepted(self, tmp_path: Path, reference: str) -> None:
        """``${ENV}`` and ``secret_file:`` references load (they are resolved later)."""
        channel = {"type": "webhook", "url": "http://x/hook", "secret": reference}
        spec = load_alerts(_alerts_file(tmp_path, channel), clocks=set(), teams={"desk"})
        assert ["c"] == list(spec.channels)


# ---- Kafka security settings ----------------------------------------------------------------


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key (also usable as a CA file), made by openssl."""
    assert shutil.which("openssl") is not None, "openssl is not installed: apt-get install openssl"
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "client.pem", where / "client.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=slawatch-test", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def settings(**env: str) -> Settings:
    return Settings.from_env({f"SLAWATCH_{k.upper()}": v for k, v in env.items()})


class TestKafkaSettings:
    """``SLAWATCH_KAFKA_*`` become Faust credentials and kafka-python arguments."""

    def test_plaintext_by_default(self) -> None:
        """No credentials for Faust; kafka-python is told PLAINTEXT; replication factor 1."""
        s = settings()
        conf = faust_settings(s)
        assert (None, {"security_protocol": "PLAINTEXT"}, 1, False) == (
            broker_credentials(s),
            client_security(s),
            conf["topic_replication_factor"],
            "broker_credentials" in conf,
        )

    def test_sasl_ssl_with_scram(self, client_cert: tuple[Path, Path]) -> None:
        """SASL_SSL + SCRAM reaches aiokafka (through Faust) and kafka-python alike."""
        cafile, _ = client_cert
        s = settings(
            kafka_security_protocol="sasl_ssl",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="slawatch",
            kafka_sasl_password=SASL_PASSWORD,
            kafka_ssl_cafile=str(cafile),
            replication_factor="3",
        )
        credentials = broker_credentials(s)
        assert isinstance(credentials, SASLCredentials)
        faust_side = credentials_to_aiokafka_auth(credentials)
        kafka_side = client_security(s)
        assert isinstance(faust_side["ssl_context"], ssl.SSLContext)
        assert isinstance(kafka_side["ssl_context"], ssl.SSLContext)
        expected = {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "slawatch",
            "sasl_plain_password": SASL_PASSWORD,
        }
        assert expected == {k: faust_side[k] for k in expected}
        assert expected == {k: kafka_side[k] for k in expected}
        conf = faust_settings(s)
        assert ("slawatch", 3) == (
            conf["broker_credentials"].username,
            conf["topic_replication_factor"],
        )

    def test_sasl_plaintext_password_from_a_file(self, tmp_path: Path) -> None:
        """The password file is read (without its newline); no TLS context for SASL_PLAINTEXT."""
        secret = tmp_path / "password"
        secret.write_text(SASL_PASSWORD + "\n")
        s = settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="slawatch",
            kafka_sasl_password_file=str(secret),
        )
        faust_side = credentials_to_aiokafka_auth(broker_credentials(s))
        assert ("SASL_PLAINTEXT", "PLAIN", SASL_PASSWORD, None) == (
            faust_side["security_protocol"],
            faust_side["sasl_mechanism"],
            faust_side["sasl_plain_password"],
            faust_side["ssl_context"],
        )

    def test_mutual_tls(self, client_cert: tuple[Path, Path]) -> None:
        """SSL with a CA, a client certificate and its key gives Faust SSLCredentials."""
        cert, key = client_cert
        s = settings(
            kafka_security_protocol="SSL",
            kafka_ssl_cafile=str(cert),
            kafka_ssl_certfile=str(cert),
            kafka_ssl_keyfile=str(key),
        )
        credentials = broker_credentials(s)
        assert isinstance(credentials, SSLCredentials)
        context = ssl_context(s)
        assert context is not None
        assert ("SSL", ssl.CERT_REQUIRED, True) == (
            credentials_to_aiokafka_auth(credentials)["security_protocol"],
            context.verify_mode,
            context.check_hostname,
        )
        assert ["slawatch-test"] == [
            value for rdn in context.get_ca_certs()[0]["subject"] for _, value in rdn
        ]

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            (
                {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_password": SASL_PASSWORD},
                "SASL_SSL needs SLAWATCH_KAFKA_SASL_USERNAME",
            ),
            (
                {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"},
                "needs SLAWATCH_KAFKA_SASL_PASSWORD or SLAWATCH_KAFKA_SASL_PASSWORD_FILE",
            ),
            (
                {
                    "kafka_security_protocol": "SASL_SSL",
                    "kafka_sasl_username": "u",
                    "kafka_sasl_password": SASL_PASSWORD,
                    "kafka_sasl_password_file": "/etc/hosts",
                },
                "not both",
            ),
            (
                {
                    "kafka_security_protocol": "SASL_SSL",
                    "kafka_sasl_username": "u",
                    "kafka_sasl_password_file": "/no/such/password",
                },
                "SLAWATCH_KAFKA_SASL_PASSWORD_FILE='/no/such/password': cannot read it",
            ),
            (
                {"kafka_sasl_username": "u", "kafka_sasl_password": SASL_PASSWORD},
                "given but SLAWATCH_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
            ),
            (
                {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/no/such/ca.pem"},
                "SLAWATCH_KAFKA_SSL_CAFILE='/no/such/ca.pem': no such file",
            ),
            (
                {"kafka_ssl_cafile": "/etc/hosts"},
                "SLAWATCH_KAFKA_SSL_CAFILE given but SLAWATCH_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
            ),
            ({"kafka_security_protocol": "TLS"}, "SLAWATCH_KAFKA_SECURITY_PROTOCOL='TLS'"),
            ({"kafka_sasl_mechanism": "GSSAPI"}, "SLAWATCH_KAFKA_SASL_MECHANISM='GSSAPI'"),
            ({"replication_factor": "0"}, "SLAWATCH_REPLICATION_FACTOR='0'"),
        ],
    )
    def test_bad_combinations_are_refused(self, env: dict[str, str], message: str) -> None:
        """Each mistake stops the load with a message naming the variables, never the password."""
        with pytest.raises(SettingsError) as caught:
            settings(**env)
        assert (True, False) == (message in str(caught.value), SASL_PASSWORD in str(caught.value))

    def test_password_is_not_in_the_settings_text(self) -> None:
        """Neither the settings' repr nor Faust's credentials' repr shows the password."""
        s = settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="slawatch",
            kafka_sasl_password=SASL_PASSWORD,
        )
        shown = " ".join([repr(s), str(s), repr(broker_credentials(s)), s.model_dump_json()])
        assert (False, True) == (SASL_PASSWORD in shown, "slawatch" in shown)


# ---- the real worker ------------------------------------------------------------------------

POLICY = """\
version: "security-test"
allowed_lateness: 1s
teams:
  desk: {}
clocks:
  - id: reply
    case_kind: complaint
    start: [registered]
    stop: [answered]
    limit: 2s
    warn_at: []
    team: desk
"""
ALERTS = """\
version: "security-test"
lease: 5s
channels:
  hook:
    type: webhook
    url: ${HOOK_URL}
    secret: ${HOOK_SECRET}
  mail:
    type: email
    host: 127.0.0.1
    port: SMTP_PORT
    username: slawatch
    password: ${SMTP_PASSWORD}
    sender: slawatch@example.test
recipients:
  agent-1:
    channels: [hook, {channel: mail, address: agent-1@example.test}]
teams:
  desk:
    members: [agent-1]
    roster: {timezone: UTC, hours: "00:00-24:00", days: [mon, tue, wed, thu, fri, sat, sun]}
routes:
  - to: [assignee]
"""


class _Inbox:
    """An SMTP handler that keeps every message; logins are checked by :func:`_login`."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    """An SMTP server on loopback that accepts only the login with ``SMTP_PASSWORD``."""
    inbox, port = _Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_login,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture
def stack(
    tansu: TansuBroker,
    redis_url: str,
    tmp_path: Path,
    httpserver: HTTPServer,
    smtp: tuple[int, _Inbox],
) -> Iterator[Stack]:
    """A worker's slice of the broker with alerts on: webhook, SMTP with login, ack links."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    env = {
        "SLAWATCH_REDIS_URL": redis_url,
        "SLAWATCH_ACK_SECRET": ACK_SECRET,
        "SLAWATCH_LOG_LEVEL": "debug",
        "HOOK_URL": httpserver.url_for("/hook"),
        "HOOK_SECRET": HOOK_SECRET,
        "SMTP_PASSWORD": SMTP_PASSWORD,
    }
    s = Stack(tansu.bootstrap, tmp_path, POLICY, extra_env=env)
    alerts = ALERTS.replace("SMTP_PORT", str(smtp[0]))
    (tmp_path / "alerts.yaml").write_text(alerts)  # found beside policies.yaml
    try:
        yield s
    finally:
        s.close()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{s.name}:*"):
            client.delete(key)
        client.close()


def _request(
    url: str, form: dict[str, str] | None = None, opener: Any = None
) -> tuple[int, str, Any]:
    """(status, body, headers) of a GET, or of a form POST when ``form`` is given."""
    data = None if form is None else urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=data, method="GET" if form is None else "POST")
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=5) as answer:
            return answer.status, answer.read().decode(), answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


def _json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def _hook_bodies(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """Webhook bodies received, each one's HMAC signature checked with the secret."""
    bodies = []
    for request, _ in httpserver.log:
        body = request.get_data()
        assert verify(HOOK_SECRET.encode(), body, request.headers[SIGNATURE_HEADER])
        bodies.append(json.loads(body))
    return bodies


@pytest.mark.integration
class TestWorkerEdges:
    def test_ack_page_and_no_secret_in_the_log(
        self, stack: Stack, httpserver: HTTPServer, smtp: tuple[int, _Inbox]
    ) -> None:
        """Only a signed, unexpired link acknowledges; the secrets never reach the log."""
        worker = stack.start_worker()
        acks = stack.reader("acks")
        stack.send(canonical("e1", "S-1", "registered", datetime.now(UTC), assignee="agent-1"))
        wait_for(lambda: _hook_bodies(httpserver), 60, "the signed webhook alert")
        wait_for(lambda: smtp[1].messages, 30, "the e-mail sent after the SMTP login")
        link = _hook_bodies(httpserver)[0]["ack_url"]
        query = query_of(link)
        page = link.split("?")[0]
        forged = {**query, "r": "someone-else"}
        non_ascii = {**query, "sig": "é" * 64}
        expired = query_of(
            AckSigner(ACK_SECRET).link(
                "http://x", query["b"], 1, "agent-1", now=datetime.now(UTC) - 2 * ACK_LINK_TTL
            )
        )
        unsigned = {k: v for k, v in query.items() if k != "sig"}
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

        refused = {
            "unsigned": _request(page, unsigned)[0],
            "forged": _request(page, forged)[0],
            "expired": _request(page, expired)[0],
            "forged page": _request(f"{page}?{urllib.parse.urlencode(forged)}")[0],
            "non-ascii sig": _request(f"{page}?{urllib.parse.urlencode(non_ascii)}")[0],
            "no form token": _request(page, query)[0],
        }
        shown = _request(link, opener=browser)
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', shown[1])
        assert token is not None, shown[1]
        refused["cross-site post"] = _request(page, {**query, "csrf": token[1]})[0]
        confirmed = _request(page, {**query, "csrf": token[1]}, opener=browser)
        written = acks.wait(lambda v: by_case(v, "S-1"), 30, "the ack on the acks topic")
        worker.stop()
        log = worker.log_path.read_text(errors="replace")
        received = [r for r in _json_lines(log) if r.get("event") == "ack_received"]

        assert {
            "unsigned": 403,
            "forged": 403,
            "expired": 403,
            "forged page": 403,
            "non-ascii sig": 403,
            "no form token": 403,
            "cross-site post": 403,
        } == refused
        assert (200, 200) == (shown[0], confirmed[0])
        assert ("DENY", True) == (
            shown[2]["X-Frame-Options"],
            "frame-ancestors 'none'" in shown[2]["Content-Security-Policy"],
        )
        assert [("agent-1", query["b"])] == [(a["by"], a["breach_id"]) for a in written]
        assert [("info", 1)] == [(r["level"], r["ack_level"]) for r in received]
        assert "Traceback" not in log
        assert "sla_breach" in log  # the log was written, at debug level
        assert [] == [s for s in (ACK_SECRET, HOOK_SECRET, SMTP_PASSWORD) if s in log]


def _run_worker(env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``slawatch worker`` to its exit; the process and its whole output."""
    done = subprocess.run(
        [str(VENV_BIN / "slawatch"), "worker"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, done.stdout + done.stderr


@pytest.mark.integration
class TestKafkaSecretNotLogged:
    def test_failed_start_with_sasl_does_not_show_the_password(self, tmp_path: Path) -> None:
        """A worker that cannot reach its SASL broker names the broker, never the password."""
        (tmp_path / "policies.yaml").write_text(POLICY)
        (tmp_path / "topics.yaml").write_text(
            "version: 1\ntopics:\n  - name: security.complaints\n    mapping: canonical\n"
        )
        env = {
            "PATH": str(VENV_BIN),
            "SLAWATCH_BROKER": f"kafka://127.0.0.1:{free_port()}",
            "SLAWATCH_POLICIES": str(tmp_path / "policies.yaml"),
            "SLAWATCH_TOPICS": str(tmp_path / "topics.yaml"),
            "SLAWATCH_LOG_FORMAT": "json",
            "SLAWATCH_LOG_LEVEL": "debug",
            "SLAWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "SLAWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "SLAWATCH_KAFKA_SASL_USERNAME": "slawatch",
            "SLAWATCH_KAFKA_SASL_PASSWORD": SASL_PASSWORD,
        }
        done, output = _run_worker(env, tmp_path)
        assert (2, True, False) == (
            done.returncode,
            "no Kafka broker answered" in output,
            SASL_PASSWORD in output,
        )


@pytest.mark.integration
class TestLoopbackAckLinks:
    @pytest.mark.parametrize(
        ("extra", "refused"),
        [({}, True), ({"SLAWATCH_ACK_BASE_URL": "https://slawatch.example.com"}, False)],
    )
    def test_worker_refuses_localhost_links_outside_the_demo(
        self, tmp_path: Path, extra: dict[str, str], refused: bool
    ) -> None:
        """With an ack secret and links to localhost the worker exits 2 naming ack.base_url."""
        (tmp_path / "policies.yaml").write_text(POLICY)
        (tmp_path / "topics.yaml").write_text(
            "version: 1\ntopics:\n  - name: t\n    mapping: canonical\n"
        )
        (tmp_path / "alerts.yaml").write_text(
            "version: v1\nchannels:\n  console: {type: console}\n"
            "recipients:\n  agent-1: {channels: [console]}\nroutes:\n  - to: [assignee]\n"
        )
        env = {
            "PATH": str(VENV_BIN),
            "SLAWATCH_BROKER": f"kafka://127.0.0.1:{free_port()}",  # nobody there
            "SLAWATCH_POLICIES": str(tmp_path / "policies.yaml"),
            "SLAWATCH_TOPICS": str(tmp_path / "topics.yaml"),
            "SLAWATCH_ACK_SECRET": ACK_SECRET,
            **extra,
        }
        done, output = _run_worker(env, tmp_path)
        assert (2, refused) == (done.returncode, "set ack.base_url" in output), output
