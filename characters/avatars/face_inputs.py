"""What the face engine needs of a READY avatar, read from the store: the processed image, the
stored face analysis and the manual keypoints. Shared by avatar videos and live calls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from characters.avatars.images import upright_size
from characters.errors import InvalidInput
from characters.store.blobs import BlobStore
from characters.store.tables import Avatar, Blob

if TYPE_CHECKING:
    from characters.face.renderer import WarpRenderer


@dataclass(frozen=True, slots=True)
class FaceInputs:
    image: bytes
    """The avatar's processed reference image."""
    face: dict[str, Any] | None
    """The stored face analysis (used when it matches the image)."""
    keypoints: dict[str, Any] | None
    """Manual face keypoints, with the reference image's size (``imageSize``)."""


@dataclass(frozen=True, slots=True)
class FaceSources:
    """Where an avatar's face inputs are stored (read in a transaction; the bytes after it)."""

    image: Blob
    reference: Blob | None
    face: dict[str, Any] | None
    keypoints: dict[str, Any] | None

    def read(self, blobs: BlobStore) -> FaceInputs:
        """The inputs themselves (file reads: call it in a worker thread)."""
        keypoints = self.keypoints
        if keypoints is not None and self.reference is not None:
            # They were placed on the reference image; say its size so a re-analysis (when the
            # stored one no longer matches) rescales them to the processed image.
            size = upright_size(blobs.read(self.reference))
            keypoints = {**keypoints, "imageSize": list(size)}
        return FaceInputs(blobs.read(self.image), self.face, keypoints)


async def face_sources(db: AsyncSession, avatar: Avatar) -> FaceSources:
    """Where ``avatar``'s face inputs are; :class:`InvalidInput` if it is not READY."""
    if avatar.status != "READY" or avatar.processed_blob_id is None:
        raise InvalidInput(f"The avatar is {avatar.status}, not READY.")
    image = await db.get(Blob, avatar.processed_blob_id)
    assert image is not None
    reference = None
    if avatar.face_keypoints is not None:
        reference = await db.get(Blob, avatar.reference_blob_id)
    return FaceSources(image, reference, avatar.face, avatar.face_keypoints)


async def face_inputs(db: AsyncSession, blobs: BlobStore, avatar: Avatar) -> FaceInputs:
    """The face inputs of ``avatar`` (read within the caller's transaction)."""
    sources = await face_sources(db, avatar)
    return await asyncio.to_thread(sources.read, blobs)


def analysis_matches(face: dict[str, Any] | None, image: npt.NDArray[np.uint8]) -> bool:
    """Whether a stored analysis was made for this (decoded) image with this analyser."""
    from characters.face.analysis import VERSION

    if not face or face.get("version") != VERSION:
        return False
    size = face.get("image") or {}
    return bool(size.get("width") == image.shape[1] and size.get("height") == image.shape[0])


def face_renderer(inputs: FaceInputs) -> WarpRenderer:
    """The avatar's renderer (CPU work: decoding, and analysis if the stored one is stale)."""
    from characters.face.analysis import analyse, decode_image
    from characters.face.renderer import WarpRenderer

    image = decode_image(inputs.image)
    face = inputs.face if analysis_matches(inputs.face, image) else None
    analysis = face if face is not None else analyse(image, inputs.keypoints)
    return WarpRenderer(image, analysis)
