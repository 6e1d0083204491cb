"""The character of an avatar, as the conversation engine sees it: read from the store."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from characters.config import Settings
from characters.conversation.prompt import Character, ToolSpec, tools_from_runway
from characters.errors import InvalidInput, NotFound
from characters.knowledge.store import load_knowledge
from characters.store.db import Database
from characters.store.tables import Avatar


def character_of(avatar: Avatar) -> Character:
    """The conversation view of an avatar row (its documents: :func:`load_knowledge`)."""
    voice = avatar.voice or {}
    return Character(
        name=avatar.name,
        personality=avatar.personality,
        start_script=avatar.start_script,
        voice=str(voice.get("presetId") or "clara"),
        tools=tools_from_runway(avatar.tools) if avatar.tools else (),
    )


async def load_character(settings: Settings, avatar_id: str) -> Character:
    """The avatar ``avatar_id`` of any organisation on this server (a local, trusted reader:
    the CLI), with its documents' passages."""
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
            character = character_of(avatar)
        knowledge = await load_knowledge(db, avatar_id, settings.resolved_models_dir)
        return replace(character, knowledge=knowledge)
    finally:
        await db.aclose()


def tools_from_json(data: Any) -> list[ToolSpec]:
    """Tools given as JSON (a list in the shape of the session's ``tools``), validated."""
    if not isinstance(data, list):
        raise InvalidInput("tools must be a JSON list of tool objects")
    return tools_from_runway(data)
