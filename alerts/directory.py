"""Contact details, resolved when a notification is sent and never stored with it."""

from __future__ import annotations

from collections.abc import Mapping

from alerts._refs import resolve
from alerts.routing import Router

__all__ = ["Directory"]


class Directory:
    """Looks up a recipient's address on a channel, resolving ``${ENV}`` and file references."""

    def __init__(self, router: Router, env: Mapping[str, str]) -> None:
        self._router = router
        self._env = env

    def address(self, recipient: str, channel: str) -> str | None:
        """The address, or None when the channel needs none (console, stream, shared webhook).

        Raises:
            LookupError: the reference points at a missing variable or file.
        """
        ref = self._router.address(recipient, channel)
        if ref is None:
            return None
        return resolve(ref, self._env, f"recipients.{recipient}.channels[{channel}].address")
