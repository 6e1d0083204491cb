"""Session lifecycle: admission per tier, consume-once credentials, timers and credits.

State lives in the database, so several server processes can share one PostgreSQL database:
every change locks the rows it reads (the organisation row for admission, the session row for a
transition) and re-checks the status before writing. Timers are enforced twice: by a sweeper
task every ``sweep_interval_s``, and lazily whenever a session is read, so a reader never sees a
session that should already have expired.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from characters.avatars.usable import ready_avatar
from characters.config import TIERS, Settings
from characters.errors import Conflict, InvalidInput, LimitExceeded, NotFound, Unauthorized
from characters.sessions.states import ACTIVE, FailureCode, Status, transition
from characters.store.credits import credits_for, debit
from characters.store.db import Database
from characters.store.keys import Principal, hash_secret
from characters.store.owned import get_owned
from characters.store.tables import (
    CreditCharge,
    Organization,
    RealtimeSession,
    SessionTransition,
)
from characters.timeutil import as_utc, utcnow
from characters.webhooks import sessions as session_webhooks

logger = logging.getLogger("characters.sessions")

MODEL = "gwm1_avatars"


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """What a caller asked for in ``POST /v1/realtime_sessions``."""

    avatar_id: str
    max_duration: int | None = None
    personality: str | None = None
    start_script: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    integration: dict[str, Any] | None = None


DISPATCHED = "dispatched-by:"
"""Prefix of ``node`` while a LiveKit room waits for a worker to take its call (the rest names
the API server that made the room)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    token: str
    room_name: str


Ended = Callable[[str, Status, str], None]
"""Told of every session that an operation of the manager ended: (id, status, reason)."""

_CAPACITY_LOCK = 0x43414C4C  # "CALL": admission against the machine's capacity, on PostgreSQL


class SessionManager:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._sweep_task: asyncio.Task[None] | None = None
        self.ended_listeners: list[Ended] = []
        """Called after a transaction that ended sessions commits (API cancel, timers): the
        realtime side stops the calls of those sessions."""
        self.webhooks_listeners: list[Callable[[], None]] = []
        """Called after a transaction that stored session webhooks commits (their sender)."""
        self.ready_listeners: list[Callable[[str], None]] = []
        """Called with the id of each session with an ``integration`` (bring your own agent)
        that a transaction of this process made READY, after it commits: nobody consumes such
        a session, so the realtime side starts its avatar at once."""

    # Lifecycle of the manager itself

    def start(self) -> None:
        self._sweep_task = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def aclose(self) -> None:
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            await asyncio.gather(self._sweep_task, return_exceptions=True)
            self._sweep_task = None

    # Operations

    async def create(self, principal: Principal, spec: SessionSpec) -> RealtimeSession:
        s = self._settings
        # Runway accepts up to 1800 s; this server caps sessions at session_max_duration_cap_s
        # (300 s unless configured) and shortens longer requests rather than refusing them, so
        # clients written for Runway keep working. The conversation shows the effective value.
        requested = spec.max_duration or s.session_default_max_duration_s
        max_duration = min(requested, s.session_max_duration_cap_s)
        now = utcnow()
        async with self._db.transaction() as db:
            avatar = await ready_avatar(db, principal.organization_id, spec.avatar_id)
            await self._lock_capacity(db)
            org = await self._lock_org(db, principal.organization_id)
            # Hand slots freed elsewhere (lazy expiry, another process) to the waiting sessions
            # first, so a new session never overtakes an older queued one.
            await self._promote_org(db, org, now)
            tier = TIERS[org.tier]
            if org.credit_balance < s.credits_per_unit:
                raise InvalidInput(
                    f"Not enough credits: the balance is {org.credit_balance}, and a session needs "
                    f"at least {s.credits_per_unit}. Add credits with `characters orgs set ORG_ID --add-credits N`."
                )
            day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
            today = (
                await db.scalar(
                    select(func.count()).where(
                        RealtimeSession.organization_id == org.id,
                        RealtimeSession.created_at >= day_start,
                    )
                )
                or 0
            )
            if today >= tier.max_daily_sessions:
                raise LimitExceeded(
                    f"Daily session limit of tier {org.tier} reached ({tier.max_daily_sessions}).",
                )
            month_start = day_start.replace(day=1)
            spent = (
                await db.scalar(
                    select(func.coalesce(func.sum(CreditCharge.amount), 0)).where(
                        CreditCharge.organization_id == org.id, CreditCharge.at >= month_start
                    )
                )
                or 0
            )
            if spent >= tier.max_monthly_credit_spend:
                raise LimitExceeded(
                    f"Monthly credit spend limit of tier {org.tier} reached "
                    f"({tier.max_monthly_credit_spend} credits)."
                )
            running, queued = await self._occupancy(db, org.id)
            if running >= tier.max_concurrent_sessions and queued >= tier.max_queued_sessions:
                raise LimitExceeded(
                    f"Concurrency limit reached: {running} sessions active and {queued} queued "
                    f"(tier {org.tier} allows {tier.max_concurrent_sessions} active, "
                    f"{tier.max_queued_sessions} queued). End a session or retry later.",
                    retry_after_s=5,
                )
            session = RealtimeSession(
                id=str(uuid.uuid4()),
                organization_id=org.id,
                api_key_id=principal.api_key_id,
                avatar_id=avatar.id,
                avatar_name=avatar.name,
                status=Status.NOT_READY,
                queued=running >= tier.max_concurrent_sessions
                or await self._machine_occupancy(db) >= s.max_calls,
                max_duration=max_duration,
                personality=spec.personality,
                start_script=spec.start_script,
                tools=merge_tools(avatar.tools or [], spec.tools),
                integration=spec.integration,
                created_at=now,
                conversation_name=f"{avatar.name}, {now:%Y-%m-%d %H:%M} UTC",
                credits_charged=0,
            )
            db.add(session)
            await db.flush()
            db.add(
                SessionTransition(
                    session_id=session.id,
                    from_status=None,
                    to_status=Status.NOT_READY,
                    at=now,
                    reason="queued for capacity" if session.queued else "created",
                )
            )
            if not session.queued:
                self._make_ready(db, session, now)
        self._announce(db)
        return session

    async def get(self, principal: Principal, session_id: str) -> RealtimeSession:
        ended = False
        async with self._db.transaction() as db:
            session = await self._owned(db, principal, session_id)
            if Status(session.status) in ACTIVE:
                await self._apply_timers(db, session, utcnow())
                ended = Status(session.status) not in ACTIVE
        self._announce(db)
        if ended:  # a timer ended it just now: its slot goes to the next queued session
            await self.promote_queued()
        return session

    async def cancel(self, principal: Principal, session_id: str) -> None:
        async with self._db.transaction() as db:
            session = await self._owned(db, principal, session_id, lock=True)
            if Status(session.status) in ACTIVE:
                await self._end(db, session, Status.CANCELLED, utcnow(), reason="cancelled by API")
        self._announce(db)
        await self.promote_queued()

    async def consume(
        self, session_id: str, authorization: str | None, base_url: str
    ) -> Credentials:
        """Exchange the READY session's ``sessionKey`` for one-time media credentials."""
        key = _bearer(authorization)
        async with self._db.transaction() as db:
            session = await db.get(RealtimeSession, session_id, with_for_update=True)
            if session is None:
                raise NotFound(f"Realtime session {session_id} not found.")
            if Status(session.status) in ACTIVE:
                await self._apply_timers(db, session, utcnow())
            if key is None:
                raise Unauthorized(
                    "Missing session key: send 'Authorization: Bearer <sessionKey>'."
                )
            # The key outlives READY (the wire shows it only then), so a finished session still
            # tells a right key (409 below) from a wrong one (401). A queued session has none yet.
            if session.integration is not None:
                raise Conflict(
                    "This session's avatar joins your LiveKit room itself (integration); it has "
                    "no credentials to consume."
                )
            if session.session_key is None:
                raise Conflict("Session is NOT_READY; wait until it is READY to consume it.")
            if not hmac.compare_digest(
                key.encode(),
                session.session_key.encode(),  # bytes: the header may be non-ASCII
            ):
                raise Unauthorized("Invalid session key for this session.")
            if session.consumed_at is not None:
                raise Conflict("Session credentials were already consumed; create a new session.")
            if session.status != Status.READY:
                raise Conflict(
                    f"Session is {session.status}; credentials can only be consumed while READY."
                )
            token = secrets.token_urlsafe(32)
            session.consumed_at = utcnow()
            session.token_hash = hash_secret(token)
        self._announce(db)
        return Credentials(
            url=f"{base_url}/v1/realtime_sessions/{session_id}/webrtc",
            token=token,
            room_name=session_id,
        )

    async def check_token(self, session_id: str, token: str | None) -> RealtimeSession:
        """The READY session whose unused media token this is (nothing changes), else 401/409."""
        async with self._db.transaction() as db:
            session = await self._token_session(db, session_id, token, utcnow())
        self._announce(db)
        return session

    async def claim(self, session_id: str, token: str | None, node: str) -> RealtimeSession:
        """Use the media token (once): the session stays READY until the media connects, and
        ``node`` (this process) is recorded as the one running the call."""
        now = utcnow()
        async with self._db.transaction() as db:
            session = await self._token_session(db, session_id, token, now)
            session.token_used_at = now
            session.node = node
        self._announce(db)
        return session

    async def take(self, session_id: str, node: str) -> RealtimeSession:
        """A worker takes the call of a consumed session (LiveKit dispatched it there): ``node``
        is recorded as the process running it (its restart, or its heartbeats stopping, fail
        the call). 409 when the session can no longer be joined."""
        async with self._db.transaction() as db:
            session = await self._locked(db, session_id, utcnow())
            if session.status != Status.READY or session.token_used_at is None:
                raise Conflict(f"Session is {session.status}; its call cannot be taken.")
            if not (session.node or "").startswith(DISPATCHED):
                raise Conflict(f"The call of session {session_id} was taken by {session.node}.")
            session.node = node
        self._announce(db)
        return session

    async def claim_integration(self, session_id: str, node: str) -> RealtimeSession:
        """Bring your own agent: the READY session's avatar is on its way into the caller's
        room, from ``node`` (this process); its credentials can no longer be consumed."""
        now = utcnow()
        async with self._db.transaction() as db:
            session = await self._locked(db, session_id, now)
            if session.status != Status.READY or session.token_used_at is not None:
                raise Conflict(f"Session is {session.status}; its avatar cannot start.")
            session.consumed_at = session.token_used_at = now
            session.node = node
        self._announce(db)
        return session

    async def holder(self, session_id: str) -> tuple[Status, str | None] | None:
        """The session's status and the process holding its call (None: no such session)."""
        async with self._db.transaction() as db:
            session = await db.get(RealtimeSession, session_id)
            return None if session is None else (Status(session.status), session.node)

    async def mark_running(self, session_id: str) -> RealtimeSession:
        """The media connected: READY → RUNNING (the duration cap and billing start now)."""
        now = utcnow()
        async with self._db.transaction() as db:
            session = await self._locked(db, session_id, now)
            if session.status != Status.READY:
                raise Conflict(f"Session is {session.status}; it can no longer be joined.")
            await self._charge_cap(db, session)
            transition(db, session, Status.RUNNING, at=now, reason="media peer connected")
            await self._webhook(db, session, Status.RUNNING)
        self._announce(db)
        return session

    async def connect(self, session_id: str, token: str) -> RealtimeSession:
        """:meth:`claim` and :meth:`mark_running` at once (a peer that is connected already)."""
        await self.claim(session_id, token, node="")
        return await self.mark_running(session_id)

    async def _token_session(
        self, db: AsyncSession, session_id: str, token: str | None, now: datetime
    ) -> RealtimeSession:
        session = await db.get(RealtimeSession, session_id, with_for_update=True)
        if session is None:
            raise NotFound(f"Realtime session {session_id} not found.")
        if Status(session.status) in ACTIVE:
            await self._apply_timers(db, session, now)
        if not token:
            raise Unauthorized(
                "Missing media token: send 'Authorization: Bearer <token>' with the token "
                "that consume returned."
            )
        valid = session.token_hash is not None and hmac.compare_digest(
            session.token_hash, hash_secret(token)
        )
        if not valid:
            raise Unauthorized("Invalid media token for this session.")
        if session.token_used_at is not None:
            raise Unauthorized("This media token was already used; create a new session.")
        if session.status != Status.READY:
            raise Conflict(f"Session is {session.status}; it can no longer be joined.")
        return session

    async def heartbeat(self, session_id: str) -> str | None:
        """The call's peer is alive; returns the session's status (None if it is gone)."""
        async with self._db.transaction() as db:
            session = await db.get(RealtimeSession, session_id, with_for_update=True)
            if session is None:
                return None
            if session.status == Status.RUNNING:
                session.last_seen_at = utcnow()
            return session.status

    async def finish(
        self,
        session_id: str,
        to: Status,
        *,
        reason: str,
        failure: str | None = None,
        failure_code: FailureCode | None = None,
        at: datetime | None = None,
    ) -> None:
        """End an active session (media side: hang-up, END_CALL, engine failure)."""
        async with self._db.transaction() as db:
            session = await db.get(RealtimeSession, session_id, with_for_update=True)
            if session is not None and Status(session.status) in ACTIVE:
                if failure is not None:
                    session.failure, session.failure_code = failure, failure_code
                when = utcnow() if at is None else at
                if session.started_at is not None:
                    when = max(when, as_utc(session.started_at))
                await self._end(db, session, to, when, reason=reason)
        self._announce(db)
        await self.promote_queued()

    async def recover(self, node: str) -> list[str]:
        """At start: the calls this process was running when it stopped are over (FAILED)."""
        now = utcnow()
        async with self._db.transaction() as db:
            orphans = (
                await db.scalars(
                    select(RealtimeSession)
                    .where(
                        RealtimeSession.node == node,
                        or_(
                            RealtimeSession.status == Status.RUNNING,
                            RealtimeSession.token_used_at.is_not(None)
                            & (RealtimeSession.status == Status.READY),
                        ),
                    )
                    .with_for_update()
                )
            ).all()
            for session in orphans:
                session.failure = "The server restarted during the call."
                session.failure_code = FailureCode.SERVER_STOPPED
                ended = as_utc(session.last_seen_at) if session.last_seen_at else now
                await self._end(db, session, Status.FAILED, ended, reason="server restarted")
        await self.promote_queued()
        return [s.id for s in orphans]

    # Timers and admission

    async def sweep(self) -> None:
        """Apply every due timer once, then admit queued sessions where slots are free."""
        now = utcnow()
        async with self._db.transaction() as db:
            live = (
                await db.execute(
                    select(
                        RealtimeSession.id,
                        RealtimeSession.status,
                        RealtimeSession.expires_at,
                        RealtimeSession.started_at,
                        RealtimeSession.max_duration,
                        RealtimeSession.last_seen_at,
                    ).where(RealtimeSession.status.in_([Status.READY, Status.RUNNING]))
                )
            ).all()
            due = sorted(row[0] for row in live if self._is_due(*row[1:], now=now))
            if due:
                # Lock only the due rows, in id order, skipping rows another process holds:
                # sweepers of several servers never wait on (or deadlock with) each other.
                sessions = (
                    await db.scalars(
                        select(RealtimeSession)
                        .where(RealtimeSession.id.in_(due))
                        .order_by(RealtimeSession.id)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                for session in sessions:
                    await self._apply_timers(db, session, now)
        self._announce(db)
        await self.promote_queued()

    async def promote_queued(self) -> None:
        now = utcnow()
        async with self._db.transaction() as db:
            await self._lock_capacity(db)
            waiting = (
                await db.execute(
                    select(RealtimeSession.organization_id, RealtimeSession.created_at)
                    .where(
                        RealtimeSession.status == Status.NOT_READY, RealtimeSession.queued.is_(True)
                    )
                    .order_by(RealtimeSession.created_at, RealtimeSession.id)
                )
            ).all()
            org_ids = list(dict.fromkeys(org_id for org_id, _ in waiting))  # oldest first
            for org_id in org_ids:
                await self._promote_org(db, await self._lock_org(db, org_id), now)
        self._announce(db)

    async def _promote_org(self, db: AsyncSession, org: Organization, now: datetime) -> None:
        """Make the oldest queued sessions of ``org`` (locked by the caller) READY while slots
        are free. Lock order: organisation row, then session rows."""
        running, _ = await self._occupancy(db, org.id)
        free = TIERS[org.tier].max_concurrent_sessions - running
        free = min(free, self._settings.max_calls - await self._machine_occupancy(db))
        if free <= 0:
            return
        waiting = (
            await db.scalars(
                select(RealtimeSession)
                .where(
                    RealtimeSession.organization_id == org.id,
                    RealtimeSession.status == Status.NOT_READY,
                    RealtimeSession.queued.is_(True),
                )
                .order_by(RealtimeSession.created_at, RealtimeSession.id)
                .limit(free)
                .with_for_update()
            )
        ).all()
        for session in waiting:
            self._make_ready(db, session, now)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("session sweep failed")
            await asyncio.sleep(self._settings.sweep_interval_s)

    async def _apply_timers(
        self, db: AsyncSession, session: RealtimeSession, now: datetime
    ) -> None:
        status = Status(session.status)
        if status == Status.READY and session.expires_at and as_utc(session.expires_at) <= now:
            session.failure = "No client connected before the session credentials expired."
            session.failure_code = FailureCode.SESSION_EXPIRED
            expired_at = as_utc(session.expires_at)
            await self._end(db, session, Status.FAILED, expired_at, reason="expired while READY")
        elif status == Status.RUNNING and session.started_at is not None:
            ends = as_utc(session.started_at) + timedelta(seconds=session.max_duration)
            grace = timedelta(seconds=self._settings.session_peer_grace_s)
            seen = as_utc(session.last_seen_at) if session.last_seen_at is not None else None
            # A peer already gone before the cap ends the session where it was last seen, even
            # when the timer runs late (e.g. after downtime): no billing up to maxDuration.
            if seen is not None and seen + grace <= now and seen + grace < ends:
                if session.node:  # a process ran the call: it stopped (its heartbeats did)
                    session.failure = (
                        f"The process running the call ({session.node}) stopped: no heartbeat "
                        f"for {self._settings.session_peer_grace_s:g} s."
                    )
                    session.failure_code = FailureCode.SERVER_STOPPED
                    await self._end(db, session, Status.FAILED, seen, reason="call process gone")
                else:
                    await self._end(
                        db, session, Status.COMPLETED, seen, reason="media peer vanished"
                    )
            elif ends <= now:
                await self._end(db, session, Status.COMPLETED, ends, reason="maxDuration reached")

    def _is_due(
        self,
        status: str,
        expires_at: datetime | None,
        started_at: datetime | None,
        max_duration: int,
        last_seen_at: datetime | None,
        *,
        now: datetime,
    ) -> bool:
        """Whether a timer of this READY/RUNNING session has fired (see ``_apply_timers``)."""
        if status == Status.READY:
            return expires_at is not None and as_utc(expires_at) <= now
        if started_at is None:
            return False
        if as_utc(started_at) + timedelta(seconds=max_duration) <= now:
            return True
        grace = timedelta(seconds=self._settings.session_peer_grace_s)
        return last_seen_at is not None and as_utc(last_seen_at) + grace <= now

    def _make_ready(self, db: AsyncSession, session: RealtimeSession, now: datetime) -> None:
        transition(db, session, Status.READY, at=now, reason="admitted")
        session.session_key = secrets.token_urlsafe(32)
        session.expires_at = now + timedelta(seconds=self._settings.session_ready_ttl_s)
        if session.integration is not None:
            db.info.setdefault("ready", []).append(session.id)

    async def _end(
        self, db: AsyncSession, session: RealtimeSession, to: Status, at: datetime, *, reason: str
    ) -> None:
        transition(db, session, to, at=at, reason=reason)
        db.info.setdefault("ended", []).append((session.id, to, reason))
        if session.started_at is not None:
            await self._charge(db, session)
        await self._webhook(db, session, to)

    async def _webhook(self, db: AsyncSession, session: RealtimeSession, status: Status) -> None:
        """Store the session webhook of this status change (sent after the commit)."""
        hold = self._settings.webhook_final_hold_s
        await session_webhooks.enqueue(db, session, status, hold_s=hold)

    async def _charge(self, db: AsyncSession, session: RealtimeSession) -> None:
        s = self._settings
        assert session.started_at is not None and session.ended_at is not None
        seconds = (as_utc(session.ended_at) - as_utc(session.started_at)).total_seconds()
        session.credits_charged = await debit(
            db,
            organization_id=session.organization_id,
            amount=credits_for(seconds, s.credit_unit_s, s.credits_per_unit),
            at=utcnow(),
            model=MODEL,
            api_key_id=session.api_key_id,
            session_id=session.id,
        )

    async def _charge_cap(self, db: AsyncSession, session: RealtimeSession) -> None:
        """Shorten the session to what the organisation's credits pay for."""
        s = self._settings
        org = await self._lock_org(db, session.organization_id)
        affordable = (org.credit_balance // s.credits_per_unit) * s.credit_unit_s
        if affordable < session.max_duration:
            session.max_duration = max(affordable, s.credit_unit_s)

    async def _occupancy(self, db: AsyncSession, org_id: str) -> tuple[int, int]:
        rows = (
            await db.execute(
                select(RealtimeSession.queued, func.count())
                .where(
                    RealtimeSession.organization_id == org_id,
                    RealtimeSession.status.in_([Status.NOT_READY, Status.READY, Status.RUNNING]),
                )
                .group_by(RealtimeSession.queued)
            )
        ).all()
        counts = {bool(q): n for q, n in rows}
        return counts.get(False, 0), counts.get(True, 0)

    def _announce(self, db: AsyncSession) -> None:
        """After a commit: tell the listeners which sessions the transaction ended, and the
        webhook sender that it has work."""
        for session_id, status, reason in db.info.pop("ended", []):
            for listener in self.ended_listeners:
                try:
                    listener(session_id, status, reason)
                except Exception:
                    logger.exception("a session-ended listener failed")
        if db.info.pop("webhooks", False):
            for wake in self.webhooks_listeners:
                wake()
        for session_id in db.info.pop("ready", []):
            for ready in self.ready_listeners:
                try:
                    ready(session_id)
                except Exception:
                    logger.exception("a session-ready listener failed")

    async def _machine_occupancy(self, db: AsyncSession) -> int:
        """Sessions that hold one of the machine's call slots (admitted and not over)."""
        return (
            await db.scalar(
                select(func.count()).where(
                    RealtimeSession.status.in_([Status.NOT_READY, Status.READY, Status.RUNNING]),
                    RealtimeSession.queued.is_(False),
                )
            )
            or 0
        )

    async def _lock_capacity(self, db: AsyncSession) -> None:
        """Serialise admission against the machine's capacity (SQLite transactions already are)."""
        if not self._db.is_sqlite:
            await db.execute(text(f"SELECT pg_advisory_xact_lock({_CAPACITY_LOCK})"))

    async def _lock_org(self, db: AsyncSession, org_id: str) -> Organization:
        org = await db.get(Organization, org_id, with_for_update=True, populate_existing=True)
        if org is None:
            raise NotFound(f"Organisation {org_id} not found.")
        return org

    async def _locked(self, db: AsyncSession, session_id: str, now: datetime) -> RealtimeSession:
        """The session's row, locked, with its due timers applied (404 if there is none)."""
        session = await db.get(RealtimeSession, session_id, with_for_update=True)
        if session is None:
            raise NotFound(f"Realtime session {session_id} not found.")
        await self._apply_timers(db, session, now)
        return session

    async def _owned(
        self, db: AsyncSession, principal: Principal, session_id: str, *, lock: bool = False
    ) -> RealtimeSession:
        session = await get_owned(
            db, RealtimeSession, principal.organization_id, session_id, with_for_update=lock
        )
        if session is None:
            raise NotFound(f"Realtime session {session_id} not found.")
        return session


def merge_tools(
    avatar_tools: list[dict[str, Any]], session_tools: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The session's tools: the avatar's (an extension), then the session's; a session tool
    replaces the avatar's tool of the same name."""
    names = {t.get("name") for t in session_tools}
    return [t for t in avatar_tools if t.get("name") not in names] + list(session_tools)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
