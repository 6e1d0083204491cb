"""Verify a webhook from a Characters server (session events and backend_rpc tool calls).

Standard library only; copy it into your backend. The server signs each request as the
Standard Webhooks specification says (any of its libraries works too):

    webhook-id: <message id>            the same on every retry: use it to drop duplicates
    webhook-timestamp: <unix seconds>   when this attempt was signed
    webhook-signature: v1,<base64>      HMAC-SHA256 of "{id}.{timestamp}.{raw body}"

keyed with the bytes of your secret (``whsec_<base64>``, from ``GET /v1/organization/webhooks``
or ``characters orgs webhooks ORG_ID``). Verify the raw body, before parsing it.

    from verify import verify, InvalidSignature
    try:
        verify(SECRET, request.headers, raw_body)
    except InvalidSignature:
        return 401

From a shell, a saved request: ``python verify.py SECRET BODY_FILE ID TIMESTAMP SIGNATURE``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
import time
from collections.abc import Mapping

TOLERANCE_S = 300
"""Requests signed more than five minutes from now (either way) are refused: a captured
request cannot be replayed later."""


class InvalidSignature(Exception):
    """The request was not signed with the secret, or not recently."""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> str:
    """Check the signature of one request; return its ``webhook-id``, or raise
    :class:`InvalidSignature`."""
    lower = {k.lower(): v for k, v in headers.items()}
    message_id = lower.get("webhook-id", "")
    timestamp = lower.get("webhook-timestamp", "")
    signatures = lower.get("webhook-signature", "")
    if not message_id or not timestamp or not signatures:
        raise InvalidSignature("missing signature headers")
    try:
        signed_at = int(timestamp)
    except ValueError:
        raise InvalidSignature("bad timestamp") from None
    if abs((time.time() if now is None else now) - signed_at) > tolerance_s:
        raise InvalidSignature("timestamp too old or in the future")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{signed_at}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if not any(hmac.compare_digest(expected, s) for s in signatures.split()):
        raise InvalidSignature("signature does not match")
    return message_id


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    secret, body_file, msg_id, stamp, signature = sys.argv[1:]
    with open(body_file, "rb") as f:
        raw = f.read()
    headers = {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signature}
    try:
        verify(secret, headers, raw)
    except InvalidSignature as e:
        sys.exit(f"rejected: {e}")
    print("valid")  # noqa: T201
