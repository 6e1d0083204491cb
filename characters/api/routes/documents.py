"""``/v1/documents``: the knowledge documents avatars can use (text stored now; retrieval later).

Extension: instead of ``content``, ``file`` may name an upload (``runway://…``) of a .txt, .md or
.pdf file; its text is extracted and stored, and the document's ``type`` is ``file``.
"""

from __future__ import annotations

import io
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import StringConstraints, model_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from characters.api import wire
from characters.api.deps import PrincipalDep, Services, ServicesDep
from characters.api.pagination import keyset, page
from characters.api.routes.uploads import URI_PREFIX, read_upload
from characters.api.wire import ok
from characters.errors import InvalidInput, NotFound
from characters.store.keys import Principal
from characters.store.owned import get_owned
from characters.store.tables import Avatar, AvatarDocument, Document, Upload
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


async def used_by(db: AsyncSession, doc_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = await db.execute(
        select(AvatarDocument.document_id, Avatar.id, Avatar.name)
        .join(Avatar, Avatar.id == AvatarDocument.avatar_id)
        .where(AvatarDocument.document_id.in_(doc_ids))
        .order_by(Avatar.created_at, Avatar.id)
    )
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in doc_ids}
    for doc_id, avatar_id, avatar_name in rows:
        out[doc_id].append({"id": avatar_id, "name": avatar_name, "imageUrl": None})
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
) -> str:
    data = await read_upload(db, services, principal, uri, "file")
    upload = await db.get(Upload, uri.removeprefix(URI_PREFIX))
    assert upload is not None
    if upload.content_type == "application/pdf":
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError

        try:
            reader = PdfReader(io.BytesIO(data))
            text = "\n\n".join((p.extract_text() or "") for p in reader.pages)
        except (PyPdfError, ValueError, KeyError, TypeError) as e:
            raise InvalidInput("file: the PDF could not be read.", ["file"]) from e
    elif upload.content_type in ("text/plain", "text/markdown"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInput("file: text files must be UTF-8.", ["file"]) from e
    else:
        raise InvalidInput("file: documents can be made from .txt, .md or .pdf uploads.", ["file"])
    text = text.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL; PDFs emit some
    if not text:
        raise InvalidInput("file: no text could be extracted from the upload.", ["file"])
    if len(text) > MAX_CONTENT:
        raise InvalidInput(
            f"file: the extracted text is longer than {MAX_CONTENT} characters.", ["file"]
        )
    return text


@router.post("/documents", response_model=DocumentOut, summary="Create a knowledge document")
async def create_document(
    body: DocumentCreate, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    now = utcnow()
    async with services.db.transaction() as db:
        if body.file is not None:
            content, kind = await text_of_upload(db, services, principal, body.file), "file"
        else:
            assert body.content is not None
            content, kind = body.content, "text"
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
    return ok(document_wire(doc, [], content=True))


@router.get("/documents", response_model=DocumentPage, summary="List knowledge documents")
async def list_documents(
    services: ServicesDep,
    principal: PrincipalDep,
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
        users = await used_by(db, [d.id for d in rows[:limit]])
    data = [document_wire(d, users[d.id], content=False) for d in rows[:limit]]
    key = (
        (lambda d: (d.created_at, d.id))
        if sort == "createdAt"
        else (lambda d: (d.updated_at, d.id))
    )
    return ok(page(rows, limit, key, data))


@router.get("/documents/{id}", response_model=DocumentOut, summary="Retrieve a knowledge document")
async def get_document(
    id: uuid.UUID, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    async with services.db.transaction() as db:
        doc = await get_owned_document(db, principal, str(id))
        users = await used_by(db, [doc.id])
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
    async with services.db.transaction() as db:
        doc = await get_owned_document(db, principal, str(id))
        if body.name is not None:
            doc.name = body.name
        if body.content is not None:
            doc.content = body.content
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
        await db.delete(doc)
    return Response(status_code=204)
