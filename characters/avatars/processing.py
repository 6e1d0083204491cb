"""The avatar processing step: PROCESSING → READY or FAILED, off the request path.

The reference image was already validated when the avatar was created, so the work here is
normalisation, previews and (through ``analyse``) the face engine's one-time analysis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from characters.avatars.images import CheckedImage, ImageLimits, ProcessedImage, process_image
from characters.errors import CharactersError
from characters.store.blobs import BlobStore
from characters.store.db import Database
from characters.store.tables import Avatar, Blob
from characters.timeutil import utcnow

logger = logging.getLogger("characters.avatars")

Analyse = Callable[[ProcessedImage, dict[str, Any] | None], dict[str, Any] | None]
"""Face analysis hook: (processed image, manual keypoints) → what the animator needs.

The keypoints are the avatar's ``faceKeypoints`` plus ``imageSize`` (the upright size of the
reference image they were placed on), so the hook can rescale them to the processed image.
Raise :class:`characters.errors.InvalidImage` with a user-facing reason to fail the avatar."""


def no_analysis(_image: ProcessedImage, _keypoints: dict[str, Any] | None) -> dict[str, Any] | None:
    return None


class AvatarProcessor:
    """Runs one processing task per (avatar, image version); owns those tasks."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        limits: ImageLimits,
        analyse: Analyse = no_analysis,
        warm_up: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._limits = limits
        self._analyse = analyse
        self._warm_up = warm_up
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Load the analysis models in the background, so the first avatar is as quick as any."""
        if self._warm_up is not None:
            task = asyncio.get_running_loop().create_task(self._run_warm_up(self._warm_up))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run_warm_up(warm_up: Callable[[], None]) -> None:
        try:
            await asyncio.to_thread(warm_up)
        except Exception:  # the first avatar will load (and report) it again
            logger.exception("warming up face analysis failed")

    def schedule(self, avatar_id: str, image_version: int) -> None:
        task = asyncio.get_running_loop().create_task(self._process(avatar_id, image_version))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        """Re-run processing of avatars left PROCESSING by a previous server run."""
        async with self._db.transaction() as db:
            rows = (
                await db.execute(
                    select(Avatar.id, Avatar.image_version).where(Avatar.status == "PROCESSING")
                )
            ).all()
        for avatar_id, version in rows:
            self.schedule(avatar_id, version)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _process(self, avatar_id: str, version: int) -> None:
        data = b""
        processed: ProcessedImage | None = None
        try:
            async with self._db.transaction() as db:
                avatar = await db.get(Avatar, avatar_id)
                if avatar is None or avatar.image_version != version:
                    return
                blob = await db.get(Blob, avatar.reference_blob_id)
                keypoints = avatar.face_keypoints
                mode = avatar.image_processing
            assert blob is not None
            data = await asyncio.to_thread(self._blobs.read, blob)
            checked = CheckedImage(data, blob.content_type, 0, 0)
            processed = await asyncio.to_thread(process_image, checked, mode, self._limits)
            if keypoints is not None:  # given on the reference image; the hook rescales them
                size = [processed.source_width, processed.source_height]
                keypoints = {**keypoints, "imageSize": size}
            face = await asyncio.to_thread(self._analyse, processed, keypoints)
        except CharactersError as e:
            # An image that was processed but failed analysis keeps its previews (shown with
            # the failureReason, e.g. to place faceKeypoints on).
            await self._finish(
                avatar_id,
                version,
                processed=processed,
                as_given=processed is not None and processed.data is data,
                failure=e.message,
            )
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("avatar processing failed", extra={"avatar_id": avatar_id})
            await self._finish(
                avatar_id, version, failure="Internal error while processing the image."
            )
            return
        as_given = processed.data is data
        await self._finish(avatar_id, version, processed=processed, as_given=as_given, face=face)

    async def _finish(
        self,
        avatar_id: str,
        version: int,
        *,
        processed: ProcessedImage | None = None,
        as_given: bool = False,
        face: dict[str, Any] | None = None,
        failure: str | None = None,
    ) -> None:
        async with self._db.transaction() as db:
            avatar = await db.get(Avatar, avatar_id, with_for_update=True)
            if avatar is None or avatar.image_version != version:
                return  # deleted, or a newer image superseded this run
            if processed is not None:
                org = avatar.organization_id
                ref_preview = await self._blobs.put(
                    db, processed.reference_preview, "image/jpeg", org
                )
                if as_given:  # imageProcessing: none, on an upright image: used as given
                    processed_blob_id = avatar.reference_blob_id
                else:
                    processed_blob_id = (
                        await self._blobs.put(db, processed.data, processed.content_type, org)
                    ).id
                preview = await self._blobs.put(db, processed.preview, "image/jpeg", org)
                avatar.reference_preview_blob_id = ref_preview.id
                avatar.processed_blob_id = processed_blob_id
                avatar.processed_preview_blob_id = preview.id
            if failure is not None or processed is None:
                avatar.status = "FAILED"
                avatar.failure_reason = failure or "Processing failed."
                avatar.face = None
            else:
                avatar.face = face
                avatar.status, avatar.failure_reason = "READY", None
            avatar.updated_at = utcnow()
