"""Acknowledgements: the ack event, and the HMAC-signed links in alerts that produce it.

A link carries the breach id, the level and the recipient id, signed with the secret in
``SLAWATCH_ACK_SECRET``, so nobody can acknowledge a breach they were not alerted about by
editing a URL. Links made with the time they are sent carry an expiry (``exp``, Unix seconds,
signed too): after :data:`ACK_LINK_TTL` the link is refused, so an old alert found in a mailbox
cannot acknowledge anything. Opening the link shows a confirmation page; the ack is written on
POST, so a chat tool previewing the link does not acknowledge it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ACK_LINK_TTL",
    "ACK_SECRET_ENV",
    "AckError",
    "AckRecord",
    "AckRequest",
    "AckSigner",
    "case_of",
]

ACK_SECRET_ENV = "SLAWATCH_ACK_SECRET"
#: How long an ack link works after its alert was sent: longer than any escalation ladder.
ACK_LINK_TTL = timedelta(days=7)


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
    """Signs and checks ack links with a shared secret."""

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

    def signature(
        self, breach_id: str, level: int, recipient: str, expires: int | None = None
    ) -> str:
        """Hex HMAC-SHA256 over the link's parameters (and its expiry, when it has one)."""
        message = f"{breach_id}\n{level}\n{recipient}"
        if expires is not None:
            message += f"\n{expires}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def link(
        self,
        base_url: str,
        breach_id: str,
        level: int,
        recipient: str,
        *,
        now: datetime | None = None,
    ) -> str:
        """The URL of the ack page for one notification.

        Args:
            now: when the alert is sent; the link then expires ``ttl`` later. Without it the
                link does not expire (kept for links made before expiry existed).
        """
        query = {"b": breach_id, "level": str(level), "r": recipient}
        expires = None if now is None else int((now + self._ttl).timestamp())
        if expires is not None:
            query["exp"] = str(expires)
        query["sig"] = self.signature(breach_id, level, recipient, expires)
        return f"{base_url.rstrip('/')}/ack?{urlencode(query)}"

    def verify(self, query: Mapping[str, str], now: datetime | None = None) -> AckRequest:
        """The request a link's query string stands for; :class:`AckError` if forged or broken.

        Args:
            query: the link's parameters.
            now: the time to check the expiry against; the wall clock when None.
        """
        missing = [k for k in ("b", "level", "r", "sig") if not query.get(k)]
        if missing:
            raise AckError(f"the ack link lacks {', '.join(missing)}; open the link from the alert")
        try:
            level = int(query["level"])
            expires = int(query["exp"]) if query.get("exp") else None
        except ValueError as exc:
            raise AckError(
                f"level and exp must be numbers, got {query['level']!r}, {query.get('exp')!r}"
            ) from exc
        expected = self.signature(query["b"], level, query["r"], expires)
        if not hmac.compare_digest(expected, query["sig"]):
            raise AckError("the ack link's signature does not match; open the link from the alert")
        if expires is not None:
            current = (now or datetime.now(UTC)).timestamp()
            if current > expires:
                raise AckError(
                    "the ack link expired at "
                    f"{datetime.fromtimestamp(expires, UTC).isoformat()}; acknowledge from "
                    "a recent alert"
                )
        return AckRequest(breach_id=query["b"], level=level, recipient=query["r"])
