"""``/v1/realtime_sessions``: create, retrieve, cancel, and consume credentials once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints, model_validator

from characters.api import wire
from characters.api.deps import BaseUrlDep, PrincipalDep, ServicesDep
from characters.api.tools import Tools, unique_tool_names
from characters.api.wire import ok
from characters.avatars.usable import preset_not_installed
from characters.errors import Conflict, InvalidInput, Unavailable
from characters.realtime.livekit import LiveKitUnavailable, backend_token, create_room
from characters.sessions.manager import SessionSpec
from characters.sessions.states import Status
from characters.store.tables import RealtimeSession
from characters.timeutil import iso

router = APIRouter(prefix="/v1", tags=["realtime_sessions"])

PRESET_AVATARS = (
    "game-character",
    "music-superstar",
    "game-character-man",
    "cat-character",
    "influencer",
    "tennis-coach",
    "human-resource",
    "fashion-designer",
    "cooking-teacher",
)


class PresetAvatar(wire.Request):
    type: Literal["runway-preset"]
    presetId: Literal[PRESET_AVATARS]  # type: ignore[valid-type]


class CustomAvatar(wire.Request):
    type: Literal["custom"]
    avatarId: wire.Uuid


class LiveKitIntegration(wire.Request):
    type: Literal["livekit"] = "livekit"
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    token: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    roomName: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    agentIdentity: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class ElevenLabsIntegration(wire.Request):
    type: Literal["elevenlabs"]
    signedUrl: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class SessionCreate(wire.Request):
    model: Literal["gwm1_avatars"]
    avatar: Annotated[
        Annotated[PresetAvatar, wire.tag("runway-preset")]
        | Annotated[CustomAvatar, wire.tag("custom")],
        wire.TypeDiscriminator,
    ]
    maxDuration: Annotated[int, Field(ge=10, le=1800)] | None = None
    personality: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None
    startScript: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    tools: Tools = []
    integration: (
        Annotated[
            Annotated[LiveKitIntegration, wire.tag("livekit")]
            | Annotated[ElevenLabsIntegration, wire.tag("elevenlabs")],
            wire.TypeDiscriminator,
        ]
        | None
    ) = None
    livekit: LiveKitIntegration | None = None

    @model_validator(mode="after")
    def _unique_tool_names(self) -> SessionCreate:
        unique_tool_names(self.tools)
        return self


def livekit_integration(body: SessionCreate) -> dict[str, Any] | None:
    """The caller's LiveKit room for "bring your own agent" (``livekit``, as
    livekit-plugins-runway sends it, or ``integration`` of type ``livekit``), checked; None
    without one. ElevenLabs is refused: this server does not run it."""
    if body.integration is not None and body.livekit is not None:
        raise InvalidInput(
            "Send either 'integration' or the deprecated 'livekit', not both.", ["livekit"]
        )
    field = "livekit" if body.livekit is not None else "integration"
    given = body.livekit if body.livekit is not None else body.integration
    if given is None:
        return None
    if isinstance(given, ElevenLabsIntegration):
        raise InvalidInput(
            "The ElevenLabs integration is not supported by this server; use a LiveKit agent "
            "(integration type 'livekit', or livekit-plugins-runway) or omit 'integration'.",
            ["integration", "type"],
        )
    url = given.url
    if not url.startswith(("ws://", "wss://", "http://", "https://")):
        raise InvalidInput(
            "The LiveKit server's URL must start with ws://, wss://, http:// or https://.",
            [field, "url"],
        )
    if given.agentIdentity is None:
        raise InvalidInput(
            "'agentIdentity' is required: the identity of your agent in the room, whose audio "
            "the avatar lip-syncs and whose lk.playback_finished RPC it calls "
            "(livekit-plugins-runway sends it).",
            [field, "agentIdentity"],
        )
    if url.startswith("http"):  # LiveKit's clients join over WebSocket
        url = "ws" + url[4:]
    return {
        "type": "livekit",
        "url": url,
        "token": given.token,
        "roomName": given.roomName,
        "agentIdentity": given.agentIdentity,
    }


class SessionCreated(wire.Response):
    id: str


class SessionOut(wire.Response):
    id: str
    createdAt: str
    status: Literal["NOT_READY", "READY", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
    queued: bool | None = None
    expiresAt: str | None = None
    sessionKey: str | None = None
    duration: int | None = None
    failure: str | None = None
    failureCode: str | None = None


class IceServer(wire.Response):
    urls: str | list[str]
    username: str | None = None
    credential: str | None = None


class ConsumeOut(wire.Response):
    url: str
    token: str
    roomName: str
    iceServers: list[IceServer] | None = Field(
        None,
        description="Extension: STUN/TURN servers for the client's RTCPeerConnection; present "
        "only when the server is configured with CHARACTERS_ICE_SERVERS.",
    )


def session_wire(session: RealtimeSession) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": session.id,
        "createdAt": iso(session.created_at),
        "status": session.status,
    }
    status = Status(session.status)
    if status == Status.NOT_READY:
        out["queued"] = session.queued
    elif status == Status.READY:
        assert session.expires_at is not None
        out["expiresAt"] = iso(session.expires_at)
        out["sessionKey"] = session.session_key
    elif status == Status.COMPLETED:
        out["duration"] = session.duration or 0
    elif status == Status.FAILED:
        out["failure"] = session.failure or "The session failed."
        out["failureCode"] = session.failure_code or "INTERNAL"
    return out


@router.post(
    "/realtime_sessions",
    response_model=SessionCreated,
    summary="Create a realtime session",
    responses={429: {"description": "Concurrency, queue or daily limit reached"}},
)
async def create_session(
    body: SessionCreate, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    if isinstance(body.avatar, PresetAvatar):
        raise preset_not_installed(body.avatar.presetId)
    integration = livekit_integration(body)
    spec = SessionSpec(
        avatar_id=body.avatar.avatarId.lower(),
        max_duration=body.maxDuration,
        personality=body.personality,
        start_script=body.startScript,
        tools=[t.model_dump(exclude_none=True) for t in body.tools],
        integration=integration,
    )
    session = await services.sessions.create(principal, spec)
    return ok({"id": session.id})


@router.get(
    "/realtime_sessions/{id}",
    response_model=SessionOut,
    response_model_exclude_none=True,
    summary="Retrieve a realtime session",
)
async def get_session(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    return ok(session_wire(await services.sessions.get(principal, str(id))))


@router.delete(
    "/realtime_sessions/{id}",
    status_code=204,
    response_class=Response,
    summary="Cancel a realtime session",
)
async def cancel_session(id: uuid.UUID, services: ServicesDep, principal: PrincipalDep) -> Response:
    await services.sessions.cancel(principal, str(id))
    return Response(status_code=204)


@router.post(
    "/realtime_sessions/{id}/connect_backend",
    response_model=ConsumeOut,
    response_model_exclude_none=True,
    summary="Credentials for your backend to join the session's LiveKit room",
    description="LiveKit mode only: a token for a hidden participant 'backend' in the session's "
    "room, which answers the session's backend_rpc tools over LiveKit RPC (docs/livekit.md). "
    "The session must be READY or RUNNING.",
    responses={409: {"description": "Not in LiveKit mode, or the session is not live"}},
)
async def connect_backend(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    settings = services.settings
    session = await services.sessions.get(principal, str(id))
    if not settings.livekit:
        raise Conflict(
            "connect_backend needs LiveKit mode (CHARACTERS_LIVEKIT_URL); with the embedded "
            "transport, backend_rpc tools are sent to your backendRpcUrl as webhooks."
        )
    if session.integration:
        raise Conflict(
            "This session's avatar is in your own LiveKit room (livekit/integration): join it "
            "with your own credentials."
        )
    if Status(session.status) not in (Status.READY, Status.RUNNING):
        raise Conflict(f"Session is {session.status}; its room is not open.")
    try:  # the room may not exist yet (it is made at consume at the latest)
        await create_room(settings, session.id)
    except LiveKitUnavailable as e:
        raise Unavailable(f"The session's LiveKit room could not be made: {e}.") from None
    ttl = timedelta(seconds=settings.session_ready_ttl_s + session.max_duration + 60)
    token = backend_token(settings, session.id, ttl)
    return ok({"url": settings.livekit_url, "token": token, "roomName": session.id})


@router.post(
    "/realtime_sessions/{id}/consume",
    response_model=ConsumeOut,
    summary="Exchange the session key for one-time media credentials",
    description="Authenticated with 'Authorization: Bearer <sessionKey>' (not the API key). "
    "Works once; X-Runway-Version is optional here.",
    responses={
        401: {"description": "Wrong or missing session key"},
        409: {"description": "Already consumed, or the session is not READY"},
    },
)
async def consume_session(
    id: uuid.UUID,
    services: ServicesDep,
    base_url: BaseUrlDep,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    creds = await services.sessions.consume(str(id), authorization, base_url)
    settings = services.settings
    if settings.livekit:  # a LiveKit room's token; the character joins the room meanwhile
        token = await services.calls.join_room(str(id), creds.token)
        return ok({"url": settings.livekit_url, "token": token, "roomName": creds.room_name})
    services.calls.prepare(str(id))  # the call's face and voice get ready while the client connects
    out: dict[str, Any] = {"url": creds.url, "token": creds.token, "roomName": creds.room_name}
    if settings.ice_servers:  # an extension, only when configured
        out["iceServers"] = settings.ice_servers
    return ok(out)
