"""The realtime session state machine: the only code that changes a session's status.

::

    NOT_READY ──► READY ──► RUNNING ──► COMPLETED
        │           │          │
        ├──► FAILED ◄┤          ├──► FAILED
        └──► CANCELLED ◄────────┴──► CANCELLED   (READY ──► CANCELLED too)

Every transition is stored in ``session_transitions`` with its time and reason.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from characters.errors import Conflict
from characters.store.tables import RealtimeSession, SessionTransition
from characters.timeutil import as_utc


class Status(StrEnum):
    NOT_READY = "NOT_READY"
    READY = "READY"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
ACTIVE = frozenset({Status.NOT_READY, Status.READY, Status.RUNNING})
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.NOT_READY: frozenset({Status.READY, Status.FAILED, Status.CANCELLED}),
    Status.READY: frozenset({Status.RUNNING, Status.FAILED, Status.CANCELLED}),
    Status.RUNNING: frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED}),
}


class FailureCode(StrEnum):
    """Stable machine codes in ``failureCode`` of FAILED sessions."""

    SESSION_EXPIRED = "SESSION_EXPIRED"
    """READY, but no media peer connected before ``expiresAt``."""
    AVATAR_UNAVAILABLE = "AVATAR_UNAVAILABLE"
    """The avatar was deleted or stopped being READY before the session started."""
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    CONNECTION_FAILED = "CONNECTION_FAILED"
    """The client's offer was answered, but its media never connected (ICE/DTLS failed)."""
    ENGINE_ERROR = "ENGINE_ERROR"
    """A stage of the conversation engine (speech recognition, language model, voice) failed
    during the call; ``failure`` names the stage and the reason."""
    MEDIA_SERVER_UNAVAILABLE = "MEDIA_SERVER_UNAVAILABLE"
    """LiveKit mode: the character could not join the session's room (the LiveKit server could
    not be reached, or refused the server's key)."""
    SERVER_STOPPED = "SERVER_STOPPED"
    """The server process stopped (or restarted) during the call."""
    INTERNAL = "INTERNAL"


def transition(
    db: AsyncSession,
    session: RealtimeSession,
    to: Status,
    *,
    at: datetime,
    reason: str | None = None,
) -> None:
    """Move ``session`` to ``to`` (raising Conflict if the machine forbids it) and record it."""
    current = Status(session.status)
    if to not in ALLOWED.get(current, frozenset()):
        raise Conflict(f"Session {session.id} is {current}; it cannot become {to}.")
    session.status = to
    if to == Status.READY:
        session.ready_at = at
        session.queued = False
    elif to == Status.RUNNING:
        session.started_at = at
        session.last_seen_at = at
    elif to in TERMINAL:
        session.ended_at = at
        session.queued = False
        if session.started_at is not None:
            session.duration = max(0, round((at - as_utc(session.started_at)).total_seconds()))
    db.add(
        SessionTransition(
            session_id=session.id, from_status=current, to_status=to, at=at, reason=reason
        )
    )
