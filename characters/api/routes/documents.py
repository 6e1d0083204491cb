"""``/v1/documents``: the knowledge documents avatars answer from (docs/knowledge.md).

Each document is cut into passages and embedded when it is created or its content changes
(in a worker thread, before the transaction that stores it), so a session finds its avatar's
documents ready. Limits: ``content`` up to 200 000 characters (Runway's), and
``knowledge_max_tokens`` (50 000) tokens per document and per avatar, all its documents together
(400 naming the total).

Extension: instead of ``content``, ``file`` may name an upload (``runway://…``) of a .txt, .md or
.pdf file; its text is extracted and stored, and the document's ``type`` is ``file``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import StringConstraints, model_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from characters.api import wire
from characters.api.deps import BaseUrlDep, PrincipalDep, Services, ServicesDep
from characters.api.pagination import keyset, page
from characters.api.routes.uploads import URI_PREFIX, read_upload
from characters.api.wire import ok
from characters.errors import InvalidInput, NotFound
from characters.knowledge.formats import document_text
from characters.knowledge.limits import check_avatar_tokens
from characters.knowledge.store import index_text, save_index, token_counts, users_of
from characters.store.keys import Principal
from characters.store.owned import get_owned
from characters.store.tables import Avatar, AvatarDocument, Document, DocumentChunk, Upload
from characters.timeutil import iso, utcnow

router = APIRouter(prefix="/v1", tags=["documents"])

MAX_CONTENT = 200_000
Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Content = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTENT)]


class DocumentCreate(wire.Request):
    name: Name
    content: Content | None = None
    file: Annotated[str, StringConstraints(min_length=13, max_length=5000)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DocumentCreate:
        if (self.content is None) == (self.file is None):
            raise ValueError("give exactly one of 'content' (text) or 'file' (an upload URI)")
        return self


class DocumentUpdate(wire.Request):
    name: Name | None = None
    content: Content | None = None


class UsedBy(wire.Response):
    id: str
    name: str
    imageUrl: str | None


class DocumentOut(wire.Response):
    id: str
    name: str
    type: Literal["text", "file"]
    content: str | None = None
    createdAt: str
    updatedAt: str
    usedBy: list[UsedBy]


class DocumentPage(wire.Response):
    data: list[DocumentOut]
    hasMore: bool
    nextCursor: str | None


async def used_by(
    db: AsyncSession, doc_ids: list[str], services: Services, base_url: str
) -> dict[str, list[dict[str, Any]]]:
    """The avatars each document is attached to (``usedBy``), with a link to the avatar's
    image preview (processed, else the reference)."""
    rows = await db.execute(
        select(
            AvatarDocument.document_id,
            Avatar.id,
            Avatar.name,
            Avatar.processed_preview_blob_id,
            Avatar.reference_preview_blob_id,
        )
        .join(Avatar, Avatar.id == AvatarDocument.avatar_id)
        .where(AvatarDocument.document_id.in_(doc_ids))
        .order_by(Avatar.created_at, Avatar.id)
    )
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in doc_ids}
    for doc_id, avatar_id, avatar_name, processed, reference in rows:
        blob = processed or reference
        image = None if blob is None else base_url + services.blobs.signed_path(blob)
        out[doc_id].append({"id": avatar_id, "name": avatar_name, "imageUrl": image})
    return out


def document_wire(doc: Document, users: list[dict[str, Any]], *, content: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": doc.id,
        "name": doc.name,
        "type": doc.type,
        "createdAt": iso(doc.created_at),
        "updatedAt": iso(doc.updated_at),
        "usedBy": users,
    }
    if content:
        out["content"] = doc.content
    return out


async def get_owned_document(db: AsyncSession, principal: Principal, doc_id: str) -> Document:
    doc = await get_owned(db, Document, principal.organization_id, doc_id)
    if doc is None:
        raise NotFound(f"Document {doc_id} not found.")
    return doc


async def text_of_upload(
    db: AsyncSession, services: Services, principal: Principal, uri: str
) -> tuple[bytes, str]:
    """The bytes and content type of an upload to make a document from."""
    data = await read_upload(db, services, principal, uri, "file")
    upload = await db.get(Upload, uri.removeprefix(URI_PREFIX))
    assert upload is not None
    return data, upload.content_type


def _file_text(data: bytes, content_type: str) -> str:
    text = document_text(data, content_type)
    if len(text) > MAX_CONTENT:
        raise InvalidInput(
            f"file: the extracted text is longer than {MAX_CONTENT} characters.", ["file"]
        )
    return text


@router.post("/documents", response_model=DocumentOut, summary="Create a knowledge document")
async def create_document(
    body: DocumentCreate, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    s = services.settings
    if body.file is not None:
        async with services.db.transaction() as db:
            data, content_type = await text_of_upload(db, services, principal, body.file)
        content, kind, field = (
            await asyncio.to_thread(_file_text, data, content_type),
            "file",
            "file",
        )
    else:
        assert body.content is not None
        content, kind, field = body.content, "text", "content"
    indexed = await asyncio.to_thread(
        index_text, content, s.resolved_models_dir, max_tokens=s.knowledge_max_tokens, path=[field]
    )
    now = utcnow()
    async with services.db.transaction() as db:
        doc = Document(
            id=str(uuid.uuid4()),
            organization_id=principal.organization_id,
            name=body.name,
            type=kind,
            content=content,
            created_at=now,
            updated_at=now,
        )
        db.add(doc)
        await db.flush()
        await save_index(db, doc, indexed)
    return ok(document_wire(doc, [], content=True))


@router.get("/documents", response_model=DocumentPage, summary="List knowledge documents")
async def list_documents(
    services: ServicesDep,
    principal: PrincipalDep,
    base_url: BaseUrlDep,
    limit: wire.Limit = 50,
    cursor: Annotated[wire.Cursor | None, Query()] = None,
    sort: Literal["createdAt", "updatedAt"] = "createdAt",
    order: Literal["asc", "desc"] = "desc",
) -> JSONResponse:
    col = Document.created_at if sort == "createdAt" else Document.updated_at
    async with services.db.transaction() as db:
        query = select(Document).where(Document.organization_id == principal.organization_id)
        rows = (
            await db.scalars(
                keyset(
                    query, col, Document.id, cursor=cursor, limit=limit, descending=order == "desc"
                )
            )
        ).all()
        users = await used_by(db, [d.id for d in rows[:limit]], services, base_url)
    data = [document_wire(d, users[d.id], content=False) for d in rows[:limit]]
    key = (
        (lambda d: (d.created_at, d.id))
        if sort == "createdAt"
        else (lambda d: (d.updated_at, d.id))
    )
    return ok(page(rows, limit, key, data))


@router.get("/documents/{id}", response_model=DocumentOut, summary="Retrieve a knowledge document")
async def get_document(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep, base_url: BaseUrlDep
) -> JSONResponse:
    async with services.db.transaction() as db:
        doc = await get_owned_document(db, principal, str(id))
        users = await used_by(db, [doc.id], services, base_url)
    return ok(document_wire(doc, users[doc.id], content=True))


@router.patch(
    "/documents/{id}",
    status_code=204,
    response_class=Response,
    summary="Update a knowledge document",
)
async def update_document(
    id: uuid.UUID, body: DocumentUpdate, services: ServicesDep, principal: PrincipalDep
) -> Response:
    if body.name is None and body.content is None:
        raise InvalidInput("Give at least one of 'name' or 'content'.")
    s = services.settings
    async with services.db.transaction() as db:
        await get_owned_document(db, principal, str(id))  # 404 before any work
    indexed = None
    if body.content is not None:
        indexed = await asyncio.to_thread(
            index_text, body.content, s.resolved_models_dir, max_tokens=s.knowledge_max_tokens
        )
    async with services.db.transaction() as db:
        doc = await get_owned_document(db, principal, str(id))
        if body.name is not None:
            doc.name = body.name
        if indexed is not None and body.content is not None:
            for avatar_id, doc_ids in (await users_of(db, doc.id)).items():
                others = [d for d in doc_ids if d != doc.id]
                tokens = await token_counts(db, others, s.resolved_models_dir)
                tokens[doc.id] = indexed.tokens
                check_avatar_tokens(
                    tokens, s.knowledge_max_tokens, avatar=avatar_id, path=["content"]
                )
            doc.content = body.content
            await save_index(db, doc, indexed)
        doc.updated_at = utcnow()
    return Response(status_code=204)


@router.delete(
    "/documents/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a knowledge document (and detach it from every avatar)",
)
async def delete_document(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep
) -> Response:
    async with services.db.transaction() as db:
        doc = await get_owned_document(db, principal, str(id))
        await db.execute(delete(AvatarDocument).where(AvatarDocument.document_id == doc.id))
        await db.execute(delete(DocumentChunk).where(DocumentChunk.document_id == doc.id))
        await db.delete(doc)
    return Response(status_code=204)
