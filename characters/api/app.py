"""The application factory: one process serves the API, signed files and live calls."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from characters import __version__
from characters.api import errors
from characters.api.deps import Services, ServicesDep
from characters.api.middleware import AuthMiddleware
from characters.api.routes import (
    avatar_face,
    avatar_videos,
    avatars,
    conversations,
    documents,
    organization,
    realtime_sessions,
    tasks,
    uploads,
    voices,
    webhooks,
    webrtc,
)
from characters.avatars.images import ImageLimits, ProcessedImage
from characters.avatars.processing import Analyse, AvatarProcessor
from characters.config import Settings
from characters.errors import NotFound
from characters.realtime.calls import Calls
from characters.sessions.manager import SessionManager
from characters.store.blobs import BlobStore
from characters.store.db import Database
from characters.store.janitor import Janitor
from characters.store.tables import Blob
from characters.tasks.runner import TaskRunner
from characters.voices.models import configure as configure_voice_models
from characters.web import mount as mount_web
from characters.webhooks.client import WebhookClient
from characters.webhooks.sessions import SessionWebhooks

logger = logging.getLogger("characters.api")

DESCRIPTION = """Self-hosted realtime conversational avatars, wire-compatible with Runway's
Characters API (version 2024-11-06). Authenticate with `Authorization: Bearer <key>` and send
`X-Runway-Version: 2024-11-06` on every `/v1` call except `consume`."""


def create_app(settings: Settings, *, analyse: Analyse | None = None) -> FastAPI:
    """Build the app; the lifespan opens the database, applies migrations and starts timers.

    ``analyse`` is the avatar face-analysis hook; by default the face engine's
    (:func:`characters.face.analysis.analyse_for_avatar`), whose models load in the background
    at start. Pass ``characters.avatars.processing.no_analysis`` to skip analysis.
    """
    warm_up = None
    if analyse is None:
        from characters.face.analysis import analyse_for_avatar
        from characters.face.analysis import warm_up as warm_up_face

        orientation = settings.face_orientation

        def analyse_framed(image: ProcessedImage, keypoints: dict[str, Any] | None) -> Any:
            return analyse_for_avatar(image, keypoints, orientation)

        analyse, warm_up = analyse_framed, warm_up_face
    analyse_hook: Analyse = analyse

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_dirs()
        configure_voice_models(settings.resolved_models_dir)
        db = Database(settings.resolved_database_url)
        await db.migrate()
        blobs = BlobStore(settings.blob_dir, settings.signing_key())
        limits = ImageLimits(
            settings.max_image_bytes,
            settings.max_image_pixels,
            settings.min_image_side,
            settings.max_processed_side,
        )
        processor = AvatarProcessor(db, blobs, limits, analyse_hook, warm_up)
        sessions = SessionManager(db, settings)
        janitor = Janitor(db, blobs)
        runner = TaskRunner(db, blobs, settings)
        client = WebhookClient(allow_http_loopback=settings.webhook_allow_http_loopback)
        session_webhooks = SessionWebhooks(db, settings, client, blobs)
        sessions.webhooks_listeners.append(session_webhooks.wake)
        calls = Calls(settings, db, blobs, sessions, session_webhooks)
        app.state.services = Services(settings, db, blobs, processor, sessions, runner, calls)
        processor.start()
        await processor.resume()
        await calls.start()  # fails the calls a previous run left behind; loads the models
        sessions.start()  # (after: its timers would call those calls merely "vanished")
        janitor.start()
        await runner.start()  # resumes the tasks left PENDING
        session_webhooks.start()  # sends what is due, also what a previous run left pending
        try:
            yield
        finally:
            await calls.aclose()  # live calls end (FAILED, SERVER_STOPPED) and are stored
            await session_webhooks.aclose()  # (after: their final events were stored)
            await client.aclose()
            await runner.aclose()  # a running task goes back to PENDING
            await janitor.aclose()
            await sessions.aclose()
            await processor.aclose()
            await db.aclose()

    app = FastAPI(
        title="Characters API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    errors.install(app)
    app.add_middleware(AuthMiddleware)
    for module in (
        avatars,
        avatar_face,
        uploads,
        documents,
        voices,
        realtime_sessions,
        conversations,
        organization,
        webhooks,
        avatar_videos,
        tasks,
        webrtc,
    ):
        app.include_router(module.router)
    mount_web(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(services: ServicesDep) -> JSONResponse:
        await services.db.ping()
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "liveCalls": services.calls.live,
                "conversationModels": services.calls.engine_state,
                "tasks": len(asyncio.all_tasks()),
            }
        )

    @app.get(
        "/files/{blob_id}",
        summary="Download a stored file by signed URL",
        tags=["files"],
        responses={200: {"content": {"image/jpeg": {}, "video/mp4": {}}}},
    )
    async def get_file(
        blob_id: uuid.UUID, expires: int, sig: str, services: ServicesDep
    ) -> Response:
        if not services.blobs.verify(str(blob_id), expires, sig):
            raise NotFound(
                "File not found or link expired; fetch the resource again for a new link."
            )
        async with services.db.transaction() as db:
            blob = await db.get(Blob, str(blob_id))
        if blob is None:
            raise NotFound("File not found.")
        return Response(
            services.blobs.read(blob),
            media_type=blob.content_type,
            headers={"cache-control": "private, max-age=3600"},
        )

    return app
