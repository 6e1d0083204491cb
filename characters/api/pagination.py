"""Opaque keyset cursors: ``{data, hasMore, nextCursor}`` pages over (sort key, id)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from characters.errors import InvalidInput
from characters.timeutil import as_utc

T = TypeVar("T")


def encode_cursor(key: datetime, row_id: str) -> str:
    raw = json.dumps([as_utc(key).isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, row_id = json.loads(raw)
        # Row ids are UUIDs; anything else (NUL bytes, lone surrogates) would reach the database.
        if not isinstance(row_id, str) or str(uuid.UUID(row_id)) != row_id:
            raise ValueError("cursor row id is not a UUID")
        return as_utc(datetime.fromisoformat(key)), row_id
    except (binascii.Error, ValueError, TypeError, OverflowError, json.JSONDecodeError) as e:
        raise InvalidInput(
            "Invalid cursor: pass the nextCursor value of a previous page unchanged.", ["cursor"]
        ) from e


def keyset(
    query: Select[Any],
    sort_col: InstrumentedAttribute[datetime],
    id_col: InstrumentedAttribute[str],
    *,
    cursor: str | None,
    limit: int,
    descending: bool = True,
) -> Select[Any]:
    """Order by (sort, id) and start after the cursor; fetches one extra row to see if more."""
    if cursor:
        key, row_id = decode_cursor(cursor)
        if descending:
            query = query.where(or_(sort_col < key, and_(sort_col == key, id_col < row_id)))
        else:
            query = query.where(or_(sort_col > key, and_(sort_col == key, id_col > row_id)))
    order = (sort_col.desc(), id_col.desc()) if descending else (sort_col.asc(), id_col.asc())
    return query.order_by(*order).limit(limit + 1)


def page(rows: Sequence[T], limit: int, key: Any, data: list[Any]) -> dict[str, Any]:
    """Build the wire page from ``limit + 1`` fetched rows; ``key(row) -> (datetime, id)``."""
    has_more = len(rows) > limit
    next_cursor = encode_cursor(*key(rows[limit - 1])) if has_more else None
    return {"data": data[:limit], "hasMore": has_more, "nextCursor": next_cursor}
