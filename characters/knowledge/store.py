"""Documents' passages in the database, and a conversation's index read back from it.

A document is indexed once, when it is created or its content changes (:func:`index_text`, CPU
work for a worker thread: tokens counted, cut into passages, embedded), and its passages are
stored beside it (:func:`save_index`: table ``document_chunks``, each passage's vectors, its own
and its sentences', as 384 little-endian float32 each; the same on SQLite and PostgreSQL).

:func:`load_knowledge` builds the :class:`~characters.knowledge.index.KnowledgeIndex` of an
avatar's documents for one conversation. Documents indexed by another model or chunker than
:data:`INDEX_VERSION` (or stored before the knowledge base existed) are indexed again there
first, and saved.

pgvector is not used: retrieval is scoped to one avatar's documents, at most
``knowledge_max_tokens`` (about 1 000 passages), which numpy scores exactly in well under a
millisecond in the call's own process; a database round trip per turn would cost more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from characters.errors import InvalidInput, Unavailable
from characters.knowledge.chunking import Passage, chunk
from characters.knowledge.embedder import DIMENSIONS, MODEL_ID, Embedder, Vectors, load_embedder
from characters.knowledge.index import KnowledgeIndex, Source
from characters.knowledge.limits import check_document_tokens
from characters.store.db import Database
from characters.store.tables import AvatarDocument, Document, DocumentChunk

log = logging.getLogger(__name__)

INDEX_VERSION = f"{MODEL_ID}/passages-3"
"""Stored with each document's passages; change the suffix when chunking changes."""


def embedder(models_dir: Path) -> Embedder:
    """The process's embedder; :class:`Unavailable` (503) when its model is not installed."""
    try:
        return load_embedder(models_dir)
    except InvalidInput as e:
        raise Unavailable(
            f"The knowledge base's embedding model is not usable on this server: {e.message}"
        ) from e


@dataclass(frozen=True, slots=True)
class Indexed:
    """A document's text, indexed: its passages, their vectors and its token count."""

    passages: list[Passage]
    vectors: list[Vectors]
    """Per passage, the vectors of :attr:`Passage.embedded` (itself, then its sentences)."""
    tokens: int


def count_tokens(text: str, models_dir: Path) -> int:
    """The tokens of a document's text, as the knowledge limits count them."""
    return embedder(models_dir).count_tokens([text])[0]


def index_text(
    text: str, models_dir: Path, *, max_tokens: int, path: Sequence[str] = ("content",)
) -> Indexed:
    """Index a document's text (blocking: run it in a worker thread). A text of more than
    ``max_tokens`` tokens is refused (:class:`InvalidInput` on ``path``) before anything is
    embedded."""
    model = embedder(models_dir)
    tokens = model.count_tokens([text])[0]
    check_document_tokens(tokens, max_tokens, path)
    passages = chunk(text, model.count_tokens)
    texts = [t for p in passages for t in p.embedded]
    flat = model.embed(texts)
    ends = np.cumsum([len(p.embedded) for p in passages])
    return Indexed(passages, list(np.split(flat, ends[:-1])) if passages else [], tokens)


async def save_index(db: AsyncSession, doc: Document, indexed: Indexed) -> None:
    """Store ``indexed`` as ``doc``'s passages (replacing any it had) and its token count."""
    await db.execute(delete(DocumentChunk).where(DocumentChunk.document_id == doc.id))
    doc.tokens = indexed.tokens
    doc.index_version = INDEX_VERSION
    for position, (passage, vectors) in enumerate(
        zip(indexed.passages, indexed.vectors, strict=True)
    ):
        db.add(
            DocumentChunk(
                document_id=doc.id,
                position=position,
                text=passage.text,
                tokens=passage.tokens,
                embedding=np.asarray(vectors, "<f4").tobytes(),
            )
        )


async def avatar_documents(db: AsyncSession, avatar_id: str) -> list[Document]:
    """An avatar's documents, in their attached order."""
    rows = await db.scalars(
        select(Document)
        .join(AvatarDocument, AvatarDocument.document_id == Document.id)
        .where(AvatarDocument.avatar_id == avatar_id)
        .order_by(AvatarDocument.position)
    )
    return list(rows)


async def token_counts(
    db: AsyncSession, doc_ids: Sequence[str], models_dir: Path
) -> dict[str, int]:
    """Tokens of each document (counted now for one that was never indexed)."""
    if not doc_ids:
        return {}
    rows = (
        await db.execute(
            select(Document.id, Document.tokens, Document.content).where(
                Document.id.in_(list(doc_ids))
            )
        )
    ).all()
    out: dict[str, int] = {}
    for doc_id, tokens, content in rows:
        if tokens is None:
            tokens = await asyncio.to_thread(count_tokens, content, models_dir)
        out[doc_id] = tokens
    return out


async def users_of(db: AsyncSession, doc_id: str) -> dict[str, list[str]]:
    """The avatars a document is attached to, each with all its documents' ids."""
    avatars = select(AvatarDocument.avatar_id).where(AvatarDocument.document_id == doc_id)
    rows = (
        await db.execute(
            select(AvatarDocument.avatar_id, AvatarDocument.document_id).where(
                AvatarDocument.avatar_id.in_(avatars)
            )
        )
    ).all()
    out: dict[str, list[str]] = {}
    for avatar_id, other in rows:
        out.setdefault(avatar_id, []).append(other)
    return out


async def chunk_count(db: AsyncSession, doc_id: str) -> int:
    """Passages stored for a document (for tests and reports)."""
    return int(
        await db.scalar(
            select(func.count())
            .select_from(DocumentChunk)
            .where(DocumentChunk.document_id == doc_id)
        )
        or 0
    )


# Loading a conversation's index


@dataclass(frozen=True, slots=True)
class _Stored:
    sources: list[Source]
    vectors: list[bytes]
    stale: list[tuple[str, str, str]]
    """(id, name, content) of documents whose passages must be made (again)."""


async def _read(db: AsyncSession, avatar_id: str) -> _Stored:
    docs = await avatar_documents(db, avatar_id)
    fresh = {d.id: d for d in docs if d.index_version == INDEX_VERSION}
    stale = [(d.id, d.name, d.content) for d in docs if d.id not in fresh]
    rows = (
        await db.execute(
            select(DocumentChunk)
            .where(DocumentChunk.document_id.in_(list(fresh)))
            .order_by(DocumentChunk.document_id, DocumentChunk.position)
        )
    ).scalars()
    order = {d.id: i for i, d in enumerate(docs)}
    chunks = sorted(rows, key=lambda c: (order[c.document_id], c.position))
    sources = [
        Source(c.document_id, fresh[c.document_id].name, c.position, c.text, c.tokens)
        for c in chunks
    ]
    return _Stored(sources, [c.embedding for c in chunks], stale)


async def load_knowledge(
    database: Database, avatar_id: str, models_dir: Path
) -> KnowledgeIndex | None:
    """The searchable passages of an avatar's documents (``None``: it has none). Documents not
    indexed with :data:`INDEX_VERSION` are indexed now and saved. Raises :class:`Unavailable`
    when the embedding model cannot be loaded."""
    async with database.transaction() as db:
        stored = await _read(db, avatar_id)
    sources = list(stored.sources)
    blobs = list(stored.vectors)
    for doc_id, name, content in stored.stale:
        indexed = await asyncio.to_thread(index_text, content, models_dir, max_tokens=10**9)
        async with database.transaction() as db:
            doc = await db.get(Document, doc_id)
            if doc is not None and doc.content == content:
                await save_index(db, doc, indexed)
        log.info("indexed document %s: %d passages", doc_id, len(indexed.passages))
        for i, passage in enumerate(indexed.passages):
            sources.append(Source(doc_id, name, i, passage.text, passage.tokens))
        blobs.extend(np.asarray(v, "<f4").tobytes() for v in indexed.vectors)
    if not sources:
        return None
    return await asyncio.to_thread(_build, sources, blobs, models_dir)


def _build(sources: list[Source], blobs: list[bytes], models_dir: Path) -> KnowledgeIndex:
    vectors = [np.frombuffer(b, "<f4").reshape(-1, DIMENSIONS).astype(np.float32) for b in blobs]
    return KnowledgeIndex(sources, vectors, embedder(models_dir))
