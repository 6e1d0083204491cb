"""``/v1/avatars``: create, retrieve, list, update and delete custom avatars."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints, model_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from characters.api import wire
from characters.api.deps import BaseUrlDep, PrincipalDep, Services, ServicesDep
from characters.api.pagination import keyset, page
from characters.api.routes.uploads import read_media_uri
from characters.api.tools import Tools, unique_tool_names
from characters.api.wire import ok
from characters.avatars.images import (
    CheckedImage,
    ImageLimits,
    check_image,
    decode_data_uri,
    fetch_remote,
    upright_size,
)
from characters.avatars.usable import WITHOUT_FACE
from characters.config import Settings
from characters.errors import Conflict, InvalidImage, InvalidInput, NotFound
from characters.face.keypoints import check_keypoints
from characters.knowledge.limits import check_avatar_tokens
from characters.knowledge.store import token_counts
from characters.store.janitor import forget_blobs
from characters.store.keys import Principal
from characters.store.owned import get_owned
from characters.store.tables import Avatar, AvatarDocument, Blob, Document
from characters.timeutil import iso, utcnow
from characters.voices.presets import PRESET_IDS, PRESETS
from characters.webhooks.client import check_url
from characters.webhooks.config import ensure_secret

router = APIRouter(prefix="/v1", tags=["avatars"])

KEYPOINTS_WHILE_PROCESSING = (
    "faceKeypoints cannot be updated while the avatar is processing; wait until it is READY "
    "or FAILED."
)

PresetId = Literal[PRESET_IDS]  # type: ignore[valid-type]
ReferenceImage = Annotated[str, StringConstraints(min_length=13, max_length=5_242_880)]
FaceKeypoints = Annotated[
    dict[str, Any],
    Field(
        description="Extension: manual face keypoints for drawn or stylised faces, in pixels of "
        "the reference image as given (shown upright); see docs/face-keypoints.md. When given, "
        "they are used instead of face detection. On PATCH, null removes them.",
    ),
]

AvatarTools = Annotated[
    Tools,
    Field(
        description="Extension: tools (in the shape of the session's tools) that every session "
        "of this avatar has; a session's own tool of the same name replaces one. See "
        "docs/actions.md. On PATCH, null or [] removes them.",
    ),
]
BackendRpcUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    Field(
        description="Extension: where this avatar's backend_rpc tool calls are POSTed (signed; "
        "https://), instead of the organisation's backendRpcUrl. See docs/actions.md. On "
        "PATCH, null removes it.",
    ),
]


class PresetVoice(wire.Request):
    type: Literal["runway-live-preset"]
    presetId: PresetId


class CustomVoiceRef(wire.Request):
    type: Literal["custom"]
    id: wire.Uuid


VoiceRef = Annotated[
    Annotated[PresetVoice, wire.tag("runway-live-preset")]
    | Annotated[CustomVoiceRef, wire.tag("custom")],
    wire.TypeDiscriminator,
]


class AvatarCreate(wire.Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    referenceImage: ReferenceImage
    personality: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    voice: VoiceRef
    startScript: Annotated[str, StringConstraints(max_length=2000)] | None = None
    documentIds: Annotated[list[wire.Uuid], Field(max_length=50)] | None = None
    imageProcessing: Literal["optimize", "none"] = "optimize"
    faceKeypoints: FaceKeypoints | None = None
    tools: AvatarTools | None = None
    backendRpcUrl: BackendRpcUrl | None = None

    @model_validator(mode="after")
    def _unique_tool_names(self) -> AvatarCreate:
        unique_tool_names(self.tools or [])
        return self


class AvatarUpdate(wire.Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    referenceImage: ReferenceImage | None = None
    personality: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None
    voice: VoiceRef | None = None
    startScript: Annotated[str, StringConstraints(max_length=2000)] | None = None
    documentIds: Annotated[list[wire.Uuid], Field(max_length=50)] | None = None
    imageProcessing: Literal["optimize", "none"] | None = None
    faceKeypoints: FaceKeypoints | None = None
    tools: AvatarTools | None = None
    backendRpcUrl: BackendRpcUrl | None = None

    @model_validator(mode="after")
    def _unique_tool_names(self) -> AvatarUpdate:
        unique_tool_names(self.tools or [])
        return self


# Responses are built as dicts (the wire shape differs per status); documented here for OpenAPI.


class VoiceOut(wire.Response):
    type: Literal["runway-live-preset", "custom"]
    presetId: str | None = None
    id: str | None = None
    name: str | None = None
    description: str | None = None
    deleted: bool | None = None


class AvatarOut(wire.Response):
    id: str
    name: str
    personality: str
    startScript: str | None
    voice: VoiceOut
    referenceImageUri: str | None
    processedImageUri: str | None
    documentIds: list[str]
    createdAt: str
    updatedAt: str
    status: Literal["PROCESSING", "READY", "FAILED"]
    failureReason: str | None = None
    faceKeypoints: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    backendRpcUrl: str | None = None


class AvatarPage(wire.Response):
    data: list[AvatarOut]
    hasMore: bool
    nextCursor: str | None


def voice_wire(voice: dict[str, Any]) -> dict[str, Any]:
    if voice["type"] == "runway-live-preset":
        preset = PRESETS[voice["presetId"]]
        return {
            "type": "runway-live-preset",
            "presetId": preset.id,
            "name": preset.name,
            "description": preset.description,
        }
    return {"type": "custom", "id": voice["id"], "deleted": True}


def avatar_wire(
    avatar: Avatar, document_ids: list[str], services: Services, base_url: str
) -> dict[str, Any]:
    def url(blob_id: str | None) -> str | None:
        return None if blob_id is None else base_url + services.blobs.signed_path(blob_id)

    out: dict[str, Any] = {
        "id": avatar.id,
        "name": avatar.name,
        "personality": avatar.personality,
        "startScript": avatar.start_script,
        "voice": voice_wire(avatar.voice),
        "referenceImageUri": url(avatar.reference_preview_blob_id),
        "processedImageUri": url(avatar.processed_preview_blob_id),
        "documentIds": document_ids,
        "createdAt": iso(avatar.created_at),
        "updatedAt": iso(avatar.updated_at),
        "status": avatar.status,
    }
    if avatar.status == "FAILED":
        out["failureReason"] = avatar.failure_reason or "Processing failed."
    if avatar.face_keypoints is not None:
        out["faceKeypoints"] = avatar.face_keypoints
    if avatar.tools:
        out["tools"] = avatar.tools
    if avatar.backend_rpc_url:
        out["backendRpcUrl"] = avatar.backend_rpc_url
    return out


def tools_stored(tools: list[Any] | None) -> list[dict[str, Any]] | None:
    """Avatar tools as stored (None when there are none)."""
    return [t.model_dump(exclude_none=True) for t in tools] if tools else None


def rpc_url_checked(services: Services, url: str | None) -> str | None:
    if url is None:
        return None
    allow = services.settings.webhook_allow_http_loopback
    return check_url(url, allow_http_loopback=allow, field="backendRpcUrl")


async def document_ids_of(db: AsyncSession, avatar_ids: list[str]) -> dict[str, list[str]]:
    rows = await db.execute(
        select(AvatarDocument.avatar_id, AvatarDocument.document_id)
        .where(AvatarDocument.avatar_id.in_(avatar_ids))
        .order_by(AvatarDocument.avatar_id, AvatarDocument.position)
    )
    out: dict[str, list[str]] = {a: [] for a in avatar_ids}
    for avatar_id, doc_id in rows:
        out[avatar_id].append(doc_id)
    return out


# The stored face analysis (~40 KB of JSON each) is for the engine, never for the wire: routes
# leave it unloaded, which keeps GET and list as fast as before analysis existed.


async def get_owned_avatar(db: AsyncSession, principal: Principal, avatar_id: str) -> Avatar:
    avatar = await get_owned(
        db, Avatar, principal.organization_id, avatar_id, options=[WITHOUT_FACE]
    )
    if avatar is None:
        raise NotFound(f"Avatar {avatar_id} not found.")
    return avatar


def limits_of(services: Services) -> ImageLimits:
    s = services.settings
    return ImageLimits(
        s.max_image_bytes, s.max_image_pixels, s.min_image_side, s.max_processed_side
    )


async def load_reference_image(
    services: Services, principal: Principal, reference: str
) -> CheckedImage:
    """Fetch and fully validate a reference image given as data URI, upload URI or URL."""
    limits = limits_of(services)
    s = services.settings
    data = await read_media_uri(
        services,
        principal,
        reference,
        field="referenceImage",
        media="image",
        decode=lambda uri: decode_data_uri(uri, limits),
        fetch=lambda url: fetch_remote(
            url,
            limits,
            timeout_s=s.remote_fetch_timeout_s,
            allow_private=s.allow_private_urls,
            allow_http=s.allow_http_urls,
        ),
        error=InvalidImage,
    )
    return await asyncio.to_thread(check_image, data, limits)


async def check_face_keypoints(raw: dict[str, Any], image: bytes) -> dict[str, Any]:
    """Validate keypoints against the reference image they were placed on (400 if unusable)."""

    def check() -> dict[str, Any]:
        return check_keypoints(raw, upright_size(image))

    return await asyncio.to_thread(check)


def check_voice(voice: PresetVoice | CustomVoiceRef) -> dict[str, Any]:
    if isinstance(voice, CustomVoiceRef):
        raise InvalidInput(
            f"Custom voice {voice.id} not found: this server has no custom voices yet. "
            "Use {'type': 'runway-live-preset', 'presetId': ...}.",
            ["voice", "id"],
        )
    return {"type": "runway-live-preset", "presetId": voice.presetId}


async def check_documents(
    db: AsyncSession, principal: Principal, ids: list[str], settings: Settings
) -> list[str]:
    """The avatar's document ids, each once; 400 for one that is not the caller's, or when
    together they hold more than ``knowledge_max_tokens`` tokens."""
    unique = list(dict.fromkeys(i.lower() for i in ids))
    if not unique:
        return []
    found = set(
        (
            await db.scalars(
                select(Document.id).where(
                    Document.id.in_(unique), Document.organization_id == principal.organization_id
                )
            )
        ).all()
    )
    missing = [i for i in unique if i not in found]
    if missing:
        raise InvalidInput(f"Document(s) not found: {', '.join(missing)}.", ["documentIds"])
    tokens = await token_counts(db, unique, settings.resolved_models_dir)
    check_avatar_tokens(tokens, settings.knowledge_max_tokens)
    return unique


async def set_documents(db: AsyncSession, avatar_id: str, doc_ids: list[str]) -> None:
    await db.execute(delete(AvatarDocument).where(AvatarDocument.avatar_id == avatar_id))
    for position, doc_id in enumerate(doc_ids):
        db.add(AvatarDocument(avatar_id=avatar_id, document_id=doc_id, position=position))


@router.post("/avatars", response_model=AvatarOut, summary="Create an avatar")
async def create_avatar(
    body: AvatarCreate, services: ServicesDep, principal: PrincipalDep, base_url: BaseUrlDep
) -> JSONResponse:
    voice = check_voice(body.voice)
    rpc_url = rpc_url_checked(services, body.backendRpcUrl)
    image = await load_reference_image(services, principal, body.referenceImage)
    keypoints = None
    if body.faceKeypoints is not None:
        keypoints = await check_face_keypoints(body.faceKeypoints, image.data)
    now = utcnow()
    async with services.db.transaction() as db:
        doc_ids = await check_documents(db, principal, body.documentIds or [], services.settings)
        blob = await services.blobs.put(
            db, image.data, image.content_type, principal.organization_id
        )
        avatar = Avatar(
            id=str(uuid.uuid4()),
            organization_id=principal.organization_id,
            name=body.name,
            personality=body.personality,
            start_script=body.startScript or None,
            voice=voice,
            image_processing=body.imageProcessing,
            status="PROCESSING",
            image_version=1,
            reference_blob_id=blob.id,
            face_keypoints=keypoints,
            tools=tools_stored(body.tools),
            backend_rpc_url=rpc_url,
            created_at=now,
            updated_at=now,
        )
        db.add(avatar)
        await db.flush()
        await set_documents(db, avatar.id, doc_ids)
        if rpc_url:
            await ensure_secret(db, principal.organization_id)
    services.avatars.schedule(avatar.id, avatar.image_version)
    return ok(avatar_wire(avatar, doc_ids, services, base_url))


@router.get("/avatars", response_model=AvatarPage, summary="List avatars")
async def list_avatars(
    services: ServicesDep,
    principal: PrincipalDep,
    base_url: BaseUrlDep,
    limit: wire.Limit = 50,
    cursor: Annotated[wire.Cursor | None, Query()] = None,
) -> JSONResponse:
    async with services.db.transaction() as db:
        query = (
            select(Avatar)
            .options(WITHOUT_FACE)
            .where(Avatar.organization_id == principal.organization_id)
        )
        rows = (
            await db.scalars(
                keyset(query, Avatar.created_at, Avatar.id, cursor=cursor, limit=limit)
            )
        ).all()
        docs = await document_ids_of(db, [a.id for a in rows[:limit]])
    data = [avatar_wire(a, docs[a.id], services, base_url) for a in rows[:limit]]
    return ok(page(rows, limit, lambda a: (a.created_at, a.id), data))


@router.get("/avatars/{id}", response_model=AvatarOut, summary="Retrieve an avatar")
async def get_avatar(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep, base_url: BaseUrlDep
) -> JSONResponse:
    async with services.db.transaction() as db:
        avatar = await get_owned_avatar(db, principal, str(id))
        docs = await document_ids_of(db, [avatar.id])
    return ok(avatar_wire(avatar, docs[avatar.id], services, base_url))


@router.patch(
    "/avatars/{id}",
    response_model=AvatarOut,
    summary="Update an avatar",
    responses={409: {"description": "The reference image cannot change while processing"}},
)
async def update_avatar(
    id: uuid.UUID,
    body: AvatarUpdate,
    services: ServicesDep,
    principal: PrincipalDep,
    base_url: BaseUrlDep,
) -> JSONResponse:
    fields = body.model_fields_set
    if not fields:
        raise InvalidInput("Give at least one field to update.")
    for name in (
        "name",
        "personality",
        "voice",
        "referenceImage",
        "documentIds",
        "imageProcessing",
    ):
        if name in fields and getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null.", [name])
    voice = check_voice(body.voice) if body.voice is not None else None
    rpc_url = rpc_url_checked(services, body.backendRpcUrl)
    new_keypoints = "faceKeypoints" in fields
    async with services.db.transaction() as db:
        avatar = await get_owned_avatar(db, principal, str(id))
        if body.referenceImage is not None and avatar.status == "PROCESSING":
            raise Conflict("The reference image cannot be updated while the avatar is processing.")
        if new_keypoints and avatar.status == "PROCESSING":
            raise Conflict(KEYPOINTS_WHILE_PROCESSING)
        stored = None
        if body.faceKeypoints is not None:
            stored = await db.get(Blob, avatar.reference_blob_id)
    image = (
        await load_reference_image(services, principal, body.referenceImage)
        if body.referenceImage is not None
        else None
    )
    keypoints = None
    if body.faceKeypoints is not None:  # placed on the new image, or on the stored one
        if image is not None:
            data = image.data
        else:
            assert stored is not None
            try:
                data = await asyncio.to_thread(services.blobs.read, stored)
            except OSError as e:
                raise InvalidInput(
                    "The avatar's reference image is no longer stored; send referenceImage "
                    "together with faceKeypoints.",
                    ["referenceImage"],
                ) from e
        keypoints = await check_face_keypoints(body.faceKeypoints, data)
    reprocess = image is not None or "imageProcessing" in fields or new_keypoints
    async with services.db.transaction() as db:
        avatar = await get_owned_avatar(db, principal, str(id))
        await db.refresh(avatar, with_for_update=True)
        if reprocess and avatar.status == "PROCESSING":
            raise Conflict(
                KEYPOINTS_WHILE_PROCESSING
                if new_keypoints and image is None
                else "The reference image cannot be updated while the avatar is processing."
            )
        if image is None and stored is not None and avatar.reference_blob_id != stored.id:
            raise Conflict(
                "The reference image changed while faceKeypoints were checked; send them "
                "again for the new image."
            )
        if body.name is not None:
            avatar.name = body.name
        if body.personality is not None:
            avatar.personality = body.personality
        if "startScript" in fields:
            avatar.start_script = body.startScript or None
        if voice is not None:
            avatar.voice = voice
        if body.imageProcessing is not None:
            avatar.image_processing = body.imageProcessing
        if body.documentIds is not None:
            await set_documents(
                db,
                avatar.id,
                await check_documents(db, principal, body.documentIds, services.settings),
            )
        if image is not None:
            blob = await services.blobs.put(
                db, image.data, image.content_type, principal.organization_id
            )
            avatar.reference_blob_id = blob.id
            if not new_keypoints:  # keypoints placed on the old image do not fit the new one
                avatar.face_keypoints = None
        if new_keypoints:
            avatar.face_keypoints = keypoints
        if "tools" in fields:
            avatar.tools = tools_stored(body.tools)
        if "backendRpcUrl" in fields:
            avatar.backend_rpc_url = rpc_url
            if rpc_url:
                await ensure_secret(db, principal.organization_id)
        if reprocess:
            avatar.image_version += 1
            avatar.status, avatar.failure_reason = "PROCESSING", None
            avatar.reference_preview_blob_id = None
            avatar.processed_blob_id = avatar.processed_preview_blob_id = None
            avatar.face = None
        avatar.updated_at = utcnow()
        docs = await document_ids_of(db, [avatar.id])
    if reprocess:
        services.avatars.schedule(avatar.id, avatar.image_version)
    return ok(avatar_wire(avatar, docs[avatar.id], services, base_url))


@router.delete(
    "/avatars/{id}", status_code=204, response_class=Response, summary="Delete an avatar"
)
async def delete_avatar(id: uuid.UUID, services: ServicesDep, principal: PrincipalDep) -> Response:
    async with services.db.transaction() as db:
        avatar = await get_owned_avatar(db, principal, str(id))
        await db.execute(delete(AvatarDocument).where(AvatarDocument.avatar_id == avatar.id))
        blob_ids = [
            avatar.reference_blob_id,
            avatar.reference_preview_blob_id,
            avatar.processed_blob_id,
            avatar.processed_preview_blob_id,
        ]
        await db.delete(avatar)
        await db.flush()
        unused = await forget_blobs(db, blob_ids)
    await asyncio.to_thread(services.blobs.unlink_stale, unused)
    return Response(status_code=204)
