"""Session webhooks: lifecycle events POSTed to the organisation's webhook URL.

A status change that has an event (:data:`EVENTS`) stores a ``webhook_deliveries`` row in the
same transaction (:func:`enqueue`): the event exists exactly when the change does, and survives
a restart. :class:`SessionWebhooks` (one per server process) sends due deliveries, signed
(:mod:`~characters.webhooks.signing`), and records each attempt's outcome on the row: delivered,
retried after a growing pause (``webhook_backoff_s``, ×4 each time, at most an hour), or failed
after ``webhook_max_attempts``. Nothing here runs on a call's path: the dispatcher has its own
task, and a webhook that hangs costs it one attempt's ``webhook_timeout_s``.

The final event of a session that had a call waits for the call to be stored (transcript and
recording), which :func:`release` says; ``webhook_final_hold_s`` is the longest wait. Events of
one session are sent in order: a delivery waits while an older one of its session is pending.
Several processes on one database share the work: a delivery is claimed under a row lock and
leased (its ``next_attempt_at`` moves past the attempt's time limit) before it is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from characters.api.routes.conversations import transcript_wire
from characters.config import Settings
from characters.sessions.states import TERMINAL, Status
from characters.store.blobs import BlobStore
from characters.store.db import Database
from characters.store.tables import (
    Organization,
    RealtimeSession,
    TranscriptEntry,
    WebhookDelivery,
)
from characters.timeutil import iso, iso_opt, utcnow
from characters.webhooks.client import WebhookClient

log = logging.getLogger(__name__)

EVENTS = {
    Status.RUNNING: "session.started",
    Status.COMPLETED: "session.completed",
    Status.FAILED: "session.failed",
    Status.CANCELLED: "session.cancelled",
}
"""The status changes that send an event, and its ``type``."""
BATCH = 10
"""Deliveries claimed at once."""
POLL_S = 1.0
"""How often due deliveries are looked for when nothing wakes the dispatcher (retries, the
holds' ends, deliveries enqueued by other processes)."""
LEASE_MARGIN_S = 30.0
MAX_BACKOFF_S = 3600.0


async def enqueue(
    db: AsyncSession, session: RealtimeSession, status: Status, *, hold_s: float
) -> None:
    """In the caller's transaction: the event of ``session`` becoming ``status``, if it has
    one and the organisation has a webhook URL. A final event of a session whose media token
    was used (a call ran, or tried to) is held up to ``hold_s`` for its recording."""
    event = EVENTS.get(status)
    if event is None:
        return
    org = await db.get(Organization, session.organization_id)
    if org is None or not org.webhook_url or not org.webhook_secret:
        return
    now = utcnow()
    held = status in TERMINAL and session.token_used_at is not None
    db.add(
        WebhookDelivery(
            id=str(uuid.uuid4()),
            organization_id=org.id,
            session_id=session.id,
            event=event,
            url=org.webhook_url,
            status="pending",
            attempts=0,
            next_attempt_at=now + timedelta(seconds=hold_s) if held else now,
            created_at=now,
        )
    )
    db.info["webhooks"] = True


async def release(db: Database, session_id: str) -> None:
    """The call of ``session_id`` is stored: its held events are due now."""
    now = utcnow()
    async with db.transaction() as tx:
        await tx.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.session_id == session_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.attempts == 0,
                WebhookDelivery.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: str
    url: str
    secret: str
    body: bytes
    attempts: int
    event: str


class SessionWebhooks:
    """Sends the session webhooks of the database (see the module docstring).

    Args:
        db, blobs: the store (the final event links the recording, signed).
        settings: ``webhook_*`` settings; ``public_url`` (else ``http://host:port``) starts
            the links in events.
        client: the server's webhook client.
    """

    def __init__(
        self, db: Database, settings: Settings, client: WebhookClient, blobs: BlobStore
    ) -> None:
        self._db = db
        self._settings = settings
        self._client = client
        self._blobs = blobs
        self._wake = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        s = self._settings
        if s.public_url:
            return s.public_url.rstrip("/")
        host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
        return f"http://{host}:{s.port}"

    def start(self) -> None:
        self._run_task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        """Stop sending (an attempt under way is abandoned; its lease retries it later)."""
        if self._run_task is not None:
            self._run_task.cancel()
            await asyncio.gather(self._run_task, return_exceptions=True)
            self._run_task = None

    @property
    def client(self) -> WebhookClient:
        return self._client

    def wake(self) -> None:
        """Look for due deliveries now (a status change stored one, a hold was released)."""
        self._wake.set()

    async def call_stored(self, session_id: str) -> None:
        """A call is over and stored: its session's final event may go (:func:`release`)."""
        try:
            await release(self._db, session_id)
        except Exception:  # the hold ends by itself (webhook_final_hold_s)
            log.exception("releasing the webhooks of session %s failed", session_id)
        self.wake()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sending session webhooks failed")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            except TimeoutError:
                pass

    async def deliver_due(self) -> int:
        """Send the deliveries due now (at most :data:`BATCH`, at once); how many."""
        claimed = await self._claim()
        if claimed:
            await asyncio.gather(*(self._attempt(c) for c in claimed))
        return len(claimed)

    async def _claim(self) -> list[_Claimed]:
        s = self._settings
        now = utcnow()
        out: list[_Claimed] = []
        async with self._db.transaction() as db:
            due = (
                await db.scalars(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for delivery in due:
                if await self._waits_for_older(db, delivery):
                    continue
                org = await db.get(Organization, delivery.organization_id)
                if org is None or not org.webhook_url or not org.webhook_secret:
                    delivery.status = "failed"
                    delivery.last_error = "the organisation's webhook URL was removed"
                    continue
                delivery.url = org.webhook_url  # a corrected URL applies to pending retries
                if delivery.payload is None:
                    delivery.payload = await self._payload(db, delivery)
                delivery.attempts += 1
                delivery.last_attempt_at = now
                delivery.next_attempt_at = now + timedelta(
                    seconds=s.webhook_timeout_s + LEASE_MARGIN_S
                )
                body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"))
                out.append(
                    _Claimed(
                        delivery.id,
                        delivery.url,
                        org.webhook_secret,
                        body.encode(),
                        delivery.attempts,
                        delivery.event,
                    )
                )
        return out

    async def _waits_for_older(self, db: AsyncSession, delivery: WebhookDelivery) -> bool:
        if delivery.session_id is None:
            return False
        older = await db.scalar(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.session_id == delivery.session_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.created_at < delivery.created_at,
            )
            .limit(1)
        )
        return older is not None

    async def _attempt(self, claimed: _Claimed) -> None:
        s = self._settings
        reply = await self._client.post(
            claimed.url, claimed.secret, claimed.id, claimed.body, timeout_s=s.webhook_timeout_s
        )
        now = utcnow()
        async with self._db.transaction() as db:
            delivery = await db.get(WebhookDelivery, claimed.id, with_for_update=True)
            if delivery is None:
                return
            delivery.response_status = reply.status
            if reply.ok:
                delivery.status = "delivered"
                delivery.delivered_at = now
                delivery.last_error = None
                log.info("webhook %s %s delivered", claimed.event, claimed.id)
                return
            delivery.last_error = reply.describe()[:1000]
            if claimed.attempts >= s.webhook_max_attempts:
                delivery.status = "failed"
                log.warning(
                    "webhook %s %s failed after %d attempts: %s",
                    claimed.event,
                    claimed.id,
                    claimed.attempts,
                    delivery.last_error,
                )
                return
            pause = min(MAX_BACKOFF_S, s.webhook_backoff_s * 4 ** (claimed.attempts - 1))
            delivery.next_attempt_at = now + timedelta(seconds=pause)
            log.info(
                "webhook %s %s: attempt %d failed (%s); next in %.0f s",
                claimed.event,
                claimed.id,
                claimed.attempts,
                delivery.last_error,
                pause,
            )

    async def _payload(self, db: AsyncSession, delivery: WebhookDelivery) -> dict[str, Any]:
        """The event's body, built when it is first sent (the final event's recording is
        stored by then)."""
        session = (
            await db.get(RealtimeSession, delivery.session_id) if delivery.session_id else None
        )
        data: dict[str, Any] = {}
        if session is not None:
            status = next((k for k, v in EVENTS.items() if v == delivery.event), None)
            data["session"] = _session(session, status)
            if status in TERMINAL:
                data.update(await self._final(db, session))
        return {
            "id": delivery.id,
            "type": delivery.event,
            "createdAt": iso(delivery.created_at),
            "data": data,
        }

    async def _final(self, db: AsyncSession, session: RealtimeSession) -> dict[str, Any]:
        base = self.base_url
        entries = (
            await db.scalars(
                select(TranscriptEntry)
                .where(TranscriptEntry.session_id == session.id)
                .order_by(TranscriptEntry.id)
                .limit(1000)
            )
        ).all()
        recording = (
            base + self._blobs.signed_path(session.recording_blob_id)
            if session.recording_blob_id and session.conversation_deleted_at is None
            else None
        )
        return {
            "transcript": [transcript_wire(e) for e in entries],
            "recordingUrl": recording,
            "links": {
                "conversation": f"{base}/v1/avatar_conversations/{session.id}",
                "recording": recording,
            },
        }


def _session(session: RealtimeSession, status: Status | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": session.id,
        "status": (status or Status(session.status)).value,
        "avatar": {"type": "custom", "id": session.avatar_id, "name": session.avatar_name},
        "createdAt": iso(session.created_at),
        "startedAt": iso_opt(session.started_at),
        "maxDuration": session.max_duration,
    }
    if status in TERMINAL:
        out["endedAt"] = iso_opt(session.ended_at)
        out["duration"] = session.duration
    if status == Status.FAILED:
        out["failure"] = session.failure or "The session failed."
        out["failureCode"] = session.failure_code or "INTERNAL"
    return out
