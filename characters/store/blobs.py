"""Blob storage on disk (content-addressed files, one row per blob) and signed blob URLs."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from characters.store.tables import Blob
from characters.timeutil import utcnow


class BlobStore:
    """Files under ``<data dir>/blobs/ab/abcdef…``, named by SHA-256 (so rewrites are idempotent).

    Write the file first, then the row in the caller's transaction: a failed transaction leaves at
    most an unreferenced file (the janitor removes those), never a row without bytes.
    """

    def __init__(self, root: Path, signing_key: bytes) -> None:
        self.root = root
        self._key = signing_key

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def write_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest)
        if path.exists():
            # Freshen it: cleanup only unlinks files untouched for a while, so a file that an
            # open transaction is about to reference again is never removed under it.
            os.utime(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{digest}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest

    async def put(
        self, db: AsyncSession, data: bytes, content_type: str, organization_id: str | None
    ) -> Blob:
        digest = self.write_bytes(data)
        blob = Blob(
            id=str(uuid.uuid4()),
            organization_id=organization_id,
            content_type=content_type,
            size=len(data),
            sha256=digest,
            created_at=utcnow(),
        )
        db.add(blob)
        await db.flush()
        return blob

    async def put_file(
        self,
        db: AsyncSession,
        path: Path,
        content_type: str,
        organization_id: str | None,
        digest: tuple[str, int],
    ) -> Blob:
        """Like :meth:`put` for a file on the same file system: it is moved in, not copied.
        ``digest`` is :func:`file_digest` of it, computed beforehand (outside the transaction)."""
        sha256, size = digest
        target = self.path_for(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        blob = Blob(
            id=str(uuid.uuid4()),
            organization_id=organization_id,
            content_type=content_type,
            size=size,
            sha256=sha256,
            created_at=utcnow(),
        )
        db.add(blob)
        await db.flush()
        return blob

    def unlink_stale(self, shas: list[str], min_age_s: float = 60) -> None:
        """Remove these files unless written or reused within ``min_age_s`` (janitor's job then)."""
        cutoff = time.time() - min_age_s
        for sha in shas:
            path = self.path_for(sha)
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                continue

    def read(self, blob: Blob) -> bytes:
        return self.path_for(blob.sha256).read_bytes()

    # Signed URLs: /files/{blob_id}?expires=<unix>&sig=<hmac>

    def sign(self, blob_id: str, expires: int) -> str:
        msg = f"{blob_id}:{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:32]

    def signed_path(self, blob_id: str, ttl_s: int = 24 * 3600) -> str:
        expires = int(time.time()) + ttl_s
        return f"/files/{blob_id}?expires={expires}&sig={self.sign(blob_id, expires)}"

    def verify(self, blob_id: str, expires: int, sig: str) -> bool:
        if expires < time.time():
            return False
        # As bytes: compare_digest rejects str with non-ASCII characters (a TypeError, a 500).
        return hmac.compare_digest(self.sign(blob_id, expires).encode(), sig.encode())


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256, size) of a file, read in 1 MiB blocks (blocking: use a worker thread)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
