"""The session state machine (``characters.sessions.states``) against a real SQLite database.

Every ordered pair of statuses is tried: the allowed ones change the status, set the right
timestamps and record a ``SessionTransition``; the forbidden ones raise ``Conflict`` and leave
the session and the transition log untouched.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from characters.errors import Conflict
from characters.sessions.states import ACTIVE, ALLOWED, TERMINAL, Status, transition
from characters.store.db import Database
from characters.store.keys import create_organization
from characters.store.tables import RealtimeSession, SessionTransition

T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)

# The documented diagram (API.md Part B §5) plus our two additions (Part A: DELETE cancels a READY
# session; an engine failure can end a RUNNING one as FAILED).
EXPECTED = {
    Status.NOT_READY: {Status.READY, Status.FAILED, Status.CANCELLED},
    Status.READY: {Status.RUNNING, Status.FAILED, Status.CANCELLED},
    Status.RUNNING: {Status.COMPLETED, Status.FAILED, Status.CANCELLED},
    Status.COMPLETED: set(),
    Status.FAILED: set(),
    Status.CANCELLED: set(),
}
PAIRS = [(a, b) for a in Status for b in Status]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating every time is slow)."""
    path = tmp_path_factory.mktemp("states-template") / "template.db"

    async def build() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        await db.aclose()  # the last connection closing checkpoints the WAL into the file

    asyncio.run(build())
    return path


@pytest.fixture
async def db(template_db: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "states.db"
    shutil.copyfile(template_db, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.aclose()


@pytest.fixture
async def org_id(db: Database) -> str:
    async with db.transaction() as s:
        return (await create_organization(s, name="states", tier=1, credits=100)).id


async def add_session(db: Database, org_id: str, status: Status) -> str:
    """A session sitting in ``status`` with the timestamps a real one would have there."""
    row = RealtimeSession(
        id=str(uuid.uuid4()),
        organization_id=org_id,
        status=status,
        queued=status == Status.NOT_READY,
        max_duration=300,
        tools=[],
        created_at=T0,
        credits_charged=0,
    )
    if status != Status.NOT_READY:
        row.ready_at = T0 + timedelta(seconds=1)
        row.session_key = "sk" if status == Status.READY else None
        row.expires_at = T0 + timedelta(seconds=61)
    if status in (Status.RUNNING, Status.COMPLETED):
        row.started_at = row.last_seen_at = T0 + timedelta(seconds=2)
    if status in TERMINAL:
        row.ended_at = T0 + timedelta(seconds=3)
    async with db.transaction() as s:
        s.add(row)
    return row.id


async def transitions_of(db: Database, session_id: str) -> list[SessionTransition]:
    async with db.transaction() as s:
        rows = await s.scalars(
            select(SessionTransition)
            .where(SessionTransition.session_id == session_id)
            .order_by(SessionTransition.id)
        )
        return list(rows.all())


def test_table_matches_the_documented_machine() -> None:
    assert {k: set(v) for k, v in ALLOWED.items()} == {k: v for k, v in EXPECTED.items() if v}
    assert frozenset(Status) == TERMINAL | ACTIVE
    assert not TERMINAL & ACTIVE
    for status in TERMINAL:
        assert not ALLOWED.get(status), f"{status} must have no exits"
    for status in ACTIVE:
        assert ALLOWED[status] <= frozenset(Status) - {status}, "no self-loops"


@pytest.mark.parametrize(("src", "dst"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
async def test_every_edge(db: Database, org_id: str, src: Status, dst: Status) -> None:
    session_id = await add_session(db, org_id, src)
    at = T0 + timedelta(seconds=10)
    allowed = dst in EXPECTED[src]
    if allowed:
        async with db.transaction() as s:
            row = await s.get(RealtimeSession, session_id)
            assert row is not None
            transition(s, row, dst, at=at, reason="because")
    else:
        with pytest.raises(Conflict) as err:
            async with db.transaction() as s:
                row = await s.get(RealtimeSession, session_id)
                assert row is not None
                transition(s, row, dst, at=at, reason="because")
        assert str(src) in err.value.message and str(dst) in err.value.message

    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None
        assert row.status == (dst if allowed else src)
    log = await transitions_of(db, session_id)
    if allowed:
        assert [(t.from_status, t.to_status, t.reason) for t in log] == [(src, dst, "because")]
        assert log[0].at.replace(tzinfo=UTC) == at
    else:
        assert log == []


async def test_ready_sets_ready_at_and_clears_queued(db: Database, org_id: str) -> None:
    session_id = await add_session(db, org_id, Status.NOT_READY)
    at = T0 + timedelta(seconds=5)
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None and row.queued
        transition(s, row, Status.READY, at=at)
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None
        assert row.ready_at is not None and row.ready_at.replace(tzinfo=UTC) == at
        assert row.queued is False
        assert row.started_at is None and row.ended_at is None and row.duration is None


async def test_running_sets_started_and_last_seen(db: Database, org_id: str) -> None:
    session_id = await add_session(db, org_id, Status.READY)
    at = T0 + timedelta(seconds=7)
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None
        transition(s, row, Status.RUNNING, at=at)
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None
        assert row.started_at is not None and row.started_at.replace(tzinfo=UTC) == at
        assert row.last_seen_at is not None and row.last_seen_at.replace(tzinfo=UTC) == at
        assert row.ended_at is None and row.duration is None


@pytest.mark.parametrize(
    ("seconds", "duration"), [(0.0, 0), (12.4, 12), (12.6, 13), (299.999, 300), (-3.0, 0)]
)
@pytest.mark.parametrize("end", [Status.COMPLETED, Status.FAILED, Status.CANCELLED])
async def test_ending_a_running_session_sets_duration(
    db: Database, org_id: str, end: Status, seconds: float, duration: int
) -> None:
    session_id = await add_session(db, org_id, Status.RUNNING)
    # Reloaded from SQLite, started_at comes back naive: duration must still be right.
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None and row.started_at is not None
        at = row.started_at.replace(tzinfo=UTC) + timedelta(seconds=seconds)
        transition(s, row, end, at=at, reason="end")
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None
        assert row.duration == duration
        assert row.ended_at is not None and row.ended_at.replace(tzinfo=UTC) == at
        assert row.session_key is None and row.queued is False


@pytest.mark.parametrize(
    ("src", "end"),
    [
        (Status.NOT_READY, Status.CANCELLED),
        (Status.NOT_READY, Status.FAILED),
        (Status.READY, Status.CANCELLED),
        (Status.READY, Status.FAILED),
    ],
)
async def test_ending_before_running_has_no_duration(
    db: Database, org_id: str, src: Status, end: Status
) -> None:
    session_id = await add_session(db, org_id, src)
    at = T0 + timedelta(seconds=30)
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None
        transition(s, row, end, at=at)
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None
        assert row.duration is None
        # The key is kept (the wire shows it only while READY), so consume can still tell a
        # right key (409: not READY) from a wrong one (401).
        if src == Status.READY:
            assert row.session_key == "sk"
        assert row.queued is False
        assert row.ended_at is not None and row.ended_at.replace(tzinfo=UTC) == at


async def test_full_lifecycle_is_logged_in_order(db: Database, org_id: str) -> None:
    session_id = await add_session(db, org_id, Status.NOT_READY)
    steps = [
        (Status.READY, 1, "admitted"),
        (Status.RUNNING, 3, "media peer connected"),
        (Status.COMPLETED, 45, "END_CALL"),
    ]
    for to, offset, reason in steps:
        async with db.transaction() as s:
            row = await s.get(RealtimeSession, session_id)
            assert row is not None
            transition(s, row, to, at=T0 + timedelta(seconds=offset), reason=reason)
    log = await transitions_of(db, session_id)
    assert [(t.from_status, t.to_status, t.reason) for t in log] == [
        (Status.NOT_READY, Status.READY, "admitted"),
        (Status.READY, Status.RUNNING, "media peer connected"),
        (Status.RUNNING, Status.COMPLETED, "END_CALL"),
    ]
    assert [t.at.replace(tzinfo=UTC) for t in log] == [
        T0 + timedelta(seconds=o) for _, o, _ in steps
    ]
    async with db.transaction() as s:
        row = await s.get(RealtimeSession, session_id)
        assert row is not None and row.duration == 42
    # Terminal: nothing leaves COMPLETED, and a refused attempt logs nothing.
    for to in Status:
        with pytest.raises(Conflict):
            async with db.transaction() as s:
                row = await s.get(RealtimeSession, session_id)
                assert row is not None
                transition(s, row, to, at=T0 + timedelta(seconds=50))
    assert len(await transitions_of(db, session_id)) == 3


def test_forbidden_transition_leaves_the_object_untouched() -> None:
    """``transition`` checks before it writes anything, even on the in-memory object."""

    class Recorder:
        def __init__(self) -> None:
            self.added: list[object] = []

        def add(self, obj: object) -> None:
            self.added.append(obj)

    row = RealtimeSession(id="s", status=Status.READY, session_key="sk", queued=False)
    rec = Recorder()
    with pytest.raises(Conflict):
        transition(rec, row, Status.COMPLETED, at=T0)  # type: ignore[arg-type]
    assert row.status == Status.READY and row.session_key == "sk" and row.ended_at is None
    assert rec.added == []
