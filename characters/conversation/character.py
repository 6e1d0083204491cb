"""The character of an avatar, as the conversation engine sees it: read from the store."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from characters.config import Settings
from characters.conversation.prompt import Character, ToolSpec, tools_from_runway
from characters.errors import InvalidInput, NotFound
from characters.store.db import Database
from characters.store.tables import Avatar, AvatarDocument, Document


def character_of(avatar: Avatar, documents: list[Document]) -> Character:
    """The conversation view of an avatar row and its attached documents."""
    voice = avatar.voice or {}
    return Character(
        name=avatar.name,
        personality=avatar.personality,
        start_script=avatar.start_script,
        voice=str(voice.get("presetId") or "clara"),
        documents=[(d.name, d.content) for d in documents],
        tools=tools_from_runway(avatar.tools) if avatar.tools else (),
    )


async def load_character(settings: Settings, avatar_id: str) -> Character:
    """The avatar ``avatar_id`` of any organisation on this server (a local, trusted reader:
    the CLI), with its documents in their attached order."""
    try:
        avatar_id = str(uuid.UUID(avatar_id))
    except ValueError:
        raise InvalidInput(f"{avatar_id!r} is not an avatar id (a UUID).") from None
    db = Database(settings.resolved_database_url)
    try:
        await db.migrate()
        async with db.transaction() as session:
            avatar = await session.get(Avatar, avatar_id)
            if avatar is None:
                raise NotFound(f"Avatar {avatar_id} not found in {settings.data_dir}.")
            rows = await session.execute(
                select(Document)
                .join(AvatarDocument, AvatarDocument.document_id == Document.id)
                .where(AvatarDocument.avatar_id == avatar.id)
                .order_by(AvatarDocument.position)
            )
            return character_of(avatar, list(rows.scalars()))
    finally:
        await db.aclose()


def tools_from_json(data: Any) -> list[ToolSpec]:
    """Tools given as JSON (a list in the shape of the session's ``tools``), validated."""
    if not isinstance(data, list):
        raise InvalidInput("tools must be a JSON list of tool objects")
    return tools_from_runway(data)
