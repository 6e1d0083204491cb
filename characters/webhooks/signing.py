"""Webhook signatures, as the Standard Webhooks specification defines them.

Every request carries three headers::

    webhook-id: msg_2b5e...                 the message's id (the same on every retry)
    webhook-timestamp: 1765012345           Unix seconds when this attempt was signed
    webhook-signature: v1,K5oZfzN95Z9UVu1E...   base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"

The secret is ``whsec_`` followed by the base64 of 32 random bytes; the HMAC key is those
bytes. A receiver recomputes the signature over the raw body, compares in constant time, and
rejects timestamps more than five minutes from its clock (a captured request cannot be replayed
later). Any Standard Webhooks library verifies these requests; ``examples/webhooks/verify.py``
does it with the standard library alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

PREFIX = "whsec_"
TOLERANCE_S = 300
"""How far a timestamp may be from the receiver's clock (either way)."""


def new_secret() -> str:
    """A fresh signing secret (``whsec_`` + base64 of 32 random bytes)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) of one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The three signature headers for ``body``, timestamped now."""
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


class InvalidSignature(ValueError):
    """A request whose signature headers are missing, stale or wrong."""


def verify(
    secret: str,
    request_headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Check a signed request (header names in any case); :class:`InvalidSignature` says why
    it is refused."""
    lower = {k.lower(): v for k, v in request_headers.items()}
    message_id = lower.get("webhook-id")
    stamp = lower.get("webhook-timestamp")
    given = lower.get("webhook-signature")
    if not message_id or not stamp or not given:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a number") from None
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > tolerance_s:
        raise InvalidSignature("webhook-timestamp is too old or in the future")
    expected = signature(secret, message_id, timestamp, body)
    # The header may list several signatures (during a secret rotation), space separated.
    if not any(hmac.compare_digest(expected, s) for s in given.split()):
        raise InvalidSignature("no signature matches")
