"""Engine, transactions and schema migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x43484152  # "CHAR": serialises migrations of several servers on one database
_IN_SQLITE_TRANSACTION: ContextVar[bool] = ContextVar("in_sqlite_transaction", default=False)


class Database:
    """One engine and its session factory. ``transaction()`` is the only way to write."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_immediate_transactions(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error.

        SQLite transactions of this process queue on an asyncio lock first: BEGIN IMMEDIATE
        alone makes waiters poll in SQLite's busy handler (sleeps of up to 100 ms), which is
        unfair under load and gave multi-second tail latencies with 50 concurrent clients.
        """
        if not self.is_sqlite or _IN_SQLITE_TRANSACTION.get():  # nested: no lock, as before
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._writer_lock():
            token = _IN_SQLITE_TRANSACTION.set(True)
            try:
                async with self._sessions() as session, session.begin():
                    yield session
            finally:
                _IN_SQLITE_TRANSACTION.reset(token)

    def _writer_lock(self) -> asyncio.Lock:
        """One lock per event loop (tests may use one Database from several loops)."""
        loop = asyncio.get_running_loop()
        if self._writer is None or self._writer[0] is not loop:
            self._writer = (loop, asyncio.Lock())
        return self._writer[1]

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (creating it on an empty database)."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
            await conn.run_sync(_upgrade)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def aclose(self) -> None:
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _sqlite_immediate_transactions(engine: AsyncEngine) -> None:
    """Start every SQLite transaction with BEGIN IMMEDIATE.

    A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
    connection wrote in between (WAL gives no wait there); taking the write lock up front makes
    concurrent requests and a CLI running beside the server wait on the busy timeout instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
