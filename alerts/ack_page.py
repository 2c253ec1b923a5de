"""The HTML of the ack page and the headers that keep it from being framed or replayed.

The page shows one button; the POST behind it must carry a form token bound to a nonce cookie
(``SameSite=Strict``), so a page on another site cannot submit the form with the visitor's
browser. Anti-framing headers stop a hostile page from overlaying the button (clickjacking),
and ``Referrer-Policy`` keeps the signed link out of ``Referer`` headers.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping

from alerts.ack import AckRequest

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "PAGE_HEADERS",
    "confirm_page",
    "message_page",
    "new_nonce",
    "nonce_cookie",
    "nonce_from",
]

#: The cookie holding the browser's nonce, and the form field holding the token bound to it.
CSRF_COOKIE = "slawatch_ack_nonce"
CSRF_FIELD = "csrf"
_LINK_FIELDS = ("b", "level", "r", "exp", "sig")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")

#: Sent with every answer of the ack page.
PAGE_HEADERS: Mapping[str, str] = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def new_nonce() -> str:
    """A fresh random nonce for a browser that has none."""
    return secrets.token_urlsafe(24)


def nonce_from(cookie: str | None) -> str:
    """The browser's nonce if it looks like one we issued, else a fresh one.

    A cookie value is sent back in ``Set-Cookie``: anything but our own alphabet is replaced.
    """
    if cookie is not None and _NONCE.fullmatch(cookie):
        return cookie
    return new_nonce()


def nonce_cookie(nonce: str) -> str:
    """The ``Set-Cookie`` value: script-proof, never sent on cross-site requests."""
    return f"{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600"


def _page(body: str) -> str:
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>确认处理 · Acknowledge breach</title>"
        f"</head><body>{body}</body></html>"
    )


def message_page(text: str) -> str:
    """A page saying ``text`` (escaped)."""
    return _page(f"<p>{html.escape(text)}</p>")


def confirm_page(query: Mapping[str, str], ack: AckRequest, token: str) -> str:
    """The confirmation form: the link's signed fields and the form token, one button."""
    fields = {k: query[k] for k in _LINK_FIELDS if k in query} | {CSRF_FIELD: token}
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v, quote=True)}">'
        for k, v in fields.items()
    )
    breach = html.escape(ack.breach_id)
    return _page(
        f"<p>确认处理超时 <strong>{breach}</strong>（第 {ack.level} 级）？确认后停止升级。</p>"
        f"<p>Acknowledge breach <strong>{breach}</strong> "
        f"(level {ack.level})? Escalation of this breach stops.</p>"
        f'<form method="post" action="/ack">{hidden}'
        '<button type="submit">确认处理 Acknowledge</button></form>'
    )
