"""``SessionManager`` in-process against a real database (SQLite, or PostgreSQL when
``CHARACTERS_TEST_DATABASE_URL`` is set): admission per tier, promotion, consume-once, connect,
timers, credits, limits and isolation between organisations.

Most tests drive the manager's clock by hand (``clock``), so timers are exact and nothing sleeps;
one test runs the real sweeper task on the wall clock.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from characters.config import TIERS, Settings, Tier, async_url
from characters.errors import Conflict, InvalidInput, LimitExceeded, NotFound, Unauthorized
from characters.sessions import manager as manager_module
from characters.sessions.manager import Credentials, SessionManager, SessionSpec
from characters.sessions.states import FailureCode, Status
from characters.store.db import Database
from characters.store.keys import Principal, create_key
from characters.store.tables import (
    Avatar,
    Blob,
    CreditCharge,
    Organization,
    RealtimeSession,
    SessionTransition,
)
from characters.timeutil import as_utc
from tests.conftest import PG_URL, PgDatabase

pytestmark = pytest.mark.store

T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
BASE = "http://media.test"
TEST_TIER = 9  # a tier added per test (monkeypatch) where a limit must be small


# Databases: one migrated template per test run, copied (SQLite) or cloned (PostgreSQL) per test.


class PgClone(PgDatabase):
    def create_from(self, template: str) -> None:
        self._admin(f'CREATE DATABASE "{self.name}" TEMPLATE "{template}"')


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite: the path of a migrated file. PostgreSQL: the name of a migrated database."""
    if PG_URL:
        pg = PgDatabase(PG_URL, name="characters_tmpl_" + uuid.uuid4().hex[:12])
        pg.create()
        url = async_url(pg.url)
    else:
        path = tmp_path_factory.mktemp("manager-template") / "template.db"
        url = f"sqlite+aiosqlite:///{path}"

    async def build() -> None:
        db = Database(url)
        await db.migrate()
        await db.aclose()

    asyncio.run(build())
    if PG_URL:
        yield pg.name
        pg.drop()
    else:
        yield str(path)


@pytest.fixture
async def database(db_template: str, tmp_path: Path) -> AsyncIterator[Database]:
    clone: PgClone | None = None
    if PG_URL:
        clone = PgClone(PG_URL)
        clone.create_from(db_template)
        url = async_url(clone.url)
    else:
        path = tmp_path / "manager.db"
        shutil.copyfile(db_template, path)
        url = f"sqlite+aiosqlite:///{path}"
    db = Database(url)
    yield db
    await db.aclose()
    if clone is not None:
        clone.drop()


# The manager's clock


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def at(self, seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(T0)
    monkeypatch.setattr(manager_module, "utcnow", c)
    return c


# The world a test runs in: a database, a manager, organisations with a READY avatar.


@dataclass
class Org:
    principal: Principal
    avatar_id: str
    key_id: str

    @property
    def id(self) -> str:
        return self.principal.organization_id


@dataclass
class World:
    db: Database
    manager: SessionManager
    settings: Settings

    async def org(self, *, tier: int = 1, credits: int = 10_000) -> Org:
        async with self.db.transaction() as s:
            created = await create_key(s, name="org", tier=tier, credits=credits)
            org_id = created.organization.id
            blob = Blob(
                id=str(uuid.uuid4()),
                organization_id=org_id,
                content_type="image/png",
                size=3,
                sha256="0" * 64,
                created_at=T0,
            )
            s.add(blob)
            await s.flush()
            avatar = await self._avatar(s, org_id, blob.id, "READY")
        principal = Principal(organization_id=org_id, api_key_id=created.row.id)
        return Org(principal, avatar, created.row.id)

    async def avatar(self, org: Org, status: str, failure: str | None = None) -> str:
        async with self.db.transaction() as s:
            blob_id = (
                await s.scalars(select(Blob.id).where(Blob.organization_id == org.id))
            ).first()
            assert blob_id is not None
            return await self._avatar(s, org.id, blob_id, status, failure)

    @staticmethod
    async def _avatar(
        s: Any, org_id: str, blob_id: str, status: str, failure: str | None = None
    ) -> str:
        avatar = Avatar(
            id=str(uuid.uuid4()),
            organization_id=org_id,
            name="Ada",
            personality="A friendly guide.",
            voice={"type": "runway-live-preset", "presetId": "clara"},
            image_processing="optimize",
            status=status,
            failure_reason=failure,
            image_version=1,
            reference_blob_id=blob_id,
            created_at=T0,
            updated_at=T0,
        )
        s.add(avatar)
        await s.flush()
        return avatar.id

    async def create(self, org: Org, **spec: Any) -> RealtimeSession:
        return await self.manager.create(
            org.principal, SessionSpec(avatar_id=org.avatar_id, **spec)
        )

    async def row(self, session_id: str) -> RealtimeSession:
        async with self.db.transaction() as s:
            row = await s.get(RealtimeSession, session_id)
            assert row is not None
            return row

    async def status(self, session_id: str) -> Status:
        return Status((await self.row(session_id)).status)

    async def log(self, session_id: str) -> list[tuple[str | None, str, datetime, str | None]]:
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(SessionTransition)
                .where(SessionTransition.session_id == session_id)
                .order_by(SessionTransition.id)
            )
            return [(t.from_status, t.to_status, as_utc(t.at), t.reason) for t in rows]

    async def balance(self, org: Org) -> int:
        async with self.db.transaction() as s:
            found = await s.get(Organization, org.id)
            assert found is not None
            return found.credit_balance

    async def set_balance(self, org: Org, credits: int) -> None:
        async with self.db.transaction() as s:
            found = await s.get(Organization, org.id)
            assert found is not None
            found.credit_balance = credits

    async def charges(self, org: Org) -> list[CreditCharge]:
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(CreditCharge)
                .where(CreditCharge.organization_id == org.id)
                .order_by(CreditCharge.id)
            )
            return list(rows.all())

    async def consume(self, session: RealtimeSession) -> Credentials:
        row = await self.row(session.id)
        return await self.manager.consume(session.id, f"Bearer {row.session_key}", BASE)

    async def start(self, session: RealtimeSession) -> RealtimeSession:
        """Consume and connect: READY → RUNNING at the clock's time."""
        creds = await self.consume(session)
        return await self.manager.connect(session.id, creds.token)


WorldFactory = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(database: Database, tmp_path: Path) -> AsyncIterator[WorldFactory]:
    managers: list[SessionManager] = []

    async def make(**overrides: Any) -> World:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "session_ready_ttl_s": 60.0,
            "session_peer_grace_s": 10.0,
            "sweep_interval_s": 0.05,
            "session_default_max_duration_s": 300,
            "session_max_duration_cap_s": 600,
            "max_calls": 1000,  # tier admission is what most tests here are about
        }
        values.update(overrides)
        settings = Settings(**values)
        manager = SessionManager(database, settings)
        managers.append(manager)
        return World(database, manager, settings)

    yield make
    for m in managers:
        await m.aclose()


@pytest.fixture
async def world(make_world: WorldFactory, clock: Clock) -> World:
    return await make_world()


@pytest.fixture
def small_tier(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """Register tier ``TEST_TIER`` with the given limits (removed after the test)."""

    def register(
        concurrent: int = 1, queued: int = 2, daily: int = 50, monthly: int = 20_000
    ) -> int:
        monkeypatch.setitem(TIERS, TEST_TIER, Tier(concurrent, queued, daily, monthly))
        return TEST_TIER

    return register


# Admission


async def test_tier1_admits_one_active_and_queues_two(world: World, clock: Clock) -> None:
    org = await world.org(tier=1)
    first = await world.create(org)
    assert first.status == Status.READY and not first.queued
    assert first.session_key and first.expires_at is not None
    assert as_utc(first.expires_at) == T0 + timedelta(seconds=60)
    clock.advance(1)
    second = await world.create(org)
    clock.advance(1)
    third = await world.create(org)
    for s in (second, third):
        assert s.status == Status.NOT_READY and s.queued
        assert s.session_key is None and s.expires_at is None
    clock.advance(1)
    with pytest.raises(LimitExceeded) as err:
        await world.create(org)
    assert "1 active" in err.value.message and "2 queued" in err.value.message
    assert err.value.retry_after_s
    assert await world.log(first.id) == [
        (None, Status.NOT_READY, T0, "created"),
        (Status.NOT_READY, Status.READY, T0, "admitted"),
    ]
    assert await world.log(second.id) == [
        (None, Status.NOT_READY, clock.at(1), "queued for capacity")
    ]


async def test_concurrent_creates_respect_the_tier(world: World) -> None:
    org = await world.org(tier=1)
    results = await asyncio.gather(*(world.create(org) for _ in range(6)), return_exceptions=True)
    sessions = [r for r in results if isinstance(r, RealtimeSession)]
    errors = [r for r in results if not isinstance(r, RealtimeSession)]
    assert all(isinstance(e, LimitExceeded) for e in errors), errors
    assert len(errors) == 3
    assert sorted((s.status, s.queued) for s in sessions) == [
        (Status.NOT_READY, True),
        (Status.NOT_READY, True),
        (Status.READY, False),
    ]


@pytest.mark.parametrize("how", ["cancel", "expiry", "completion", "max_duration", "failure"])
async def test_a_freed_slot_goes_to_the_oldest_queued_session(
    world: World, clock: Clock, how: str
) -> None:
    org = await world.org(tier=1)
    first = await world.create(org, max_duration=30)
    clock.advance(1)
    second = await world.create(org)
    clock.advance(1)
    third = await world.create(org)
    if how in ("completion", "max_duration", "failure"):
        clock.advance(1)
        await world.start(first)
    if how == "cancel":
        await world.manager.cancel(org.principal, first.id)
    elif how == "expiry":
        clock.advance(60)
        await world.manager.sweep()
    elif how == "completion":
        clock.advance(5)
        await world.manager.finish(first.id, Status.COMPLETED, reason="END_CALL")
    elif how == "failure":
        clock.advance(5)
        await world.manager.finish(
            first.id,
            Status.FAILED,
            reason="engine crashed",
            failure="The engine crashed.",
            failure_code=FailureCode.INTERNAL,
        )
    else:
        for _ in range(3):  # keep the peer alive up to the cap
            clock.advance(9)
            await world.manager.heartbeat(first.id)
        clock.advance(4)
        await world.manager.sweep()
    assert await world.status(first.id) in {Status.CANCELLED, Status.FAILED, Status.COMPLETED}
    promoted = await world.row(second.id)
    assert promoted.status == Status.READY and not promoted.queued
    assert promoted.session_key
    assert as_utc(promoted.expires_at) == clock.now + timedelta(seconds=60)  # type: ignore[arg-type]
    assert (await world.log(second.id))[-1] == (
        Status.NOT_READY,
        Status.READY,
        clock.now,
        "admitted",
    )
    waiting = await world.row(third.id)
    assert waiting.status == Status.NOT_READY and waiting.queued
    # The queue has room again: a fourth session is admitted (queued), a fifth is not.
    assert (await world.create(org)).queued
    with pytest.raises(LimitExceeded):
        await world.create(org)


async def test_promotion_follows_creation_order(
    world: World, clock: Clock, small_tier: Callable[..., int]
) -> None:
    org = await world.org(tier=small_tier(concurrent=1, queued=5))
    ids = []
    for _ in range(6):
        ids.append((await world.create(org)).id)
        clock.advance(0.001)
    order = []
    for _ in range(5):
        ready = [i for i in ids if await world.status(i) == Status.READY]
        assert len(ready) == 1
        order.append(ready[0])
        await world.manager.cancel(org.principal, ready[0])
    order.extend([i for i in ids if await world.status(i) == Status.READY])
    assert order == ids


async def test_lazy_expiry_frees_the_slot_for_the_oldest_queued_session(
    world: World, clock: Clock
) -> None:
    """A session that expires when read (no sweep yet) must not let a newer one jump the queue."""
    org = await world.org(tier=1)
    first = await world.create(org)
    clock.advance(1)
    second = await world.create(org)
    clock.advance(60)
    assert (await world.manager.get(org.principal, first.id)).status == Status.FAILED
    clock.advance(1)
    newest = await world.create(org)
    assert await world.status(second.id) == Status.READY
    newest = await world.row(newest.id)
    assert newest.status == Status.NOT_READY and newest.queued


async def test_a_new_session_queues_behind_waiting_ones(world: World, clock: Clock) -> None:
    """Even while a freed slot has not been handed out yet, a new session waits its turn."""
    org = await world.org(tier=1)
    first = await world.create(org)
    clock.advance(1)
    second = await world.create(org)
    clock.advance(1)
    # The slot frees without the manager's promotion step (as between a cancel's commit and
    # its promotion, or a session ended by another process).
    async with world.db.transaction() as s:
        row = await s.get(RealtimeSession, first.id)
        assert row is not None
        row.status = Status.CANCELLED
    newest = await world.create(org)
    assert await world.status(second.id) == Status.READY
    assert (await world.row(newest.id)).queued


async def test_concurrent_creates_cancels_and_sweeps_keep_the_limits(world: World) -> None:
    """Many callers at once (PostgreSQL: several connections) never deadlock or over-admit."""
    org = await world.org(tier=1)
    limit_hits = 0

    async def caller(n: int) -> None:
        nonlocal limit_hits
        for i in range(4):
            try:
                session = await world.create(org)
            except LimitExceeded:
                limit_hits += 1
                continue
            if (n + i) % 2:
                await world.manager.cancel(org.principal, session.id)
            await world.manager.sweep()
            async with world.db.transaction() as s:
                admitted = await s.scalar(
                    select(func.count()).where(
                        RealtimeSession.organization_id == org.id,
                        RealtimeSession.status.in_([Status.READY, Status.RUNNING]),
                    )
                )
            assert admitted is not None and admitted <= 1

    await asyncio.gather(*(caller(n) for n in range(6)))
    async with world.db.transaction() as s:
        active = (
            await s.execute(
                select(RealtimeSession.status, RealtimeSession.queued).where(
                    RealtimeSession.organization_id == org.id,
                    RealtimeSession.status.in_([Status.NOT_READY, Status.READY, Status.RUNNING]),
                )
            )
        ).all()
    assert len(active) <= 3
    assert sum(1 for st, _ in active if st != Status.NOT_READY) <= 1
    if active:  # a free slot never stays unused while sessions wait
        assert any(st == Status.READY for st, _ in active)
    assert limit_hits > 0


# Organisations are isolated


async def test_organisations_do_not_share_slots_or_sessions(world: World, clock: Clock) -> None:
    a, b = await world.org(tier=1), await world.org(tier=1)
    a1 = await world.create(a)
    clock.advance(1)
    a2 = await world.create(a)
    clock.advance(1)
    a3 = await world.create(a)
    with pytest.raises(LimitExceeded):
        await world.create(a)
    b1 = await world.create(b)
    assert b1.status == Status.READY and not b1.queued
    assert a2.queued and a3.queued

    with pytest.raises(NotFound):
        await world.manager.get(b.principal, a1.id)
    with pytest.raises(NotFound):
        await world.manager.cancel(b.principal, a1.id)
    assert await world.status(a1.id) == Status.READY

    # Ending A's session promotes A's queue and leaves B alone.
    await world.manager.cancel(a.principal, a1.id)
    assert await world.status(a2.id) == Status.READY
    assert await world.status(b1.id) == Status.READY
    assert (await world.manager.get(b.principal, b1.id)).id == b1.id
    # B's avatar is not A's to use.
    with pytest.raises(InvalidInput):
        await world.manager.create(a.principal, SessionSpec(avatar_id=b.avatar_id))


async def test_get_and_cancel_unknown_session(world: World) -> None:
    org = await world.org()
    missing = str(uuid.uuid4())
    with pytest.raises(NotFound):
        await world.manager.get(org.principal, missing)
    with pytest.raises(NotFound):
        await world.manager.cancel(org.principal, missing)
    with pytest.raises(NotFound):
        await world.manager.consume(missing, "Bearer x", BASE)


# Create: inputs


async def test_create_checks_the_avatar_and_caps_max_duration(world: World) -> None:
    org = await world.org(tier=2)
    with pytest.raises(InvalidInput, match="not found"):
        await world.manager.create(org.principal, SessionSpec(avatar_id=str(uuid.uuid4())))
    processing = await world.avatar(org, "PROCESSING")
    with pytest.raises(InvalidInput, match="still processing"):
        await world.manager.create(org.principal, SessionSpec(avatar_id=processing))
    failed = await world.avatar(org, "FAILED", failure="no face found")
    with pytest.raises(InvalidInput, match="no face found"):
        await world.manager.create(org.principal, SessionSpec(avatar_id=failed))
    # Longer than this server's cap (600 here): shortened to the cap, not refused.
    assert (await world.create(org, max_duration=1800)).max_duration == 600
    assert (await world.create(org)).max_duration == 300  # the default
    assert (await world.create(org, max_duration=600)).max_duration == 600


# Consume-once and connect


async def test_consume_once(world: World) -> None:
    org = await world.org()
    session = await world.create(org)
    key = session.session_key
    creds = await world.manager.consume(session.id, f"Bearer {key}", BASE)
    assert creds.url == f"{BASE}/v1/realtime_sessions/{session.id}/webrtc"
    assert creds.room_name == session.id
    assert len(creds.token) >= 32
    row = await world.row(session.id)
    assert row.status == Status.READY  # consume does not start the session
    assert row.consumed_at is not None and row.token_hash and row.token_hash != creds.token

    with pytest.raises(Conflict, match="already consumed"):
        await world.manager.consume(session.id, f"Bearer {key}", BASE)
    with pytest.raises(Unauthorized):
        await world.manager.consume(session.id, "Bearer wrong", BASE)


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer ", "Bearer wrong-key", "Basic abc", "wrong-key"]
)
async def test_consume_needs_the_session_key(world: World, authorization: str | None) -> None:
    org = await world.org()
    session = await world.create(org)
    with pytest.raises(Unauthorized):
        await world.manager.consume(session.id, authorization, BASE)
    assert (await world.row(session.id)).consumed_at is None
    # The right key still works afterwards.
    await world.manager.consume(session.id, f"Bearer {session.session_key}", BASE)


async def test_consume_of_another_sessions_key_is_refused(world: World) -> None:
    org = await world.org(tier=2)
    one, two = await world.create(org), await world.create(org)
    with pytest.raises(Unauthorized):
        await world.manager.consume(one.id, f"Bearer {two.session_key}", BASE)


async def test_consume_needs_a_ready_session(world: World, clock: Clock) -> None:
    org = await world.org(tier=1)
    ready = await world.create(org)
    queued = await world.create(org)
    with pytest.raises(Conflict, match="NOT_READY"):
        await world.manager.consume(queued.id, "Bearer anything", BASE)
    running = await world.start(ready)
    assert running.status == Status.RUNNING
    await world.manager.cancel(org.principal, ready.id)
    # queued is READY now; let it expire, then consume.
    key = (await world.row(queued.id)).session_key
    clock.advance(61)
    with pytest.raises(Conflict):
        await world.manager.consume(queued.id, f"Bearer {key}", BASE)
    assert (await world.manager.get(org.principal, queued.id)).status == Status.FAILED


async def test_concurrent_consumes_hand_out_one_token(world: World) -> None:
    org = await world.org()
    session = await world.create(org)
    auth = f"Bearer {session.session_key}"
    results = await asyncio.gather(
        *(world.manager.consume(session.id, auth, BASE) for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(r, Credentials) for r in results) == 1
    assert all(isinstance(r, Credentials | Conflict) for r in results), results


async def test_connect_with_the_token_starts_the_session_once(world: World, clock: Clock) -> None:
    org = await world.org()
    session = await world.create(org)
    creds = await world.consume(session)
    with pytest.raises(Unauthorized):
        await world.manager.connect(session.id, "not-the-token")
    clock.advance(2)
    running = await world.manager.connect(session.id, creds.token)
    assert running.status == Status.RUNNING
    row = await world.row(session.id)
    assert as_utc(row.started_at) == clock.now  # type: ignore[arg-type]
    assert as_utc(row.last_seen_at) == clock.now  # type: ignore[arg-type]
    assert row.token_used_at is not None
    with pytest.raises(Unauthorized):
        await world.manager.connect(session.id, creds.token)
    assert (await world.log(session.id))[-1] == (
        Status.READY,
        Status.RUNNING,
        clock.now,
        "media peer connected",
    )


async def test_connect_without_consume_or_after_cancel(world: World) -> None:
    org = await world.org()
    session = await world.create(org)
    with pytest.raises(Unauthorized):
        await world.manager.connect(session.id, "anything")
    creds = await world.consume(session)
    await world.manager.cancel(org.principal, session.id)
    with pytest.raises(Conflict, match="CANCELLED"):
        await world.manager.connect(session.id, creds.token)
    with pytest.raises(NotFound):
        await world.manager.connect(str(uuid.uuid4()), creds.token)


async def test_connect_after_expiry_fails(world: World, clock: Clock) -> None:
    org = await world.org()
    session = await world.create(org)
    creds = await world.consume(session)
    clock.advance(60)
    with pytest.raises(Conflict, match="FAILED"):
        await world.manager.connect(session.id, creds.token)


async def test_concurrent_connects_start_once(world: World) -> None:
    org = await world.org()
    session = await world.create(org)
    creds = await world.consume(session)
    results = await asyncio.gather(
        *(world.manager.connect(session.id, creds.token) for _ in range(4)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, RealtimeSession) for r in results) == 1
    assert all(isinstance(r, RealtimeSession | Unauthorized) for r in results), results
    assert [t[1] for t in await world.log(session.id)].count(Status.RUNNING) == 1


# Timers


@pytest.mark.parametrize("via", ["sweep", "get"])
async def test_ready_session_expires(world: World, clock: Clock, via: str) -> None:
    org = await world.org()
    session = await world.create(org)
    clock.advance(59.999)
    if via == "sweep":
        await world.manager.sweep()
        assert await world.status(session.id) == Status.READY
    else:
        assert (await world.manager.get(org.principal, session.id)).status == Status.READY
    clock.advance(0.001)
    if via == "sweep":
        await world.manager.sweep()
        row = await world.row(session.id)
    else:
        row = await world.manager.get(org.principal, session.id)
        assert (await world.row(session.id)).status == Status.FAILED  # stored, not just shown
    assert row.status == Status.FAILED
    assert row.failure_code == FailureCode.SESSION_EXPIRED
    assert row.failure and "expired" in row.failure
    assert row.duration is None
    assert (await world.log(session.id))[-1] == (
        Status.READY,
        Status.FAILED,
        clock.now,
        "expired while READY",
    )
    assert await world.charges(org) == []


async def test_consumed_but_never_connected_session_expires(world: World, clock: Clock) -> None:
    org = await world.org()
    session = await world.create(org)
    await world.consume(session)
    clock.advance(60)
    await world.manager.sweep()
    assert (await world.row(session.id)).failure_code == FailureCode.SESSION_EXPIRED


async def test_expiry_on_the_wall_clock_by_the_sweeper(make_world: WorldFactory) -> None:
    world = await make_world(session_ready_ttl_s=0.3, sweep_interval_s=0.05)
    org = await world.org(tier=1)
    first = await world.create(org)
    second = await world.create(org)
    world.manager.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while await world.status(second.id) != Status.READY:  # promoted once the first expired
        assert loop.time() < deadline, "the sweeper did not expire the session"
        await asyncio.sleep(0.02)
    first_row = await world.row(first.id)
    assert first_row.status == Status.FAILED
    assert first_row.failure_code == FailureCode.SESSION_EXPIRED
    waited = (as_utc(first_row.ended_at) - as_utc(first_row.ready_at)).total_seconds()  # type: ignore[arg-type]
    assert 0.3 <= waited < 5


@pytest.mark.parametrize("via", ["sweep", "get"])
async def test_max_duration_completes_the_session(world: World, clock: Clock, via: str) -> None:
    org = await world.org()
    session = await world.create(org, max_duration=30)
    await world.start(session)
    started = clock.now
    for _ in range(3):
        clock.advance(9.5)
        await world.manager.heartbeat(session.id)
    clock.advance(1.5)  # 30 s after the start
    if via == "sweep":
        await world.manager.sweep()
    else:
        await world.manager.get(org.principal, session.id)
    row = await world.row(session.id)
    assert row.status == Status.COMPLETED
    assert row.duration == 30
    assert as_utc(row.ended_at) == started + timedelta(seconds=30)  # type: ignore[arg-type]
    assert (await world.log(session.id))[-1][1:] == (
        Status.COMPLETED,
        started + timedelta(seconds=30),
        "maxDuration reached",
    )
    assert row.credits_charged == 10  # 5 started units of 6 s


async def test_max_duration_is_exact_even_when_swept_late(world: World, clock: Clock) -> None:
    org = await world.org()
    session = await world.create(org, max_duration=12)
    await world.start(session)
    clock.advance(6)
    await world.manager.heartbeat(session.id)
    clock.advance(8)  # the sweeper runs 2 s after the cap; the peer was alive at the cap
    await world.manager.sweep()
    row = await world.row(session.id)
    assert row.status == Status.COMPLETED and row.duration == 12 and row.credits_charged == 4


async def test_peer_vanished_completes_after_the_grace(world: World, clock: Clock) -> None:
    org = await world.org()
    session = await world.create(org)
    await world.start(session)
    started = clock.now
    clock.advance(4)
    await world.manager.heartbeat(session.id)
    clock.advance(9.999)
    await world.manager.sweep()
    assert await world.status(session.id) == Status.RUNNING
    clock.advance(0.001)
    await world.manager.sweep()
    row = await world.row(session.id)
    assert row.status == Status.COMPLETED
    assert row.duration == 4  # until the last sign of life
    assert as_utc(row.ended_at) == started + timedelta(seconds=4)  # type: ignore[arg-type]
    assert (await world.log(session.id))[-1][3] == "media peer vanished"
    assert row.credits_charged == 2


async def test_peer_that_never_heartbeats_completes_after_the_grace(
    make_world: WorldFactory, clock: Clock
) -> None:
    world = await make_world(session_peer_grace_s=2)
    org = await world.org()
    session = await world.create(org)
    await world.start(session)
    clock.advance(2)
    await world.manager.get(org.principal, session.id)
    row = await world.row(session.id)
    assert row.status == Status.COMPLETED and row.duration == 0
    assert await world.charges(org) == []  # nothing was streamed


async def test_vanished_peer_is_not_billed_up_to_the_cap_when_swept_late(
    world: World, clock: Clock
) -> None:
    """After downtime (no sweeper), the session ends when the peer vanished, not at the cap."""
    org = await world.org()
    session = await world.create(org, max_duration=60)
    await world.start(session)
    clock.advance(5)
    await world.manager.heartbeat(session.id)
    clock.advance(95)
    await world.manager.sweep()
    row = await world.row(session.id)
    assert row.status == Status.COMPLETED
    assert row.duration == 5
    assert row.credits_charged == 2


async def test_heartbeat_only_touches_running_sessions(world: World, clock: Clock) -> None:
    org = await world.org()
    session = await world.create(org)
    clock.advance(1)
    await world.manager.heartbeat(session.id)
    await world.manager.heartbeat(str(uuid.uuid4()))
    assert (await world.row(session.id)).last_seen_at is None


# Ending sessions and credits


@pytest.mark.parametrize(
    ("seconds", "credits"),
    [(0.3, 2), (1, 2), (5.9, 2), (6, 2), (6.4, 4), (7, 4), (12, 4), (13, 6), (18, 6), (61, 22)],
)
async def test_completion_charges_two_credits_per_started_six_seconds(
    world: World, clock: Clock, seconds: float, credits: int
) -> None:
    org = await world.org(credits=1000)
    session = await world.create(org)
    await world.start(session)
    clock.advance(seconds)
    await world.manager.heartbeat(session.id)
    await world.manager.finish(session.id, Status.COMPLETED, reason="END_CALL")
    row = await world.row(session.id)
    assert row.status == Status.COMPLETED
    assert row.duration == round(seconds)
    assert row.credits_charged == credits  # billed on the exact time, not the rounded duration
    assert await world.balance(org) == 1000 - credits
    [charge] = await world.charges(org)
    assert (charge.amount, charge.model, charge.session_id, charge.api_key_id) == (
        credits,
        "gwm1_avatars",
        session.id,
        org.key_id,
    )
    assert as_utc(charge.at) == clock.now


async def test_cancelling_a_running_session_charges_it(world: World, clock: Clock) -> None:
    org = await world.org(credits=100)
    session = await world.create(org)
    await world.start(session)
    clock.advance(20)
    await world.manager.heartbeat(session.id)
    await world.manager.cancel(org.principal, session.id)
    row = await world.row(session.id)
    assert row.status == Status.CANCELLED and row.duration == 20 and row.credits_charged == 8
    assert await world.balance(org) == 92


@pytest.mark.parametrize("start", [Status.NOT_READY, Status.READY])
async def test_cancelling_before_running_charges_nothing(
    world: World, clock: Clock, start: Status
) -> None:
    org = await world.org(tier=1, credits=100)
    ready = await world.create(org)
    queued = await world.create(org)
    target = ready if start == Status.READY else queued
    clock.advance(5)
    await world.manager.cancel(org.principal, target.id)
    row = await world.row(target.id)
    assert row.status == Status.CANCELLED and row.duration is None
    assert await world.balance(org) == 100 and await world.charges(org) == []
    assert (await world.log(target.id))[-1] == (
        start,
        Status.CANCELLED,
        clock.now,
        "cancelled by API",
    )


async def test_cancel_and_finish_of_a_terminal_session_change_nothing(
    world: World, clock: Clock
) -> None:
    org = await world.org(credits=100)
    session = await world.create(org)
    await world.start(session)
    clock.advance(10)
    await world.manager.heartbeat(session.id)
    await world.manager.finish(session.id, Status.COMPLETED, reason="END_CALL")
    before = (await world.log(session.id), await world.balance(org))
    clock.advance(5)
    await world.manager.cancel(org.principal, session.id)
    await world.manager.finish(session.id, Status.FAILED, reason="late", failure="x")
    await world.manager.sweep()
    row = await world.row(session.id)
    assert row.status == Status.COMPLETED and row.duration == 10 and row.failure is None
    assert (await world.log(session.id), await world.balance(org)) == before


async def test_finish_as_failed_keeps_the_reason(world: World, clock: Clock) -> None:
    org = await world.org(credits=100)
    session = await world.create(org)
    await world.start(session)
    clock.advance(3)
    await world.manager.heartbeat(session.id)
    await world.manager.finish(
        session.id,
        Status.FAILED,
        reason="engine crashed",
        failure="The avatar engine stopped.",
        failure_code=FailureCode.INTERNAL,
    )
    row = await world.row(session.id)
    assert (row.status, row.failure, row.failure_code) == (
        Status.FAILED,
        "The avatar engine stopped.",
        FailureCode.INTERNAL,
    )
    assert row.duration == 3 and row.credits_charged == 2  # streamed time is billed


async def test_not_enough_credits(world: World) -> None:
    org = await world.org(credits=1)
    with pytest.raises(InvalidInput, match="Not enough credits"):
        await world.create(org)
    await world.set_balance(org, 2)
    assert (await world.create(org)).status == Status.READY


async def test_session_is_shortened_to_what_the_credits_pay_for(world: World, clock: Clock) -> None:
    org = await world.org(credits=5)  # pays for two 6 s units
    session = await world.create(org, max_duration=300)
    running = await world.start(session)
    assert running.max_duration == 12
    clock.advance(10)
    await world.manager.heartbeat(session.id)
    clock.advance(10)
    await world.manager.sweep()
    row = await world.row(session.id)
    assert row.status == Status.COMPLETED and row.duration == 12 and row.credits_charged == 4
    assert await world.balance(org) == 1


async def test_balance_never_goes_negative(world: World, clock: Clock) -> None:
    org = await world.org(tier=2, credits=4)
    one, two = await world.create(org), await world.create(org)
    await world.start(one)
    await world.start(two)  # both capped at 12 s: the cap does not reserve credits
    clock.advance(11)
    for s in (one, two):
        await world.manager.heartbeat(s.id)
        await world.manager.finish(s.id, Status.COMPLETED, reason="END_CALL")
    assert await world.balance(org) == 0
    assert sum(c.amount for c in await world.charges(org)) == 4


async def test_daily_session_limit(
    world: World, clock: Clock, small_tier: Callable[..., int]
) -> None:
    org = await world.org(tier=small_tier(daily=3))
    for _ in range(3):
        session = await world.create(org)
        await world.manager.cancel(org.principal, session.id)  # ended sessions still count
        clock.advance(60)
    with pytest.raises(LimitExceeded, match="Daily session limit"):
        await world.create(org)
    clock.now = datetime(2026, 11, 21, 0, 0, 0, tzinfo=UTC)  # a new UTC day
    assert (await world.create(org)).status == Status.READY


async def test_monthly_credit_spend_limit(
    world: World, clock: Clock, small_tier: Callable[..., int]
) -> None:
    org = await world.org(tier=small_tier(monthly=4))
    session = await world.create(org)
    await world.start(session)
    clock.advance(10)
    await world.manager.heartbeat(session.id)
    await world.manager.finish(session.id, Status.COMPLETED, reason="END_CALL")
    with pytest.raises(LimitExceeded, match="Monthly credit spend"):
        await world.create(org)
    clock.now = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    assert (await world.create(org)).status == Status.READY


# The transition log


async def test_every_transition_is_stored_with_its_time(world: World, clock: Clock) -> None:
    org = await world.org(tier=1, credits=100)
    first = await world.create(org)
    clock.advance(1)
    second = await world.create(org)
    clock.advance(2)
    await world.start(first)
    clock.advance(7)
    await world.manager.heartbeat(first.id)
    await world.manager.finish(first.id, Status.COMPLETED, reason="END_CALL")
    clock.advance(60)
    await world.manager.sweep()
    assert await world.log(first.id) == [
        (None, Status.NOT_READY, T0, "created"),
        (Status.NOT_READY, Status.READY, T0, "admitted"),
        (Status.READY, Status.RUNNING, clock.at(3), "media peer connected"),
        (Status.RUNNING, Status.COMPLETED, clock.at(10), "END_CALL"),
    ]
    assert await world.log(second.id) == [
        (None, Status.NOT_READY, clock.at(1), "queued for capacity"),
        (Status.NOT_READY, Status.READY, clock.at(10), "admitted"),
        (Status.READY, Status.FAILED, clock.at(70), "expired while READY"),
    ]
    first_row = await world.row(first.id)
    assert as_utc(first_row.ready_at) == T0  # type: ignore[arg-type]
    assert as_utc(first_row.started_at) == clock.at(3)  # type: ignore[arg-type]
    assert as_utc(first_row.ended_at) == clock.at(10)  # type: ignore[arg-type]
    assert first_row.duration == 7


async def test_late_sweep_records_expiry_at_expires_at(world: World, clock: Clock) -> None:
    """A sweep that runs late (downtime) still records the expiry when it was due."""
    org = await world.org()
    session = await world.create(org)
    due = clock.now + timedelta(seconds=60)
    clock.advance(90)
    await world.manager.sweep()
    row = await world.row(session.id)
    assert row.status == Status.FAILED
    assert as_utc(row.ended_at) == due
    assert (await world.log(session.id))[-1][:3] == (Status.READY, Status.FAILED, due)


# The machine's call capacity, the media token and the realtime side's hooks


async def test_sessions_beyond_the_machine_capacity_queue_across_organisations(
    make_world: WorldFactory, clock: Clock
) -> None:
    world = await make_world(max_calls=2)
    a, b = await world.org(tier=3), await world.org(tier=3)
    sessions = []
    for org in (a, b, a, b):  # the third and fourth find the machine full (tier 3 allows 4)
        sessions.append(await world.create(org))
        clock.advance(1)  # "oldest first" needs distinct creation times
    first, second, third, fourth = sessions
    assert [s.status for s in (first, second)] == [Status.READY, Status.READY]
    assert [(s.status, s.queued) for s in (third, fourth)] == [(Status.NOT_READY, True)] * 2
    await world.manager.cancel(b.principal, second.id)  # a slot frees: the oldest waiter gets it
    assert await world.status(third.id) == Status.READY
    assert await world.status(fourth.id) == Status.NOT_READY
    await world.start(first)
    clock.advance(5)
    await world.manager.finish(first.id, Status.COMPLETED, reason="hung up")
    assert await world.status(fourth.id) == Status.READY


async def test_a_media_token_is_checked_without_being_used_then_claimed_once(
    world: World, clock: Clock
) -> None:
    org = await world.org()
    session = await world.create(org)
    creds = await world.consume(session)
    for bad in (None, "", "nope"):
        with pytest.raises(Unauthorized):
            await world.manager.check_token(session.id, bad)
    await world.manager.check_token(session.id, creds.token)
    await world.manager.check_token(session.id, creds.token)  # checking uses nothing up
    claimed = await world.manager.claim(session.id, creds.token, "node-1")
    assert claimed.status == Status.READY and claimed.node == "node-1"
    with pytest.raises(Unauthorized, match="already used"):
        await world.manager.claim(session.id, creds.token, "node-1")
    clock.advance(1)
    running = await world.manager.mark_running(session.id)
    assert running.status == Status.RUNNING and as_utc(running.started_at) == clock.now  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        await world.manager.mark_running(session.id)


async def test_a_restarted_node_fails_the_calls_it_was_running(world: World, clock: Clock) -> None:
    org = await world.org(tier=3)
    running, claimed, elsewhere = [await world.create(org) for _ in range(3)]
    for session, node in ((running, "a"), (claimed, "a"), (elsewhere, "b")):
        creds = await world.consume(session)
        await world.manager.claim(session.id, creds.token, node)
    await world.manager.mark_running(running.id)
    await world.manager.mark_running(elsewhere.id)
    clock.advance(3)
    assert sorted(await world.manager.recover("a")) == sorted([running.id, claimed.id])
    for session in (running, claimed):
        row = await world.row(session.id)
        assert row.status == Status.FAILED and row.failure_code == "SERVER_STOPPED"
        assert "restarted" in (row.failure or "")
    assert await world.status(elsewhere.id) == Status.RUNNING


async def test_listeners_hear_of_sessions_the_manager_ends(world: World, clock: Clock) -> None:
    org = await world.org(tier=3)
    heard: list[tuple[str, Status, str]] = []
    world.manager.ended_listeners.append(lambda *args: heard.append(args))
    cancelled = await world.create(org)
    capped = await world.create(org, max_duration=10)
    await world.start(capped)
    await world.manager.cancel(org.principal, cancelled.id)
    await world.manager.heartbeat(capped.id)
    clock.advance(11)
    await world.manager.sweep()
    assert (cancelled.id, Status.CANCELLED, "cancelled by API") in heard
    assert (capped.id, Status.COMPLETED, "maxDuration reached") in heard


async def test_heartbeat_returns_the_stored_status(world: World) -> None:
    org = await world.org()
    session = await world.create(org)
    await world.start(session)
    assert await world.manager.heartbeat(session.id) == Status.RUNNING
    await world.manager.cancel(org.principal, session.id)
    assert await world.manager.heartbeat(session.id) == Status.CANCELLED
    assert await world.manager.heartbeat(str(uuid.uuid4())) is None


async def test_a_call_whose_process_stops_heartbeating_fails(world: World, clock: Clock) -> None:
    """A call a process claimed (a server, a LiveKit worker) whose heartbeats stop: that process
    is gone (killed, or its machine), so the session FAILS with a reason, billed to the last
    heartbeat."""
    org = await world.org()
    session = await world.create(org)
    await world.start(session)
    async with world.db.transaction() as db:
        row = await db.get(RealtimeSession, session.id)
        assert row is not None
        row.node = "worker-a"
    clock.advance(4)
    await world.manager.heartbeat(session.id)
    clock.advance(10)
    await world.manager.sweep()
    row = await world.row(session.id)
    assert row.status == Status.FAILED
    assert row.failure_code == FailureCode.SERVER_STOPPED
    assert "worker-a" in (row.failure or "") and "stopped" in (row.failure or "")
    assert row.duration == 4
    assert (await world.log(session.id))[-1][3] == "call process gone"
