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
import math
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from characters.config import TIERS, Settings
from characters.errors import Conflict, InvalidInput, LimitExceeded, NotFound, Unauthorized
from characters.sessions.states import ACTIVE, FailureCode, Status, transition
from characters.store.db import Database
from characters.store.keys import Principal, hash_secret
from characters.store.tables import (
    Avatar,
    CreditCharge,
    Organization,
    RealtimeSession,
    SessionTransition,
)
from characters.timeutil import as_utc, utcnow

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


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    token: str
    room_name: str


class SessionManager:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._sweep_task: asyncio.Task[None] | None = None

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
        max_duration = spec.max_duration or s.session_default_max_duration_s
        if max_duration > s.session_max_duration_cap_s:
            raise InvalidInput(
                f"maxDuration may be at most {s.session_max_duration_cap_s} seconds on this server.",
                ["maxDuration"],
            )
        now = utcnow()
        async with self._db.transaction() as db:
            avatar = await db.get(Avatar, spec.avatar_id)
            if avatar is None or avatar.organization_id != principal.organization_id:
                raise InvalidInput(f"Avatar {spec.avatar_id} not found.", ["avatar", "avatarId"])
            if avatar.status != "READY":
                detail = (
                    "is still processing; wait until its status is READY"
                    if avatar.status == "PROCESSING"
                    else f"failed processing ({avatar.failure_reason}); fix it with PATCH /v1/avatars"
                )
                raise InvalidInput(f"Avatar {avatar.id} {detail}.", ["avatar", "avatarId"])
            org = await self._lock_org(db, principal.organization_id)
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
                queued=running >= tier.max_concurrent_sessions,
                max_duration=max_duration,
                personality=spec.personality,
                start_script=spec.start_script,
                tools=spec.tools,
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
        return session

    async def get(self, principal: Principal, session_id: str) -> RealtimeSession:
        async with self._db.transaction() as db:
            session = await self._owned(db, principal, session_id)
            if Status(session.status) in ACTIVE:
                await self._apply_timers(db, session, utcnow())
            return session

    async def cancel(self, principal: Principal, session_id: str) -> None:
        async with self._db.transaction() as db:
            session = await self._owned(db, principal, session_id, lock=True)
            if Status(session.status) in ACTIVE:
                await self._end(db, session, Status.CANCELLED, utcnow(), reason="cancelled by API")
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
            if session.session_key is not None and not hmac.compare_digest(
                key, session.session_key
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
        return Credentials(
            url=f"{base_url}/v1/realtime_sessions/{session_id}/webrtc",
            token=token,
            room_name=session_id,
        )

    async def connect(self, session_id: str, token: str) -> RealtimeSession:
        """The media peer arrived with the consume token: READY → RUNNING (token works once)."""
        now = utcnow()
        async with self._db.transaction() as db:
            session = await db.get(RealtimeSession, session_id, with_for_update=True)
            if session is None:
                raise NotFound(f"Realtime session {session_id} not found.")
            await self._apply_timers(db, session, now)
            valid = session.token_hash is not None and hmac.compare_digest(
                session.token_hash, hash_secret(token)
            )
            if not valid or session.token_used_at is not None:
                raise Unauthorized("Invalid or already used media token.")
            if session.status != Status.READY:
                raise Conflict(f"Session is {session.status}; it can no longer be joined.")
            session.token_used_at = now
            await self._charge_cap(db, session)
            transition(db, session, Status.RUNNING, at=now, reason="media peer connected")
            return session

    async def heartbeat(self, session_id: str) -> None:
        async with self._db.transaction() as db:
            session = await db.get(RealtimeSession, session_id, with_for_update=True)
            if session is not None and session.status == Status.RUNNING:
                session.last_seen_at = utcnow()

    async def finish(
        self,
        session_id: str,
        to: Status,
        *,
        reason: str,
        failure: str | None = None,
        failure_code: FailureCode | None = None,
    ) -> None:
        """End an active session (media side: hang-up, END_CALL, engine failure)."""
        async with self._db.transaction() as db:
            session = await db.get(RealtimeSession, session_id, with_for_update=True)
            if session is not None and Status(session.status) in ACTIVE:
                if failure is not None:
                    session.failure, session.failure_code = failure, failure_code
                await self._end(db, session, to, utcnow(), reason=reason)
        await self.promote_queued()

    # Timers and admission

    async def sweep(self) -> None:
        """Apply every due timer once, then admit queued sessions where slots are free."""
        now = utcnow()
        async with self._db.transaction() as db:
            due = (
                await db.scalars(
                    select(RealtimeSession)
                    .where(RealtimeSession.status.in_([Status.READY, Status.RUNNING]))
                    .with_for_update()
                )
            ).all()
            for session in due:
                await self._apply_timers(db, session, now)
        await self.promote_queued()

    async def promote_queued(self) -> None:
        now = utcnow()
        async with self._db.transaction() as db:
            org_ids = (
                await db.scalars(
                    select(RealtimeSession.organization_id)
                    .where(
                        RealtimeSession.status == Status.NOT_READY, RealtimeSession.queued.is_(True)
                    )
                    .distinct()
                )
            ).all()
            for org_id in org_ids:
                org = await self._lock_org(db, org_id)
                running, _ = await self._occupancy(db, org_id)
                free = TIERS[org.tier].max_concurrent_sessions - running
                if free <= 0:
                    continue
                waiting = (
                    await db.scalars(
                        select(RealtimeSession)
                        .where(
                            RealtimeSession.organization_id == org_id,
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
            await self._end(db, session, Status.FAILED, now, reason="expired while READY")
        elif status == Status.RUNNING and session.started_at is not None:
            ends = as_utc(session.started_at) + timedelta(seconds=session.max_duration)
            grace = timedelta(seconds=self._settings.session_peer_grace_s)
            if ends <= now:
                await self._end(db, session, Status.COMPLETED, ends, reason="maxDuration reached")
            elif session.last_seen_at is not None and as_utc(session.last_seen_at) + grace <= now:
                await self._end(
                    db,
                    session,
                    Status.COMPLETED,
                    as_utc(session.last_seen_at),
                    reason="media peer vanished",
                )

    def _make_ready(self, db: AsyncSession, session: RealtimeSession, now: datetime) -> None:
        transition(db, session, Status.READY, at=now, reason="admitted")
        session.session_key = secrets.token_urlsafe(32)
        session.expires_at = now + timedelta(seconds=self._settings.session_ready_ttl_s)

    async def _end(
        self, db: AsyncSession, session: RealtimeSession, to: Status, at: datetime, *, reason: str
    ) -> None:
        transition(db, session, to, at=at, reason=reason)
        if session.duration:
            await self._charge(db, session)

    async def _charge(self, db: AsyncSession, session: RealtimeSession) -> None:
        s = self._settings
        amount = math.ceil((session.duration or 0) / s.credit_unit_s) * s.credits_per_unit
        org = await self._lock_org(db, session.organization_id)
        amount = min(amount, max(org.credit_balance, 0))
        if amount <= 0:
            return
        org.credit_balance -= amount
        session.credits_charged = amount
        db.add(
            CreditCharge(
                organization_id=org.id,
                api_key_id=session.api_key_id,
                session_id=session.id,
                model=MODEL,
                amount=amount,
                at=utcnow(),
            )
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
            (
                await db.execute(
                    select(RealtimeSession.queued, func.count())
                    .where(
                        RealtimeSession.organization_id == org_id,
                        RealtimeSession.status.in_(
                            [Status.NOT_READY, Status.READY, Status.RUNNING]
                        ),
                    )
                    .group_by(RealtimeSession.queued)
                )
            )
            .tuples()
            .all()
        )
        counts = {bool(q): n for q, n in rows}
        return counts.get(False, 0), counts.get(True, 0)

    async def _lock_org(self, db: AsyncSession, org_id: str) -> Organization:
        org = await db.get(Organization, org_id, with_for_update=True, populate_existing=True)
        if org is None:
            raise NotFound(f"Organisation {org_id} not found.")
        return org

    async def _owned(
        self, db: AsyncSession, principal: Principal, session_id: str, *, lock: bool = False
    ) -> RealtimeSession:
        session = await db.get(RealtimeSession, session_id, with_for_update=lock)
        if session is None or session.organization_id != principal.organization_id:
            raise NotFound(f"Realtime session {session_id} not found.")
        return session


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
