"""Sending one signed webhook request, and which URLs may receive them."""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from characters import __version__
from characters.errors import InvalidInput
from characters.webhooks.signing import headers as signature_headers

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 65_536
"""Longer answers are cut (a backend RPC result is read from the first 64 KiB)."""
USER_AGENT = f"Characters-Webhooks/{__version__}"


def check_url(url: str, *, allow_http_loopback: bool, field: str = "url") -> str:
    """``url`` if webhooks may go there (``https://``; ``http://`` on loopback only when
    allowed), else :class:`~characters.errors.InvalidInput` naming ``field``."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"{field} must be an https:// URL.", [field])
    if parts.username or parts.password:
        raise InvalidInput(f"{field} must not contain credentials.", [field])
    if parts.scheme == "http":
        if not allow_http_loopback:
            raise InvalidInput(
                f"{field} must be an https:// URL (plain http:// is allowed to loopback only "
                "when the server sets CHARACTERS_WEBHOOK_ALLOW_HTTP_LOOPBACK).",
                [field],
            )
        if not _loopback(parts.hostname):
            raise InvalidInput(
                f"{field}: plain http:// is allowed only to loopback (127.0.0.1, ::1, "
                "localhost); use https:// for other hosts.",
                [field],
            )
    return url


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Reply:
    """What one attempt got: an HTTP status and body, or the transport error."""

    status: int | None
    body: bytes = b""
    error: str | None = None
    """Why no answer came (connection refused, timeout, URL not allowed)."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """A failure worth another try: no connection, a timeout, a 5xx, 408 or 429."""
        if self.status is None:
            return True
        return self.status >= 500 or self.status in (408, 429)

    def describe(self) -> str:
        if self.status is None:
            return self.error or "no answer"
        text = self.body[:200].decode("utf-8", "replace").strip()
        return f"HTTP {self.status}" + (f": {text}" if text and not self.ok else "")

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookClient:
    """Signed POSTs to integrators' URLs (one connection pool for the server process).

    Args:
        allow_http_loopback: accept ``http://`` URLs on loopback (development and tests).
    """

    def __init__(self, *, allow_http_loopback: bool = False) -> None:
        self.allow_http_loopback = allow_http_loopback
        self._http = httpx.AsyncClient(
            follow_redirects=False,  # a signed request goes where it was configured, only there
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(
        self, url: str, secret: str, message_id: str, body: bytes, *, timeout_s: float
    ) -> Reply:
        """One signed attempt (signed now, so a retry carries a fresh timestamp)."""
        try:
            check_url(url, allow_http_loopback=self.allow_http_loopback)
        except InvalidInput as e:
            return Reply(None, error=e.message)
        try:
            async with self._http.stream(
                "POST",
                url,
                content=body,
                headers=signature_headers(secret, message_id, body),
                timeout=httpx.Timeout(timeout_s),
            ) as response:
                data = b""
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) >= MAX_RESPONSE_BYTES:
                        break
                return Reply(response.status_code, data[:MAX_RESPONSE_BYTES])
        except httpx.TimeoutException:
            return Reply(None, error=f"no answer within {timeout_s:g} s")
        except httpx.ConnectError as e:
            return Reply(None, error=f"connection failed ({e})" if str(e) else "connection failed")
        except httpx.HTTPError as e:
            return Reply(None, error=f"{type(e).__name__}: {e}")
