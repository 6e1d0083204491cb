"""Deleted avatars, replaced images and expired uploads leave no rows or files behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from characters.config import async_url, sync_url
from characters.store.blobs import BlobStore
from characters.store.db import Database
from characters.store.janitor import Janitor
from tests.conftest import Server, data_uri, face_png, png_bytes, ready_avatar, wait_for

pytestmark = [pytest.mark.store, pytest.mark.slow]


def database_url(server: Server) -> str:
    return server.env.get("CHARACTERS_DATABASE_URL") or (
        f"sqlite:///{server.data_dir / 'characters.db'}"
    )


def blob_files(server: Server) -> set[str]:
    return {p.name for p in (server.data_dir / "blobs").glob("*/*") if not p.name.startswith(".")}


def blob_shas(server: Server) -> set[str]:
    engine = create_engine(sync_url(database_url(server)))
    with engine.connect() as conn:
        shas = {r[0] for r in conn.execute(text("SELECT sha256 FROM blobs"))}
    engine.dispose()
    return shas


def run_janitor(server: Server) -> tuple[int, int]:
    async def main() -> tuple[int, int]:
        db = Database(async_url(database_url(server)))
        try:
            blobs = BlobStore(server.data_dir / "blobs", b"unused")
            return await Janitor(db, blobs, grace_s=0).run_once()
        finally:
            await db.aclose()

    return asyncio.run(main())


def test_deleted_and_replaced_images_are_cleaned_up(server: Server, client) -> None:
    keep = ready_avatar(client, data_uri(face_png(color=(10, 20, 30))), name="Keep")
    gone = ready_avatar(client, data_uri(face_png(color=(40, 50, 60))), name="Gone")
    changed = ready_avatar(client, data_uri(face_png(color=(70, 80, 90))), name="Changed")
    client.avatars.update(changed.id, reference_image=data_uri(face_png(color=(1, 2, 3))))
    # Let processing finish first: a janitor pass with no grace period would take the files it
    # is writing (their rows not committed yet) for orphans.
    wait_for(lambda: client.avatars.retrieve(changed.id).status != "PROCESSING")

    client.avatars.delete(gone.id)
    # Rows of the deleted avatar are gone at once; its files go now or at the next janitor pass.
    run_janitor(server)
    assert blob_files(server) == blob_shas(server)
    for avatar in (keep, client.avatars.retrieve(changed.id)):
        assert httpx.get(avatar.reference_image_uri).status_code == 200


def test_orphan_files_and_expired_uploads_go(server: Server, client) -> None:
    orphan = server.data_dir / "blobs" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a failed transaction")
    path = Path(server.data_dir / "upload.png")
    path.write_bytes(png_bytes(color=(9, 9, 9)))
    upload = client.uploads.create_ephemeral(file=path)
    engine = create_engine(sync_url(database_url(server)))
    with engine.begin() as conn:
        conn.execute(text("UPDATE uploads SET expires_at = '2000-01-01 00:00:00'"))
    engine.dispose()

    rows, files = run_janitor(server)
    assert rows >= 1 and files >= 2  # the upload's blob and the orphan
    assert not orphan.exists()
    assert blob_files(server) == blob_shas(server)
    with pytest.raises(Exception, match="not found"):
        client.avatars.create(
            name="Late",
            personality="x",
            reference_image=upload.uri,
            voice={"type": "runway-live-preset", "presetId": "clara"},
        )
