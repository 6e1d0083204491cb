"""Database tables (SQLAlchemy 2 declarative). Changing one needs an Alembic migration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UUID = String(36)
TS = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[int] = mapped_column(Integer)
    credit_balance: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TS)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    """Where session lifecycle events are POSTed (extension; docs/actions.md)."""
    backend_rpc_url: Mapped[str | None] = mapped_column(String(2048))
    """Where ``backend_rpc`` tool calls go, unless the avatar names its own."""
    webhook_secret: Mapped[str | None] = mapped_column(String(100))
    """Signs both (``whsec_…``); made when the first URL is set."""


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(TS)
    revoked_at: Mapped[datetime | None] = mapped_column(TS)


class Blob(Base):
    """Bytes stored on disk under the data dir; the row says what and whose they are."""

    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TS)


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"))
    created_at: Mapped[datetime] = mapped_column(TS)
    expires_at: Mapped[datetime] = mapped_column(TS)
    completed_at: Mapped[datetime | None] = mapped_column(TS)


class Avatar(Base):
    __tablename__ = "avatars"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(50))
    personality: Mapped[str] = mapped_column(Text)
    start_script: Mapped[str | None] = mapped_column(Text)
    voice: Mapped[dict[str, Any]] = mapped_column(JSON)
    image_processing: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    image_version: Mapped[int] = mapped_column(Integer, default=1)
    reference_blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    reference_preview_blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"))
    processed_blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"))
    processed_preview_blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"))
    face: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What the face engine stored for this avatar (landmarks, regions, framing)."""
    face_keypoints: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Manual face keypoints given through the API for stylized faces (extension)."""
    tools: Mapped[list[Any] | None] = mapped_column(JSON)
    """Tools (Runway's session shape) every session of this avatar has (extension)."""
    backend_rpc_url: Mapped[str | None] = mapped_column(String(2048))
    """Where this avatar's ``backend_rpc`` calls go (extension; else the organisation's)."""
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)

    __table_args__ = (Index("ix_avatars_org_created", "organization_id", "created_at", "id"),)


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    tokens: Mapped[int | None] = mapped_column(Integer)
    """Tokens of ``content`` (the knowledge limit counts them); ``None`` until it is indexed."""
    index_version: Mapped[str | None] = mapped_column(String(64))
    """What made its passages (embedding model and chunking; ``characters.knowledge.store``):
    another value than the current one means they are made again before use."""

    __table_args__ = (Index("ix_documents_org_created", "organization_id", "created_at", "id"),)


class DocumentChunk(Base):
    """A passage of a document, with its embedding (the knowledge base, docs/knowledge.md)."""

    __tablename__ = "document_chunks"

    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    """The passage's unit vectors, 384 little-endian float32 each: its own, then one per
    sentence when it has several."""


class AvatarDocument(Base):
    __tablename__ = "avatar_documents"

    avatar_id: Mapped[str] = mapped_column(
        ForeignKey("avatars.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class RealtimeSession(Base):
    """One realtime session; also the conversation of the same id."""

    __tablename__ = "realtime_sessions"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    avatar_id: Mapped[str | None] = mapped_column(UUID)
    """The custom avatar's id (kept after the avatar is deleted, no foreign key)."""
    avatar_preset_id: Mapped[str | None] = mapped_column(String(64))
    avatar_name: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16))
    queued: Mapped[bool] = mapped_column(Boolean, default=False)
    max_duration: Mapped[int] = mapped_column(Integer)
    personality: Mapped[str | None] = mapped_column(Text)
    start_script: Mapped[str | None] = mapped_column(Text)
    tools: Mapped[list[Any]] = mapped_column(JSON)
    integration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    session_key: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(TS)
    consumed_at: Mapped[datetime | None] = mapped_column(TS)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    """Hash of the one-time media token handed out by consume."""
    token_used_at: Mapped[datetime | None] = mapped_column(TS)
    node: Mapped[str | None] = mapped_column(String(200))
    """The server process running the call (set when its media token is used), so a restarted
    process knows which calls died with it."""
    created_at: Mapped[datetime] = mapped_column(TS)
    ready_at: Mapped[datetime | None] = mapped_column(TS)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    ended_at: Mapped[datetime | None] = mapped_column(TS)
    last_seen_at: Mapped[datetime | None] = mapped_column(TS)
    """Last heartbeat of the media peer while RUNNING."""
    duration: Mapped[int | None] = mapped_column(Integer)
    failure: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    credits_charged: Mapped[int] = mapped_column(Integer, default=0)
    recording_blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"))
    conversation_name: Mapped[str | None] = mapped_column(String(200))
    conversation_deleted_at: Mapped[datetime | None] = mapped_column(TS)

    __table_args__ = (
        Index("ix_realtime_sessions_org_created", "organization_id", "created_at", "id"),
        Index("ix_realtime_sessions_status", "status"),
    )


class SessionTransition(Base):
    __tablename__ = "session_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("realtime_sessions.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(TS)
    reason: Mapped[str | None] = mapped_column(Text)


class TranscriptEntry(Base):
    __tablename__ = "transcript_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("realtime_sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[datetime | None] = mapped_column(TS)
    tool_calls: Mapped[list[Any] | None] = mapped_column(JSON)
    tool_results: Mapped[list[Any] | None] = mapped_column(JSON)


class CreditCharge(Base):
    """One debit of credits (a finished session's time, a task's output), for usage reports."""

    __tablename__ = "credit_charges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    session_id: Mapped[str | None] = mapped_column(UUID)
    task_id: Mapped[str | None] = mapped_column(UUID)
    """The task (e.g. an avatar video) this charge paid for, if not a session."""
    model: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(TS)


class Task(Base):
    """An asynchronous generation (``POST /v1/avatar_videos``), polled at ``/v1/tasks/{id}``."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    kind: Mapped[str] = mapped_column(String(32))
    """What to run: ``avatar_video``."""
    model: Mapped[str] = mapped_column(String(64))
    """The model credits are charged to, e.g. ``gwm1_avatar_async_text_to_video``."""
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The validated request (avatar id, speech text and voice, or audio duration)."""
    input_blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"))
    """Speech audio as received."""
    output_blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"))
    estimated_credits: Mapped[int] = mapped_column(Integer, default=0)
    credits_charged: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TS)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    ended_at: Mapped[datetime | None] = mapped_column(TS)
    heartbeat_at: Mapped[datetime | None] = mapped_column(TS)
    """Last sign of life of the process running it (a RUNNING task whose process died is
    taken over when this is old)."""
    deleted_at: Mapped[datetime | None] = mapped_column(TS)
    """Set by DELETE on a finished task: it is gone from the API, and its output with it."""

    __table_args__ = (
        Index("ix_tasks_org_created", "organization_id", "created_at", "id"),
        Index("ix_tasks_status", "status"),
    )


class WebhookDelivery(Base):
    """One session webhook: stored with the status change that causes it, then sent (and
    retried) by :class:`characters.webhooks.sessions.SessionWebhooks`."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    """Also the ``webhook-id`` header, the same on every attempt (receivers deduplicate)."""
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    session_id: Mapped[str | None] = mapped_column(UUID, index=True)
    event: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The body, built at the first attempt (the final event then has its recording)."""
    status: Mapped[str] = mapped_column(String(16))
    """``pending``, ``delivered`` or ``failed`` (every attempt failed)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(TS)
    """When a pending delivery is due (an attempt under way pushes it past its time limit, so
    a process that dies mid-attempt leaves it to be retried)."""
    last_attempt_at: Mapped[datetime | None] = mapped_column(TS)
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    delivered_at: Mapped[datetime | None] = mapped_column(TS)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_org_created", "organization_id", "created_at", "id"),
    )
