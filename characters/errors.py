"""Domain errors. Only ``characters.api.errors`` turns them into HTTP responses.

::

    CharactersError
    ├── InvalidInput          the caller sent something we cannot use         → 400
    │   └── InvalidImage      a reference image that cannot be decoded/used    → 400
    ├── NotFound              no such resource for this organisation           → 404
    ├── Conflict              the resource is in a state that forbids this     → 409
    ├── Unauthorized          missing, malformed or revoked credentials        → 401
    ├── LimitExceeded         concurrency, queue or daily limits are used up   → 429
    └── Unavailable           a part of the server cannot serve this now       → 503
"""

from __future__ import annotations

from collections.abc import Sequence


class CharactersError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CharactersError):
    """The request is well-formed but its content cannot be used."""

    def __init__(self, message: str, path: Sequence[str | int] | None = None) -> None:
        super().__init__(message)
        self.path = list(path or [])


class InvalidImage(InvalidInput):
    """A reference image that is not a usable JPEG, PNG or WebP picture."""


class NotFound(CharactersError):
    """The resource does not exist, or belongs to another organisation."""


class Conflict(CharactersError):
    """The resource's current state does not allow the operation."""


class Unauthorized(CharactersError):
    """Missing, malformed, unknown or revoked credentials."""


class LimitExceeded(CharactersError):
    """An organisation limit (concurrency, queue, daily sessions, uploads) is used up."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(CharactersError):
    """The server cannot do this now (e.g. the conversation models failed to load); retry
    later or fix the server (the message says what)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
