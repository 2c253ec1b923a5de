"""Ack links: signed, verified, and turned into ack events."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from alerts.ack import AckError, AckSigner
from tests.alerts.conftest import T0

SECRET = "0123456789abcdef-test"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


class TestAckSigner:
    def test_link_round_trip(self) -> None:
        """A link verifies to the breach, level and recipient it was made for."""
        signer = AckSigner(SECRET)
        url = signer.link("http://w:6066/", "C/1/complaint_first_response/1", 2, "sup-1")
        request = signer.verify(query_of(url))
        assert ("C/1/complaint_first_response/1", 2, "sup-1") == (
            request.breach_id,
            request.level,
            request.recipient,
        )
        assert url.startswith("http://w:6066/ack?")

    def test_forged_level_is_refused(self) -> None:
        """Changing a parameter breaks the signature."""
        signer = AckSigner(SECRET)
        query = query_of(signer.link("http://w", "C-1/x/1", 1, "agent-1"))
        query["r"] = "someone-else"
        with pytest.raises(AckError, match="signature does not match"):
            signer.verify(query)

    def test_other_secret_is_refused(self) -> None:
        """A link signed with another secret does not verify."""
        query = query_of(AckSigner("another-secret-of-16b").link("http://w", "C-1/x/1", 1, "a"))
        with pytest.raises(AckError):
            AckSigner(SECRET).verify(query)

    def test_record_carries_case_and_who(self) -> None:
        """The ack event names the case (from the breach id) and who acknowledged."""
        signer = AckSigner(SECRET)
        request = signer.verify(query_of(signer.link("http://w", "C/7/reply/2", 1, "agent-1")))
        record = request.record(T0)
        assert ("C/7", "agent-1", 1) == (record.case_id, record.by, record.level)

    def test_short_secret_is_refused(self) -> None:
        """A secret shorter than 16 bytes is refused with its length."""
        with pytest.raises(ValueError, match="got 5"):
            AckSigner("short")

    def test_missing_parameters(self) -> None:
        """A link without its signature names what is missing."""
        with pytest.raises(AckError, match="lacks sig"):
            AckSigner(SECRET).verify({"b": "C-1/x/1", "level": "1", "r": "a"})
