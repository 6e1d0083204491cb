"""Ephemeral uploads: ``POST /v1/uploads`` hands out a storage URL; the bytes go to
``POST /storage/uploads/{id}`` (multipart, no API key: the form's token authorises it), and the
returned ``runway://`` URI can be used as ``referenceImage`` or a document ``file``."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import StringConstraints, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from characters.api import wire
from characters.api.deps import BaseUrlDep, PrincipalDep, Services, ServicesDep
from characters.api.wire import ok
from characters.errors import InvalidInput, LimitExceeded, Unauthorized
from characters.store.keys import Principal, hash_secret
from characters.store.owned import get_owned
from characters.store.tables import Blob, Upload
from characters.timeutil import as_utc, utcnow

router = APIRouter(tags=["uploads"])

MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".aac": "audio/aac",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".pdf": "application/pdf",
}
URI_PREFIX = "runway://uploads/"


class UploadCreate(wire.Request):
    filename: Annotated[str, StringConstraints(min_length=3, max_length=255)]
    type: Literal["ephemeral"]

    @field_validator("filename")
    @classmethod
    def _media_extension(cls, v: str) -> str:
        if PurePosixPath(v).suffix.lower() not in MEDIA_TYPES:
            raise ValueError(
                "filename must end with a supported extension: " + ", ".join(sorted(MEDIA_TYPES))
            )
        return v


class UploadOut(wire.Response):
    uploadUrl: str
    fields: dict[str, str]
    runwayUri: str


@router.post(
    "/v1/uploads",
    response_model=UploadOut,
    summary="Start an ephemeral upload",
    responses={429: {"description": "Too many pending uploads"}},
)
async def create_upload(
    body: UploadCreate, services: ServicesDep, principal: PrincipalDep, base_url: BaseUrlDep
) -> JSONResponse:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with services.db.transaction() as db:
        pending = await db.scalar(
            select(func.count()).where(
                Upload.organization_id == principal.organization_id,
                Upload.completed_at.is_(None),
                Upload.expires_at > now,
            )
        )
        if (pending or 0) >= services.settings.max_pending_uploads:
            raise LimitExceeded("Too many pending uploads; finish or let some expire first.", 60)
        upload = Upload(
            id=str(uuid.uuid4()),
            organization_id=principal.organization_id,
            filename=PurePosixPath(body.filename).name,
            content_type=MEDIA_TYPES[PurePosixPath(body.filename).suffix.lower()],
            token_hash=hash_secret(token),
            created_at=now,
            expires_at=now + timedelta(seconds=services.settings.upload_ttl_s),
        )
        db.add(upload)
    return ok(
        {
            "uploadUrl": f"{base_url}/storage/uploads/{upload.id}",
            "fields": {"uploadId": upload.id, "token": token},
            "runwayUri": URI_PREFIX + upload.id,
        }
    )


@router.post(
    "/storage/uploads/{upload_id}",
    status_code=204,
    response_class=Response,
    summary="Upload the bytes of an ephemeral upload (multipart form: fields, then file)",
)
async def put_upload_bytes(
    upload_id: uuid.UUID, request: Request, services: ServicesDep
) -> Response:
    max_bytes = services.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise InvalidInput(f"Uploads are limited to {max_bytes // (1024 * 1024)} MB.")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception as e:  # the multipart parser raises several unrelated types
        raise InvalidInput("Send the upload as multipart/form-data with a 'file' part.") from e
    try:
        file = form.get("file")
        token = form.get("token")
        if not isinstance(file, UploadFile):
            raise InvalidInput("The form has no 'file' part.")
        if not isinstance(token, str):
            raise Unauthorized(
                "The form has no 'token' field; send every field from POST /v1/uploads."
            )
        data = await file.read(max_bytes + 1)
    finally:
        await form.close()
    if len(data) > max_bytes:
        raise InvalidInput(f"Uploads are limited to {max_bytes // (1024 * 1024)} MB.")
    if not data:
        raise InvalidInput("The uploaded file is empty.")
    async with services.db.transaction() as db:
        upload = await db.get(Upload, str(upload_id), with_for_update=True)
        if upload is None or not hmac.compare_digest(upload.token_hash, hash_secret(token)):
            raise Unauthorized("Unknown upload or wrong token.")
        if as_utc(upload.expires_at) < utcnow():
            raise InvalidInput("This upload URL has expired; start a new upload.")
        if upload.completed_at is not None:
            raise InvalidInput("This upload has already received its file.")
        blob = await services.blobs.put(db, data, upload.content_type, upload.organization_id)
        upload.blob_id = blob.id
        upload.completed_at = utcnow()
    return Response(status_code=204)


async def read_upload(
    db: AsyncSession, services: Services, principal: Principal, uri: str, field: str
) -> bytes:
    """The bytes behind a ``runway://uploads/<id>`` URI of the caller's organisation."""
    upload_id = uri.removeprefix(URI_PREFIX)
    if not uri.startswith(URI_PREFIX) or not _is_uuid(upload_id):
        raise InvalidInput(f"{field} is not an upload URI returned by POST /v1/uploads.", [field])
    upload = await get_owned(db, Upload, principal.organization_id, upload_id)
    if upload is None:
        raise InvalidInput(f"{field}: upload {upload_id} not found.", [field])
    if upload.blob_id is None:
        raise InvalidInput(f"{field}: upload {upload_id} has not received its file yet.", [field])
    if as_utc(upload.expires_at) < utcnow():
        raise InvalidInput(
            f"{field}: upload {upload_id} has expired; upload the file again.", [field]
        )
    blob = await db.get(Blob, upload.blob_id)
    assert blob is not None
    return services.blobs.read(blob)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def read_media_uri(
    services: Services,
    principal: Principal,
    uri: str,
    *,
    field: str,
    media: str,
    decode: Callable[[str], bytes],
    fetch: Callable[[str], bytes],
    error: type[InvalidInput] = InvalidInput,
    path: Sequence[str | int] | None = None,
) -> bytes:
    """The bytes a media field points at: a ``data:<media>/`` URI (``decode``), an upload's
    ``runway://`` URI, or an ``https://`` URL (``fetch``, run in a worker thread). Not checked
    beyond what ``decode`` and ``fetch`` check: callers validate the content."""
    path = list(path) if path is not None else [field]
    if uri.startswith("data:"):
        if not uri.startswith(f"data:{media}/"):
            raise error(f"{field} data URIs must have an {media}/* media type.", path)
        return decode(uri)
    if uri.startswith("runway://"):
        async with services.db.transaction() as db:
            return await read_upload(db, services, principal, uri, field)
    if uri.startswith(("https://", "http://")):
        return await asyncio.to_thread(fetch, uri)
    raise error(
        f"{field} must be an https:// URL, a runway:// upload URI or a data:{media}/ URI.", path
    )
