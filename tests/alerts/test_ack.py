"""Ack links: signed, verified, and turned into ack events."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from alerts.ack import AckError, AckSigner, check_base_url
from alerts.ack_page import CSRF_FIELD, PAGE_HEADERS, confirm_page, nonce_from
from tests.alerts.conftest import T0

SECRET = "0123456789abcdef-test"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


class TestAckSigner:
    def test_link_round_trip(self) -> None:
        """A link verifies to the breach, level and recipient it was made for."""
        signer = AckSigner(SECRET)
        url = signer.link("http://w:6066/", "C/1/complaint_first_response/1", 2, "sup-1", now=T0)
        request = signer.verify(query_of(url), now=T0)
        assert ("C/1/complaint_first_response/1", 2, "sup-1") == (
            request.breach_id,
            request.level,
            request.recipient,
        )
        assert url.startswith("http://w:6066/ack?")

    def test_forged_level_is_refused(self) -> None:
        """Changing a parameter breaks the signature."""
        signer = AckSigner(SECRET)
        query = query_of(signer.link("http://w", "C-1/x/1", 1, "agent-1", now=T0))
        query["r"] = "someone-else"
        with pytest.raises(AckError, match="signature does not match"):
            signer.verify(query, now=T0)

    def test_other_secret_is_refused(self) -> None:
        """A link signed with another secret does not verify."""
        other = AckSigner("another-secret-of-16b")
        query = query_of(other.link("http://w", "C-1/x/1", 1, "a", now=T0))
        with pytest.raises(AckError):
            AckSigner(SECRET).verify(query, now=T0)

    def test_record_carries_case_and_who(self) -> None:
        """The ack event names the case (from the breach id) and who acknowledged."""
        signer = AckSigner(SECRET)
        link = signer.link("http://w", "C/7/reply/2", 1, "agent-1", now=T0)
        request = signer.verify(query_of(link), now=T0)
        record = request.record(T0)
        assert ("C/7", "agent-1", 1) == (record.case_id, record.by, record.level)

    def test_short_secret_is_refused(self) -> None:
        """A secret shorter than 16 bytes is refused with its length."""
        with pytest.raises(ValueError, match="got 5"):
            AckSigner("short")

    def test_missing_parameters(self) -> None:
        """A link without its signature names what is missing."""
        with pytest.raises(AckError, match="lacks exp, sig"):
            AckSigner(SECRET).verify({"b": "C-1/x/1", "level": "1", "r": "a"})


class TestLinkTampering:
    """No edit of a link's query string keeps a valid signature or escapes the expiry."""

    def test_expiry_moved_into_recipient_is_refused(self) -> None:
        """Dropping ``exp`` and appending it to ``r`` (any separator) does not verify."""
        signer = AckSigner(SECRET)
        query = query_of(signer.link("http://w", "C-1/x/1", 1, "agent-1", now=T0))
        for glue in ("\n", "", "|", " "):
            moved = {"b": query["b"], "level": "1", "r": f"agent-1{glue}{query['exp']}"}
            moved["sig"] = query["sig"]
            with pytest.raises(AckError):
                signer.verify(moved, now=T0)

    def test_fields_shifted_between_breach_and_recipient_do_not_collide(self) -> None:
        """Moving text across field borders gives another signature."""
        signer = AckSigner(SECRET)
        assert signer.signature("C-1/x/1\n1", 1, "a", 9) != signer.signature(
            "C-1/x/1", 1, "1\na", 9
        )

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("sig", "é" * 64),
            ("sig", "A" * 64),
            ("sig", "00"),
            ("level", "١"),
            ("level", "0x1"),
            ("exp", "9" * 400),
            ("exp", "-5"),
        ],
    )
    def test_malformed_field_is_an_ack_error(self, field: str, value: str) -> None:
        """Non-ASCII or malformed signatures and numbers are refused as AckError, never crash."""
        signer = AckSigner(SECRET)
        query = query_of(signer.link("http://w", "C-1/x/1", 1, "agent-1", now=T0))
        with pytest.raises(AckError):
            signer.verify({**query, field: value}, now=T0)


class TestCsrf:
    """The confirmation POST carries a token bound to the browser's nonce and to the link."""

    def test_token_round_trip(self) -> None:
        """The token made for a nonce and link passes for the same nonce and link."""
        signer = AckSigner(SECRET)
        signer.check_csrf("nonce-1", "ab" * 32, signer.csrf_token("nonce-1", "ab" * 32))

    @pytest.mark.parametrize(
        ("nonce", "sig", "token"),
        [
            (None, "ab" * 32, "TOKEN"),
            ("nonce-2", "ab" * 32, "TOKEN"),
            ("nonce-1", "cd" * 32, "TOKEN"),
            ("nonce-1", "ab" * 32, None),
            ("nonce-1", "ab" * 32, "é" * 64),
        ],
    )
    def test_other_nonce_link_or_token_is_refused(
        self, nonce: str | None, sig: str, token: str | None
    ) -> None:
        """Another nonce (no cookie: a cross-site post), another link or no token: refused."""
        signer = AckSigner(SECRET)
        good = signer.csrf_token("nonce-1", "ab" * 32)
        with pytest.raises(AckError):
            signer.check_csrf(nonce, sig, good if token == "TOKEN" else token)


class TestConfirmPage:
    def test_form_carries_link_and_token_escaped(self) -> None:
        """The form holds the signed fields and the token; values are HTML-escaped."""
        signer = AckSigner(SECRET)
        query = query_of(signer.link("http://w", 'C-"1"/x/1', 1, "a<b>", now=T0))
        page = confirm_page(query, signer.verify(query, now=T0), "tok")
        assert (True, True, False) == (
            f'name="{CSRF_FIELD}" value="tok"' in page,
            "a&lt;b&gt;" in page,
            "<b>" in page,
        )

    @pytest.mark.parametrize("cookie", [None, "", "short", "a;Domain=evil.example", "x" * 65])
    def test_foreign_nonce_is_replaced(self, cookie: str | None) -> None:
        """A cookie that is not one of our nonces is never echoed in Set-Cookie."""
        assert cookie != nonce_from(cookie)

    def test_own_nonce_is_kept(self) -> None:
        """Our own nonce comes back unchanged (the token stays valid across reloads)."""
        nonce = nonce_from(None)
        assert nonce == nonce_from(nonce)

    def test_headers_forbid_framing(self) -> None:
        """Every answer of the page forbids framing and leaking the link in Referer."""
        assert ("DENY", True, "no-referrer") == (
            PAGE_HEADERS["X-Frame-Options"],
            "frame-ancestors 'none'" in PAGE_HEADERS["Content-Security-Policy"],
            PAGE_HEADERS["Referrer-Policy"],
        )


class TestBaseUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "http://localhost:6066",
            "http://127.0.0.1:6066",
            "http://127.1.2.3",
            "http://[::1]:6066/",
            "http://0.0.0.0:6066",
            "https://ack.localhost",
        ],
    )
    def test_loopback_is_refused_outside_the_demo(self, url: str) -> None:
        """A loopback base URL is refused, saying what to set; the demo may use it."""
        check_base_url(url, allow_loopback=True)
        with pytest.raises(ValueError, match=r"ack\.base_url"):
            check_base_url(url, allow_loopback=False)

    @pytest.mark.parametrize("url", ["ftp://slawatch.example.com", "slawatch.example.com", ""])
    def test_not_http_is_refused(self, url: str) -> None:
        """Only an http(s) URL with a host makes a link."""
        with pytest.raises(ValueError, match="http"):
            check_base_url(url, allow_loopback=True)

    def test_public_url_is_accepted(self) -> None:
        """A real host name passes."""
        check_base_url("https://slawatch.example.com/ops", allow_loopback=False)
