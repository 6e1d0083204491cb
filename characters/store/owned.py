"""Rows as one organisation sees them: another organisation's row does not exist for it."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from characters.store.tables import Base

T = TypeVar("T", bound=Base)


async def get_owned(
    db: AsyncSession, model: type[T], organization_id: str, row_id: str, **options: Any
) -> T | None:
    """The ``model`` row with ``row_id`` if it belongs to ``organization_id``, else None.

    ``options`` go to ``AsyncSession.get`` (``with_for_update``, loader ``options``). Callers
    choose the error: a 404 for the resource addressed, a 400 for one referenced in a body.
    """
    row = await db.get(model, row_id, **options)
    if row is None or getattr(row, "organization_id", None) != organization_id:
        return None
    return row
