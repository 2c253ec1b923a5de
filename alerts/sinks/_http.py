"""POST a body and turn every way it can fail into a :class:`SendError` without the URL in it."""

from __future__ import annotations

import asyncio

import aiohttp

from alerts.sinks.base import SendError

__all__ = ["HttpPoster"]

_RETRYABLE_STATUS = {408, 409, 425, 429}


class HttpPoster:
    """One aiohttp session per channel, opened on first use."""

    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> bytes:
        """POST ``body`` and return the answer's body.

        2xx is success; 408/429/5xx and network errors are retryable, other answers are not.
        """
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise SendError(f"timeout after {self._timeout.total}s") from exc
        except aiohttp.ClientError as exc:
            raise SendError(f"connection failed ({type(exc).__name__})") from exc
        except asyncio.CancelledError:
            raise
        if 200 <= status < 300:
            return answer
        retryable = status >= 500 or status in _RETRYABLE_STATUS
        raise SendError(f"http {status}", retryable=retryable)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
