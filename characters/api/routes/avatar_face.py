"""``GET /v1/avatars/{id}/face`` (extension): where the avatar's face is, as keypoints.

The face analysis stored with a processed avatar, in the ``faceKeypoints`` format and in pixels
of the reference image as the user sent it (upright), so a client can draw it on that image or
correct it and send it back with ``PATCH /v1/avatars/{id}``. Avatars with manual keypoints
return those. No analysis (still processing, or processing failed) is a 404 that says why.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from characters.api import wire
from characters.api.deps import PrincipalDep, ServicesDep
from characters.api.wire import ok
from characters.avatars.images import upright_size
from characters.errors import NotFound
from characters.face.detected import detected_keypoints
from characters.store.owned import get_owned
from characters.store.tables import Avatar, Blob

router = APIRouter(prefix="/v1", tags=["avatars"])


class FaceOut(wire.Response):
    source: Literal["detected", "manual"] = Field(
        description="'detected': found by face detection; 'manual': the avatar's faceKeypoints."
    )
    keypoints: dict[str, Any] = Field(
        description="The face in the faceKeypoints format (docs/face-keypoints.md), in pixels "
        "of the reference image as sent, shown upright."
    )
    imageWidth: int = Field(description="Width of the reference image as sent, shown upright.")
    imageHeight: int = Field(description="Height of the reference image as sent, shown upright.")


def no_analysis(avatar: Avatar) -> str:
    if avatar.status == "PROCESSING":
        return (
            f"Avatar {avatar.id} is still processing; its face is known once it is READY. "
            "Try again in a few seconds."
        )
    if avatar.status == "FAILED":
        reason = avatar.failure_reason or "Processing failed."
        return f"Avatar {avatar.id} has no face analysis because processing failed: {reason}"
    return f"Avatar {avatar.id} has no face analysis (this server runs without face analysis)."


@router.get(
    "/avatars/{id}/face",
    response_model=FaceOut,
    summary="Extension: the avatar's face keypoints (detected or manual)",
    responses={404: {"description": "No such avatar, or no face analysis (processing or failed)"}},
)
async def get_avatar_face(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async with services.db.transaction() as db:
        avatar = await get_owned(db, Avatar, principal.organization_id, str(id))
        if avatar is None:
            raise NotFound(f"Avatar {id} not found.")
        face = avatar.face
        if face is None:
            raise NotFound(no_analysis(avatar))
        blob = await db.get(Blob, avatar.reference_blob_id)
    gone = f"Avatar {id}'s reference image is no longer stored."
    if blob is None:
        raise NotFound(gone)
    try:
        data = await asyncio.to_thread(services.blobs.read, blob)
    except OSError as e:
        raise NotFound(gone) from e
    width, height = await asyncio.to_thread(upright_size, data)
    manual = face.get("source") == "keypoints"
    keypoints = (manual and avatar.face_keypoints) or detected_keypoints(face, (width, height))
    return ok(
        {
            "source": "manual" if manual else "detected",
            "keypoints": keypoints,
            "imageWidth": width,
            "imageHeight": height,
        }
    )
