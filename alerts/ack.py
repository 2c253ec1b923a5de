"""Acknowledgements: the ack event, and the HMAC-signed links in alerts that produce it.

A link carries the breach id, the level and the recipient id, signed with the secret in
``SLAWATCH_ACK_SECRET``, so nobody can acknowledge a breach they were not alerted about by
editing a URL. Every link carries an expiry (``exp``, Unix seconds, signed too): after
:data:`ACK_LINK_TTL` the link is refused, so an old alert found in a mailbox cannot acknowledge
anything. Opening the link shows a confirmation page; the ack is written on POST, so a chat tool
previewing the link does not acknowledge it, and the POST must carry the page's form token
(:meth:`AckSigner.csrf_token`), so another site cannot post the form for a signed-in browser.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ACK_LINK_TTL",
    "ACK_SECRET_ENV",
    "AckError",
    "AckRecord",
    "AckRequest",
    "AckSigner",
    "case_of",
    "check_base_url",
]

ACK_SECRET_ENV = "SLAWATCH_ACK_SECRET"
#: How long an ack link works after its alert was sent: longer than any escalation ladder.
ACK_LINK_TTL = timedelta(days=7)

_LINK_TAG = "slawatch-ack-link/2"
_CSRF_TAG = "slawatch-ack-csrf/1"
_HEX_SIG = re.compile(r"[0-9a-f]{64}")
_NUMBER = re.compile(r"[0-9]{1,12}")


def case_of(breach_id: str) -> str:
    """The case id inside a breach id ``{case}/{clock}/{cycle}``.

    >>> case_of("C/2026/1/complaint_first_response/1")
    'C/2026/1'
    """
    return breach_id.rsplit("/", 2)[0]


class AckRecord(BaseModel):
    """Someone took a breach in hand: its escalation stops (value on ``slawatch.acks``)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["ack"] = "ack"
    breach_id: str = Field(min_length=1)
    case_id: str = Field(min_length=1)
    level: int = Field(ge=1)
    by: str = Field(description="recipient id of who acknowledged (a staff id, not a name)")
    at: datetime
    via: str = "link"


class AckError(ValueError):
    """An ack link that is incomplete or whose signature does not match."""


class AckRequest(BaseModel):
    """The parameters of a verified ack link."""

    model_config = ConfigDict(frozen=True)

    breach_id: str
    level: int
    recipient: str

    def record(self, at: datetime) -> AckRecord:
        """The ack event for this request."""
        return AckRecord(
            breach_id=self.breach_id,
            case_id=case_of(self.breach_id),
            level=self.level,
            by=self.recipient,
            at=at,
        )


class AckSigner:
    """Signs and checks ack links with a shared secret.

    The signed message is a JSON array (a version tag, the breach id, the level, the recipient,
    the expiry), so no edit of the query string can move text from one field into another and
    keep the signature: fields joined by a separator could be re-split ("exp" moved into "r").
    Every link expires; a link without ``exp`` is refused.
    """

    def __init__(self, secret: str | bytes, *, ttl: timedelta = ACK_LINK_TTL) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError(f"{ACK_SECRET_ENV} must be at least 16 bytes long, got {len(key)}")
        if ttl <= timedelta(0):
            raise ValueError(f"an ack link's lifetime must be longer than zero, got {ttl}")
        self._key = key
        self._ttl = ttl

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AckSigner | None:
        """The signer for ``SLAWATCH_ACK_SECRET``, or None when it is not set (no ack links)."""
        secret = env.get(ACK_SECRET_ENV)
        return cls(secret) if secret else None

    def _mac(self, *parts: str | int) -> str:
        message = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def signature(self, breach_id: str, level: int, recipient: str, expires: int) -> str:
        """Hex HMAC-SHA256 over an unambiguous encoding of the link's parameters."""
        return self._mac(_LINK_TAG, breach_id, level, recipient, expires)

    def link(
        self,
        base_url: str,
        breach_id: str,
        level: int,
        recipient: str,
        *,
        now: datetime,
    ) -> str:
        """The URL of the ack page for one notification.

        Args:
            now: when the alert is sent; the link expires ``ttl`` later.
        """
        expires = int((now + self._ttl).timestamp())
        query = {
            "b": breach_id,
            "level": str(level),
            "r": recipient,
            "exp": str(expires),
            "sig": self.signature(breach_id, level, recipient, expires),
        }
        return f"{base_url.rstrip('/')}/ack?{urlencode(query)}"

    def verify(self, query: Mapping[str, str], now: datetime | None = None) -> AckRequest:
        """The request a link's query string stands for; :class:`AckError` if forged or broken.

        Args:
            query: the link's parameters.
            now: the time to check the expiry against; the wall clock when None.
        """
        missing = [k for k in ("b", "level", "r", "exp", "sig") if not query.get(k)]
        if missing:
            raise AckError(f"the ack link lacks {', '.join(missing)}; open the link from the alert")
        if not _NUMBER.fullmatch(query["level"]) or not _NUMBER.fullmatch(query["exp"]):
            raise AckError(
                "the ack link's level and exp must be numbers; open the link from the alert"
            )
        if not _HEX_SIG.fullmatch(query["sig"]):
            raise AckError("the ack link's signature is malformed; open the link from the alert")
        level, expires = int(query["level"]), int(query["exp"])
        if level < 1:
            raise AckError(f"the ack link's level must be 1 or more, got {level}")
        expected = self.signature(query["b"], level, query["r"], expires)
        if not hmac.compare_digest(expected.encode(), query["sig"].encode()):
            raise AckError("the ack link's signature does not match; open the link from the alert")
        current = (now or datetime.now(UTC)).timestamp()
        if current > expires:
            raise AckError(
                f"the ack link expired at {_instant(expires)}; acknowledge from a recent alert"
            )
        return AckRequest(breach_id=query["b"], level=level, recipient=query["r"])

    def csrf_token(self, nonce: str, sig: str) -> str:
        """The confirmation form's token: bound to the browser's nonce cookie and to the link."""
        return self._mac(_CSRF_TAG, nonce, sig)

    def check_csrf(self, nonce: str | None, sig: str, token: str | None) -> None:
        """Refuse a confirmation not posted from the page this browser was shown."""
        if not nonce or not token or not _HEX_SIG.fullmatch(token):
            raise AckError(
                "the confirmation lacks its form token; open the link and press the button"
            )
        if not hmac.compare_digest(self.csrf_token(nonce, sig).encode(), token.encode()):
            raise AckError("the confirmation's form token does not match; open the link again")


def _instant(epoch: int) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"{epoch} (Unix seconds)"


_LOOPBACK_HOSTS = frozenset({"localhost", "0.0.0.0", "::", ""})


def check_base_url(base_url: str, *, allow_loopback: bool) -> None:
    """Refuse an ack base URL staff cannot open: not http(s), or loopback outside the demo.

    A link to ``http://localhost:6066`` reaches the reader's own machine, not the worker: the
    alert cannot be acknowledged, and escalation runs on. The demo and tests allow it.

    Raises:
        ValueError: naming the URL and what to set instead.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"ack.base_url must be an http(s) URL with a host, got {base_url!r}; set it in the "
            "alerts file to the worker's address as staff reach it"
        )
    host = parts.hostname.lower()
    loopback = host in _LOOPBACK_HOSTS or host.endswith(".localhost")
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if loopback and not allow_loopback:
        raise ValueError(
            f"ack links would point at {base_url}, which only reaches the reader's own machine; "
            "set ack.base_url in the alerts file to the worker's public URL (or unset "
            f"{ACK_SECRET_ENV} to send alerts without ack links)"
        )
