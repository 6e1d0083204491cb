"""Looking up the avatar a session or a video is for: it must exist for the caller and be READY."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from characters.errors import InvalidInput
from characters.store.owned import get_owned
from characters.store.tables import Avatar

WITHOUT_FACE = defer(Avatar.face)
"""Loader option that skips the ~36 KB face analysis where it is not needed."""

PATH = ["avatar", "avatarId"]


def preset_not_installed(preset_id: str) -> InvalidInput:
    """The error for ``{"type": "runway-preset"}`` avatars: this server ships no preset images."""
    return InvalidInput(
        f"Preset avatar '{preset_id}' is not installed on this server; create a custom avatar "
        "(POST /v1/avatars) and use {'type': 'custom', 'avatarId': ...}.",
        ["avatar", "presetId"],
    )


async def ready_avatar(
    db: AsyncSession, organization_id: str, avatar_id: str, *, with_face: bool = False
) -> Avatar:
    """The caller's avatar, READY; a 400 naming what to do otherwise (it is a body field)."""
    options = [] if with_face else [WITHOUT_FACE]
    avatar = await get_owned(db, Avatar, organization_id, avatar_id, options=options)
    if avatar is None:
        raise InvalidInput(f"Avatar {avatar_id} not found.", PATH)
    if avatar.status != "READY":
        detail = (
            "is still processing; wait until its status is READY"
            if avatar.status == "PROCESSING"
            else f"failed processing ({avatar.failure_reason}); fix it with PATCH /v1/avatars"
        )
        raise InvalidInput(f"Avatar {avatar.id} {detail}.", PATH)
    return avatar
