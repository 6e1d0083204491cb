"""``/v1/avatar_conversations`` (the history of realtime sessions) and ``/v1/avatar_usage``."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from characters.api import wire
from characters.api.deps import BaseUrlDep, PrincipalDep, Services, ServicesDep
from characters.api.pagination import keyset, page
from characters.api.wire import ok
from characters.errors import Conflict, InvalidInput, NotFound
from characters.sessions.states import ACTIVE, Status
from characters.store.janitor import forget_blobs
from characters.store.keys import Principal
from characters.store.tables import Avatar, RealtimeSession, TranscriptEntry
from characters.timeutil import as_utc, iso, iso_opt, utcnow

router = APIRouter(prefix="/v1", tags=["avatar_conversations"])

CONVERSATION_STATUS = {
    Status.NOT_READY: "in_progress",
    Status.READY: "in_progress",
    Status.RUNNING: "in_progress",
    Status.COMPLETED: "ended",
    Status.CANCELLED: "ended",
    Status.FAILED: "failed",
}


class ConversationAvatar(wire.Response):
    type: Literal["custom", "runway-preset"]
    id: str | None = None
    presetId: str | None = None
    name: str | None = None
    imageUrl: str | None = None


class ConversationSummary(wire.Response):
    id: str
    name: str
    status: Literal["in_progress", "ended", "failed"]
    avatar: ConversationAvatar | None
    createdAt: str
    duration: int | None
    hasTools: bool


class ConversationPage(wire.Response):
    data: list[ConversationSummary]
    hasMore: bool
    nextCursor: str | None


class TranscriptOut(wire.Response):
    role: Literal["user", "assistant"]
    content: str | None
    timestamp: str | None
    toolCalls: list[dict[str, Any]] | None = None
    toolResults: list[dict[str, Any]] | None = None


class ConversationOut(ConversationSummary):
    maxDuration: int | None
    startedAt: str | None
    endedAt: str | None = None
    recordingUrl: str | None
    tools: list[dict[str, Any]]
    transcript: list[TranscriptOut]
    failure: str | None = None
    failureCode: str | None = None


class UsageDay(wire.Response):
    date: str
    sessions: int
    seconds: int


class UsageOut(wire.Response):
    totalSeconds: int
    totalSessions: int
    avgDurationSeconds: int
    byDay: list[UsageDay]


def summary_wire(
    session: RealtimeSession, image_url: str | None, *, detail: bool
) -> dict[str, Any]:
    avatar: dict[str, Any] = {
        "type": "custom",
        "id": session.avatar_id,
        "name": session.avatar_name,
    }
    if detail:
        avatar["imageUrl"] = image_url
    return {
        "id": session.id,
        "name": session.conversation_name or session.id,
        "status": CONVERSATION_STATUS[Status(session.status)],
        "avatar": avatar,
        "createdAt": iso(session.created_at),
        "duration": session.duration,
        "hasTools": bool(session.tools),
    }


async def get_conversation_row(
    db: AsyncSession, principal: Principal, conv_id: str
) -> RealtimeSession:
    session = await db.get(RealtimeSession, conv_id)
    if (
        session is None
        or session.organization_id != principal.organization_id
        or session.conversation_deleted_at is not None
    ):
        raise NotFound(f"Conversation {conv_id} not found.")
    return session


async def avatar_image_url(
    db: AsyncSession, services: Services, base_url: str, avatar_id: str | None
) -> str | None:
    if avatar_id is None:
        return None
    avatar = await db.get(Avatar, avatar_id)
    if avatar is None or avatar.reference_preview_blob_id is None:
        return None
    return base_url + services.blobs.signed_path(avatar.reference_preview_blob_id)


@router.get("/avatar_conversations", response_model=ConversationPage, summary="List conversations")
async def list_conversations(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: wire.Limit = 20,
    cursor: Annotated[wire.Cursor | None, Query()] = None,
    avatar: uuid.UUID | None = None,
    startDate: AwareDatetime | None = None,
    endDate: AwareDatetime | None = None,
) -> JSONResponse:
    query = select(RealtimeSession).where(
        RealtimeSession.organization_id == principal.organization_id,
        RealtimeSession.conversation_deleted_at.is_(None),
    )
    if avatar is not None:
        query = query.where(RealtimeSession.avatar_id == str(avatar))
    if startDate is not None:
        query = query.where(RealtimeSession.created_at >= startDate)
    if endDate is not None:
        query = query.where(RealtimeSession.created_at < endDate)
    async with services.db.transaction() as db:
        rows = (
            await db.scalars(
                keyset(
                    query,
                    RealtimeSession.created_at,
                    RealtimeSession.id,
                    cursor=cursor,
                    limit=limit,
                )
            )
        ).all()
    data = [summary_wire(s, None, detail=False) for s in rows[:limit]]
    return ok(page(rows, limit, lambda s: (s.created_at, s.id), data))


@router.get(
    "/avatar_conversations/{id}",
    response_model=ConversationOut,
    response_model_exclude_unset=True,
    summary="Retrieve a conversation",
)
async def get_conversation(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep, base_url: BaseUrlDep
) -> JSONResponse:
    async with services.db.transaction() as db:
        session = await get_conversation_row(db, principal, str(id))
        image_url = await avatar_image_url(db, services, base_url, session.avatar_id)
        entries = (
            await db.scalars(
                select(TranscriptEntry)
                .where(TranscriptEntry.session_id == session.id)
                .order_by(TranscriptEntry.id)
                .limit(1000)
            )
        ).all()
    out = summary_wire(session, image_url, detail=True)
    status = out["status"]
    recording = session.recording_blob_id
    out.update(
        maxDuration=session.max_duration,
        startedAt=iso_opt(session.started_at),
        recordingUrl=None
        if recording is None
        else base_url + services.blobs.signed_path(recording),
        tools=[
            {"type": t["type"], "name": t["name"], "description": t["description"]}
            for t in session.tools
        ],
        transcript=[transcript_wire(e) for e in entries],
    )
    if status != "in_progress":
        out["endedAt"] = iso_opt(session.ended_at)
    if status == "failed":
        out["failure"] = session.failure or "The session failed."
        out["failureCode"] = session.failure_code or "INTERNAL"
    return ok(out)


def transcript_wire(entry: TranscriptEntry) -> dict[str, Any]:
    """A transcript entry on the wire (also the body of the session webhooks' final event)."""
    out: dict[str, Any] = {
        "role": entry.role,
        "content": entry.content,
        "timestamp": iso_opt(entry.timestamp),
    }
    if entry.tool_calls:
        out["toolCalls"] = entry.tool_calls
    if entry.tool_results:
        out["toolResults"] = entry.tool_results
    return out


@router.delete(
    "/avatar_conversations/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a conversation's transcript and recording",
)
async def delete_conversation(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep
) -> Response:
    async with services.db.transaction() as db:
        session = await get_conversation_row(db, principal, str(id))
        if Status(session.status) in ACTIVE:
            raise Conflict("The conversation is still in progress; end the session first.")
        await db.execute(delete(TranscriptEntry).where(TranscriptEntry.session_id == session.id))
        recording, session.recording_blob_id = session.recording_blob_id, None
        session.conversation_deleted_at = utcnow()
        await db.flush()
        unused = await forget_blobs(db, [recording])
    services.blobs.unlink_stale(unused, min_age_s=0)  # the recording file goes with it
    return Response(status_code=204)


@router.get("/avatar_usage", response_model=UsageOut, summary="Aggregate avatar session usage")
async def avatar_usage(
    services: ServicesDep,
    principal: PrincipalDep,
    startDate: AwareDatetime,
    endDate: AwareDatetime,
) -> JSONResponse:
    try:
        start, end = as_utc(startDate), as_utc(endDate)
    except OverflowError as e:  # e.g. 0001-01-01T00:00:00+14:00 has no UTC equivalent
        raise InvalidInput("startDate and endDate must lie within years 1-9999 in UTC.") from e
    if end <= start:
        raise InvalidInput("endDate must be after startDate.", ["endDate"])
    if end - start > timedelta(days=90):
        raise InvalidInput("The date range may span at most 90 days.", ["endDate"])
    async with services.db.transaction() as db:
        rows = (
            await db.execute(
                select(RealtimeSession.created_at, RealtimeSession.duration).where(
                    RealtimeSession.organization_id == principal.organization_id,
                    RealtimeSession.created_at >= start,
                    RealtimeSession.created_at < end,
                )
            )
        ).all()
    by_day: dict[date, list[int]] = {}
    day = start.date()
    while datetime.combine(day, datetime.min.time(), start.tzinfo) < end:
        by_day[day] = [0, 0]
        if day == date.max:
            break
        day += timedelta(days=1)
    durations = []
    for created, duration in rows:
        slot = by_day.setdefault(as_utc(created).date(), [0, 0])
        slot[0] += 1
        if duration is not None:
            slot[1] += duration
            durations.append(duration)
    total = sum(durations)
    return ok(
        {
            "totalSeconds": total,
            "totalSessions": len(rows),
            "avgDurationSeconds": round(total / len(durations)) if durations else 0,
            "byDay": [
                {"date": d.isoformat(), "sessions": v[0], "seconds": v[1]}
                for d, v in sorted(by_day.items())
            ],
        }
    )
