"""Removes what nothing needs any more: expired uploads, unreferenced blobs, orphan files.

Blob rows are always committed together with the row that references them, so a blob row that
no avatar, upload, session or task points at is garbage (a replaced or deleted image, an expired
upload). Files are written before their transaction commits, so a file without a row is either a
failed write or one whose transaction is still open: only files older than ``grace_s`` go.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import CompoundSelect, delete, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from characters.store.blobs import BlobStore
from characters.store.db import Database
from characters.store.tables import Avatar, Blob, RealtimeSession, Task, Upload
from characters.timeutil import utcnow

logger = logging.getLogger("characters.store")


class Janitor:
    def __init__(self, db: Database, blobs: BlobStore, *, grace_s: float = 3600) -> None:
        self._db = db
        self._blobs = blobs
        self._grace_s = grace_s
        self._task: asyncio.Task[None] | None = None

    def start(self, interval_s: float = 600) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run_forever(interval_s))

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_once(self) -> tuple[int, int]:
        """One pass; returns (blob rows deleted, files deleted)."""
        now = utcnow()
        async with self._db.transaction() as db:
            await db.execute(delete(Upload).where(Upload.expires_at < now))
            rows = await delete_unreferenced_blobs(
                db, older_than=now - timedelta(seconds=self._grace_s)
            )
            known = set((await db.scalars(select(Blob.sha256).distinct())).all())
        files = await asyncio.to_thread(self._unlink_orphans, known)
        return rows, files

    def _unlink_orphans(self, known: set[str]) -> int:
        cutoff = time.time() - self._grace_s
        removed = 0
        if not self._blobs.root.exists():
            return 0
        for path in self._blobs.root.glob("*/*"):
            if path.name in known or path.name.startswith("."):
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    async def _run_forever(self, interval_s: float) -> None:
        while True:
            try:
                rows, files = await self.run_once()
                if rows or files:
                    logger.info("janitor cleaned up", extra={"blobs": rows, "files": files})
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("janitor pass failed")
            await asyncio.sleep(interval_s)


def referenced_blob_ids() -> CompoundSelect[tuple[str]]:
    cols = [
        Avatar.reference_blob_id,
        Avatar.reference_preview_blob_id,
        Avatar.processed_blob_id,
        Avatar.processed_preview_blob_id,
        Task.input_blob_id,
        Task.output_blob_id,
    ]
    parts = [select(c).where(c.is_not(None)) for c in cols]
    parts.append(select(Upload.blob_id).where(Upload.blob_id.is_not(None)))
    parts.append(
        select(RealtimeSession.recording_blob_id).where(
            RealtimeSession.recording_blob_id.is_not(None)
        )
    )
    return union(*parts)


async def delete_unreferenced_blobs(db: AsyncSession, *, older_than: datetime | None = None) -> int:
    """Delete blob rows nothing points at (optionally only those created before a time)."""
    query = delete(Blob).where(Blob.id.not_in(referenced_blob_ids()))
    if older_than is not None:
        query = query.where(Blob.created_at < older_than)
    result = await db.execute(query)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def forget_blobs(db: AsyncSession, blob_ids: list[str | None]) -> list[str]:
    """Delete these blob rows now; returns the hashes no row uses any more, whose files the
    caller removes with ``BlobStore.unlink_stale`` once the transaction has committed."""
    ids = list({b for b in blob_ids if b})
    if not ids:
        return []
    shas = set((await db.scalars(select(Blob.sha256).where(Blob.id.in_(ids)))).all())
    await db.execute(delete(Blob).where(Blob.id.in_(ids)))
    still_used = set((await db.scalars(select(Blob.sha256).where(Blob.sha256.in_(shas)))).all())
    return sorted(shas - still_used)
