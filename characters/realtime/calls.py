"""The live calls of one server process: set-up, the WHIP offer and hang-up, and their end.

:class:`Calls` is built once in the server's lifespan. It

* loads the conversation models once, in the background at start (``preload_models``), and
  shares them with every call (:class:`~characters.conversation.engine.Engines`);
* prepares a call as soon as its credentials are consumed (the avatar's face renderer, the
  character, the voice warmed up), so that answering the offer is quick;
* answers a WHIP offer (:meth:`offer`): checks the offer and the token (neither is used up by a
  bad request), answers with a :class:`~characters.realtime.webrtc.WebRTCPeer`, uses the token,
  and starts the session's :class:`~characters.realtime.runner.CallRunner`;
* ends a call on ``DELETE`` of its WHIP resource (:meth:`hangup`), when the session manager
  ends its session (API cancel, timers: :meth:`_session_ended`), and at shutdown;
* in LiveKit mode, starts the character joining the session's room at ``consume``
  (:meth:`join_room`); for a session with an ``integration`` (bring your own agent), starts the
  avatar in the caller's room as soon as the session is READY (:meth:`_session_ready`,
  :mod:`~characters.realtime.agent_voice`);
* stores what a call leaves (transcript entries as they happen, the recording at the end);
* at start, fails the calls this process was running when it last stopped (``recover``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import hashlib
import logging
import secrets
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from characters.avatars.face_inputs import FaceSources, face_renderer, face_sources
from characters.config import Settings
from characters.conversation.character import character_of
from characters.conversation.engine import Conversation, Engines
from characters.conversation.prompt import Character, tools_from_runway
from characters.conversation.tools import Actions
from characters.errors import CharactersError, Conflict, NotFound, Unauthorized, Unavailable
from characters.face.generator import FaceVideoGenerator
from characters.face.motion import HeadLimits
from characters.knowledge.store import load_knowledge
from characters.realtime.livekit import (
    LiveKitRoom,
    LiveKitUnavailable,
    create_room,
    delete_room,
    dispatch_room,
    user_token,
)
from characters.realtime.recorder import salvage
from characters.realtime.runner import (
    CallHooks,
    CallRunner,
    CallSettings,
    Outcome,
    TranscriptItem,
    Transport,
)
from characters.realtime.webrtc import WebRTCPeer, read_offer
from characters.sessions.manager import DISPATCHED, SessionManager
from characters.sessions.states import ACTIVE, FailureCode, Status
from characters.store.blobs import BlobStore, file_digest
from characters.store.db import Database
from characters.store.keys import hash_secret
from characters.store.tables import Avatar, Organization, RealtimeSession, TranscriptEntry
from characters.webhooks.rpc import BackendRpc
from characters.webhooks.sessions import SessionWebhooks

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 10.0
REDISPATCH_S = 3.0
"""LiveKit workers: how often a room no worker took yet is dispatched again."""
PREPARED_TTL_S = 300.0


@dataclass(frozen=True, slots=True)
class Answer:
    """What the WHIP endpoint sends back."""

    sdp: str
    resource: str
    ice_servers: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Backend:
    """Where the call's ``backend_rpc`` tools go: the avatar's URL, else the organisation's."""

    url: str | None
    secret: str | None
    avatar_id: str | None


@dataclass(frozen=True, slots=True)
class _Setup:
    """A call's parts that do not depend on the client."""

    character: Character
    generator: FaceVideoGenerator
    max_duration: int
    backend: _Backend


class _Live:
    """A running call and what ends it."""

    def __init__(self, runner: CallRunner, resource: str, token_hash: str) -> None:
        self.runner = runner
        self.resource = resource
        self.token_hash = token_hash
        self.task: asyncio.Task[None] | None = None


class Calls:
    """The live calls of this process (see the module docstring). Use from the event loop."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        blobs: BlobStore,
        sessions: SessionManager,
        webhooks: SessionWebhooks,
    ) -> None:
        self.settings = settings
        self._db = db
        self._blobs = blobs
        self._sessions = sessions
        self._webhooks = webhooks
        self._engines: asyncio.Future[Engines] | None = None
        self._prepared: dict[str, asyncio.Future[_Setup]] = {}
        self._live: dict[str, _Live] = {}
        self._joining: dict[str, asyncio.Future[None]] = {}
        """LiveKit mode: sessions whose character is on its way into the room."""
        self._dispatched: set[str] = set()
        """LiveKit workers: sessions whose room this process made for a worker."""
        self._closing = False
        self._warm_pool = ThreadPoolExecutor(1, thread_name_prefix="warm")
        self._warming = False
        sessions.ended_listeners.append(self._session_ended)
        sessions.ready_listeners.append(self._session_ready)

    # -- lifecycle of the registry ------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a previous run, then start loading the models (when configured)."""
        failed = await self._sessions.recover(self.settings.node)
        for session_id in failed:
            log.warning("session %s was live when the server stopped: FAILED", session_id)
            path = self._recording_path(session_id)
            if await asyncio.to_thread(salvage, path):
                await self._store_recording(session_id, path)
        if self.settings.preload_models:
            self.engines()

    async def aclose(self) -> None:
        """Server shutdown: every live call ends (FAILED, SERVER_STOPPED) and is stored."""
        self._closing = True
        for live in list(self._live.values()):
            live.runner.end(
                Outcome(
                    Status.FAILED,
                    "server stopped",
                    "The server stopped during the call.",
                    FailureCode.SERVER_STOPPED,
                )
            )
        tasks = [live.task for live in self._live.values() if live.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=20)
        for joining in list(self._joining.values()):
            joining.cancel()
        for prepared in self._prepared.values():
            prepared.cancel()
        if self._engines is not None and not self._engines.done():
            self._engines.cancel()
        self._warm_pool.shutdown(wait=False, cancel_futures=True)

    @property
    def live(self) -> int:
        """Calls running in this process."""
        return len(self._live)

    @property
    def engine_state(self) -> str:
        """``idle`` (not loaded yet), ``loading``, ``ready`` or ``failed``."""
        task = self._engines
        if task is None:
            return "idle"
        if not task.done():
            return "loading"
        return "failed" if task.cancelled() or task.exception() else "ready"

    def engines(self) -> asyncio.Future[Engines]:
        """The conversation models (loading starts at the first call of this)."""
        if self._engines is None or (self._engines.done() and self._engines.exception()):
            self._engines = asyncio.ensure_future(
                asyncio.to_thread(Engines.load, self.settings, listen=True, live=True)
            )
            self._engines.add_done_callback(_log_engines)
        return self._engines

    # -- set-up ---------------------------------------------------------------------------------

    def prepare(self, session_id: str) -> None:
        """Start setting up the call of a just-consumed session (in the background)."""
        if session_id not in self._prepared and not self._closing:
            task: asyncio.Future[_Setup] = asyncio.ensure_future(self._setup(session_id))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved later
            self._prepared[session_id] = task
            # Forgotten if the client never makes its offer (the session expires long before).
            asyncio.get_running_loop().call_later(
                PREPARED_TTL_S, self._drop_prepared, session_id, weakref.ref(task)
            )

    def _drop_prepared(
        self, session_id: str, task: weakref.ReferenceType[asyncio.Future[_Setup]]
    ) -> None:
        prepared = self._prepared.get(session_id)
        if prepared is not None and prepared is task():
            del self._prepared[session_id]
            prepared.cancel()

    async def _read_session(self, session_id: str) -> tuple[Character, FaceSources, int, _Backend]:
        """The call's character, face sources, cap and backend, from the store (one
        transaction)."""
        async with self._db.transaction() as db:
            session = await db.get(RealtimeSession, session_id)
            if session is None:
                raise NotFound(f"Realtime session {session_id} not found.")
            avatar = await db.get(Avatar, session.avatar_id) if session.avatar_id else None
            if avatar is None or avatar.status != "READY":
                raise _AvatarGone(f"The avatar of session {session_id} is no longer available.")
            sources = await face_sources(db, avatar)
            character = character_of(avatar)
            if session.personality:
                character = replace(character, personality=session.personality)
            if session.start_script:
                character = replace(character, start_script=session.start_script)
            # The session's tools (the avatar's as they were when it was created, merged).
            character = replace(character, tools=tools_from_runway(session.tools or []))
            org = await db.get(Organization, session.organization_id)
            backend = _Backend(
                avatar.backend_rpc_url or (org.backend_rpc_url if org else None),
                org.webhook_secret if org else None,
                avatar.id,
            )
            return character, sources, session.max_duration, backend

    async def _setup(self, session_id: str) -> _Setup:
        engines = self.engines()
        # Shielded: a set-up may be cancelled (its session ended), and a transaction cut off
        # halfway would leave its connection holding the database.
        character, sources, max_duration, backend = await asyncio.shield(
            self._read_session(session_id)
        )
        # The avatar's documents as of now: a document changed during the call is seen by the
        # next one.
        knowledge = await asyncio.shield(
            load_knowledge(self._db, str(backend.avatar_id), self.settings.resolved_models_dir)
        )
        character = replace(character, knowledge=knowledge)
        from characters.voices.tts import check_voice, sample_rate, warm_up

        check_voice(character.voice)
        generator = await self._face(session_id, sources, sample_rate(character.voice))
        await asyncio.to_thread(warm_up, [character.voice])
        try:
            loaded = await engines
        except Exception as e:
            raise Unavailable(
                f"The conversation engine could not be loaded ({type(e).__name__}: {e}); run "
                "`characters models check` on the server.",
                retry_after_s=10,
            ) from e
        # The persona's prompt into the language model's cache (the first answer is faster),
        # while the client connects and the start script plays. On a thread of its own, at most
        # one waiting: a warm-up waits for the model, and must not hold a shared worker meanwhile.
        if not self._warming:
            self._warming = True
            self._warm_pool.submit(self._warm, loaded, character)
        return _Setup(character, generator, max_duration, backend)

    async def _face(self, session_id: str, sources: FaceSources, rate: int) -> FaceVideoGenerator:
        """The call's face, on the clock of its voice's ``rate``. Files are read, and the face
        prepared, after the session's transaction: never hold the database while waiting for a
        worker thread."""
        inputs = await asyncio.to_thread(sources.read, self._blobs)
        renderer = await asyncio.to_thread(face_renderer, inputs)
        seed = int(hashlib.sha256(session_id.encode()).hexdigest()[:8], 16)
        limits = HeadLimits.from_degrees(self.settings.face_head_turn_deg)
        return FaceVideoGenerator(
            renderer, sample_rate=rate, fps=25.0, seed=seed, head_limits=limits
        )

    def _warm(self, engines: Engines, character: Character) -> None:
        self._warming = False
        try:
            engines.warm(character)
        except Exception as e:
            log.warning("warming the language model failed: %s", e)

    # -- signaling ------------------------------------------------------------------------------

    async def offer(
        self, session_id: str, authorization: str | None, body: bytes, content_type: str | None
    ) -> Answer:
        """Answer a client's WHIP offer and start its call (see the module docstring)."""
        offer = read_offer(body, content_type)
        token = _bearer(authorization)
        await self._sessions.check_token(session_id, token)
        assert token is not None
        if self._closing:
            raise Unavailable("The server is shutting down.", retry_after_s=5)
        self.prepare(session_id)
        prepared = self._prepared.pop(session_id)
        try:
            setup = await prepared
        except _AvatarGone as e:
            await self._sessions.finish(
                session_id,
                Status.FAILED,
                reason="avatar unavailable",
                failure=e.message,
                failure_code=FailureCode.AVATAR_UNAVAILABLE,
            )
            raise Conflict(e.message) from None
        peer = WebRTCPeer(self.settings.ice_servers, on_message=self._messages(session_id))
        try:
            sdp = await asyncio.wait_for(peer.answer(offer), ANSWER_TIMEOUT_S)
            await self._sessions.claim(session_id, token, self.settings.node)
        except BaseException as e:
            await peer.close("offer failed")
            if isinstance(e, CharactersError | asyncio.CancelledError):
                raise
            raise _negotiation_failed(e) from e
        live = self._launch(session_id, setup, peer, secrets.token_urlsafe(12), hash_secret(token))
        return Answer(sdp, live.resource, self.settings.ice_servers)

    # -- LiveKit mode ---------------------------------------------------------------------------

    async def join_room(self, session_id: str, media_token: str) -> str:
        """At consume in LiveKit mode: use the session's media token now (the character is
        coming), create the room (with a dispatch to the workers when they run the calls),
        start the character joining it (without workers), and return the client's room token
        (:func:`~characters.realtime.livekit.user_token`). 503 when the room cannot be made
        (the session FAILS)."""
        if self._closing:
            raise Unavailable("The server is shutting down.", retry_after_s=5)
        workers = self.settings.livekit_workers
        holder = f"{DISPATCHED}{self.settings.node}" if workers else self.settings.node
        await self._sessions.claim(session_id, media_token, holder)
        try:  # the room exists before the client has its token (LiveKit makes none itself)
            await create_room(self.settings, session_id)
            if workers:
                await dispatch_room(self.settings, session_id)
        except LiveKitUnavailable as e:
            log.error("session %s: no room: %s", session_id, e)
            await self._fail(
                session_id,
                "LiveKit unavailable",
                f"The session's LiveKit room could not be made ({e}).",
                FailureCode.MEDIA_SERVER_UNAVAILABLE,
            )
            raise Unavailable(f"The call could not be set up: {e}.", retry_after_s=5) from None
        if workers:  # a worker's character joins (LiveKit picks one by load)
            self._dispatched.add(session_id)
            task = asyncio.ensure_future(self._until_taken(session_id))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        else:
            self._start_joining(session_id)
        return user_token(self.settings, session_id)

    async def _until_taken(self, session_id: str) -> None:
        """Dispatch the room again every few seconds until a worker takes its call (LiveKit
        drops a dispatch that finds no worker with room), then watch the session until it
        ends: when another process's timers end it (its worker died), this process made the
        room, so it deletes it (:meth:`_session_ended`) and the user's client is told."""
        while session_id in self._dispatched and not self._closing:
            await asyncio.sleep(REDISPATCH_S)
            held = await self._sessions.holder(session_id)
            if held is None or held[0] == Status.COMPLETED:  # its worker deleted the room
                self._dispatched.discard(session_id)
                return
            if held[0] not in ACTIVE:
                self._session_ended(session_id, held[0], "ended elsewhere")
                return
            if held[0] != Status.READY or not (held[1] or "").startswith(DISPATCHED):
                continue  # a worker runs the call
            log.info("session %s: no worker took its room yet; dispatching again", session_id)
            try:
                await dispatch_room(self.settings, session_id)
            except Exception as e:
                log.warning("session %s: dispatching again failed: %s", session_id, e)

    async def run_dispatched(self, session_id: str) -> None:
        """In a ``characters worker``: run the call of a room LiveKit assigned to this process,
        until it is over (and stored)."""
        await self._sessions.take(session_id, self.settings.node)
        await self._start_joining(session_id)
        live = self._live.get(session_id)
        if live is not None and live.task is not None:
            await asyncio.shield(live.task)

    def _start_joining(self, session_id: str) -> asyncio.Future[None]:
        self.prepare(session_id)
        return self._track_joining(session_id, self._join_room(session_id))

    def _track_joining(self, session_id: str, work: Awaitable[None]) -> asyncio.Future[None]:
        """Run ``work`` (a character on its way into a room) as the session's joining task,
        which the session's end cancels."""
        task = asyncio.ensure_future(work)
        self._joining[session_id] = task
        task.add_done_callback(lambda _: self._joining.pop(session_id, None))
        return task

    async def _join_room(self, session_id: str) -> None:
        prepared = self._prepared.pop(session_id, None)
        if prepared is None:  # the session ended meanwhile
            return
        setup = await self._set_up_or_fail(session_id, prepared)
        if setup is None:
            return
        room = LiveKitRoom(self.settings, session_id, **self._room_face(session_id, setup))
        if not await self._enter(session_id, room, "The character could not join its LiveKit room"):
            return
        # The client may take until the session's READY time runs out to join the room.
        wait = self.settings.session_ready_ttl_s + self.settings.call_connect_timeout_s
        self._launch(session_id, setup, room, "", "", connect_timeout_s=wait)

    # -- bring your own agent ----------------------------------------------------------------

    def _session_ready(self, session_id: str) -> None:
        """A session with an integration was made READY by this process: nobody consumes it,
        so its avatar starts joining the caller's room now (:mod:`.agent_voice`)."""
        if self._closing or session_id in self._joining:
            return
        self._track_joining(session_id, self._join_agent_room(session_id))

    async def _join_agent_room(self, session_id: str) -> None:
        from characters.realtime.agent_voice import AgentLink

        try:
            session = await asyncio.shield(
                self._sessions.claim_integration(session_id, self.settings.node)
            )
        except CharactersError as e:  # ended (or started elsewhere) meanwhile
            log.info("session %s: its avatar does not start: %s", session_id, e.message)
            return
        integration = session.integration or {}
        setup = await self._set_up_or_fail(session_id, self._agent_setup(session_id))
        if setup is None:
            return
        link = AgentLink(str(integration["agentIdentity"]))
        room = LiveKitRoom(
            self.settings,
            str(integration["roomName"]),
            **self._room_face(session_id, setup),
            own_room=False,
            url=str(integration["url"]),
            token=str(integration["token"]),
            peer_identity=link.agent,
            send_events=False,
            on_connected=link.attach,
        )
        if not await self._enter(session_id, room, "The avatar could not join your LiveKit room"):
            return
        self._launch_agent(session_id, setup, room, link)

    async def _agent_setup(self, session_id: str) -> _Setup:
        """The face of a bring-your-own-agent call (no conversation models, no voice)."""
        from characters.realtime.agent_voice import AGENT_RATE

        character, sources, max_duration, backend = await asyncio.shield(
            self._read_session(session_id)
        )
        generator = await self._face(session_id, sources, AGENT_RATE)
        return _Setup(character, generator, max_duration, backend)

    def _launch_agent(self, session_id: str, setup: _Setup, room: LiveKitRoom, link: Any) -> None:
        from characters.realtime.agent_voice import AgentVoiceRunner

        runner = AgentVoiceRunner(
            session_id,
            room,
            link,
            setup.generator,
            _Hooks(self, session_id),
            self._call_settings(session_id, setup, None),
        )
        self._start(session_id, runner, "", "")

    async def _set_up_or_fail(self, session_id: str, setup: Awaitable[_Setup]) -> _Setup | None:
        """A LiveKit call's set-up; None when it failed (the session FAILS with the reason)."""
        try:
            return await setup
        except _AvatarGone as e:
            await self._fail(
                session_id, "avatar unavailable", e.message, FailureCode.AVATAR_UNAVAILABLE
            )
        except CharactersError as e:
            await self._fail(session_id, "set-up failed", e.message, FailureCode.INTERNAL)
        return None

    def _room_face(self, session_id: str, setup: _Setup) -> dict[str, Any]:
        """The :class:`LiveKitRoom` arguments that come from the call's face."""
        r = setup.generator.renderer
        return {
            "character_name": setup.character.name,
            "width": r.width,
            "height": r.height,
            "fps": setup.generator.fps,
            "on_message": self._messages(session_id),
        }

    async def _enter(self, session_id: str, room: LiveKitRoom, failure: str) -> bool:
        """Join ``room``; when LiveKit refuses, the session FAILS (``failure`` and the reason)
        and False is returned. A cancel (the session ended meanwhile) leaves the room."""
        try:
            await room.join()
        except LiveKitUnavailable as e:
            log.error("session %s: %s: %s", session_id, failure, e)
            await self._fail(
                session_id,
                "LiveKit unavailable",
                f"{failure} ({e}).",
                FailureCode.MEDIA_SERVER_UNAVAILABLE,
            )
            return False
        except asyncio.CancelledError:
            await room.close("session ended")
            raise
        return True

    async def _fail(self, session_id: str, reason: str, failure: str, code: FailureCode) -> None:
        await self._sessions.finish(
            session_id, Status.FAILED, reason=reason, failure=failure, failure_code=code
        )

    def _messages(self, session_id: str) -> Callable[[str], None]:
        """What a transport calls with a client's message: the session's runner, once it has one."""

        def deliver(message: str) -> None:
            live = self._live.get(session_id)
            if live is not None:
                live.runner.on_message(message)

        return deliver

    def _launch(
        self,
        session_id: str,
        setup: _Setup,
        transport: Transport,
        resource: str,
        token_hash: str,
        *,
        connect_timeout_s: float | None = None,
    ) -> _Live:
        """Start the session's call on ``transport`` (its media token already used)."""
        engines = self.engines().result()
        backend = BackendRpc(
            self._webhooks.client,
            asyncio.get_running_loop(),
            url=setup.backend.url,
            secret=setup.backend.secret,
            session_id=session_id,
            avatar_id=setup.backend.avatar_id,
        )
        actions: Actions = backend
        if isinstance(transport, LiveKitRoom):  # a backend in the room answers over RPC
            from characters.realtime.room_rpc import RoomBackendRpc

            actions = RoomBackendRpc(
                self.settings, transport.rtc_room, session_id, backend, asyncio.get_running_loop()
            )
        runner = CallRunner(
            session_id,
            transport,
            Conversation(engines, setup.character, actions=actions),
            engines.listener,
            setup.generator,
            _Hooks(self, session_id),
            self._call_settings(session_id, setup, connect_timeout_s),
        )
        return self._start(session_id, runner, resource, token_hash)

    def _start(self, session_id: str, runner: CallRunner, resource: str, token_hash: str) -> _Live:
        """Register ``runner`` as the session's live call and run it."""
        live = _Live(runner, resource, token_hash)
        self._live[session_id] = live
        live.task = asyncio.ensure_future(self._run(session_id, live))
        return live

    def _call_settings(
        self, session_id: str, setup: _Setup, connect_timeout_s: float | None
    ) -> CallSettings:
        s = self.settings
        return CallSettings(
            max_duration_s=setup.max_duration,
            connect_timeout_s=connect_timeout_s or s.call_connect_timeout_s,
            peer_grace_s=s.session_peer_grace_s,
            goodbye_s=s.goodbye_s,
            goodbye_line=s.goodbye_line,
            video_bitrate=s.video_bitrate,
            lead_s=s.media_lead_ms / 1000,
            recording=self._recording_path(session_id) if s.record_calls else None,
        )

    async def hangup(self, session_id: str, resource: str, authorization: str | None) -> None:
        """``DELETE`` on the WHIP resource: the call ends (COMPLETED) and is stored."""
        live = self._live.get(session_id)
        token = _bearer(authorization)
        if live is None or not secrets.compare_digest(live.resource, resource):
            raise NotFound("No live call at this address (it may have ended already).")
        if token is None or not secrets.compare_digest(live.token_hash, hash_secret(token)):
            raise Unauthorized("Send the call's media token: 'Authorization: Bearer <token>'.")
        live.runner.end(Outcome(Status.COMPLETED, "hung up by the client (DELETE)"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(live.runner.finished.wait()), 10)

    async def _run(self, session_id: str, live: _Live) -> None:
        try:
            await live.runner.run()
        except Exception:  # the call is over either way; its session ends by its timers
            log.exception("call %s did not end cleanly", session_id)
        finally:
            if self._live.get(session_id) is live:
                del self._live[session_id]
            await self._webhooks.call_stored(session_id)  # its final event has the recording
            if not self._live:
                # aiortc's objects form reference cycles, which only a full collection frees,
                # with the codec threads and buffers they hold. With no call running, nobody's
                # media stalls during the collection (tens of milliseconds).
                gc.collect()
                _trim_heap()

    def _session_ended(self, session_id: str, status: Status, reason: str) -> None:
        live = self._live.get(session_id)
        if live is not None:
            live.runner.end(Outcome(status, reason, notify=False))
        prepared = self._prepared.pop(session_id, None)
        if prepared is not None:
            prepared.cancel()
        joining = self._joining.pop(session_id, None)
        if joining is not None:
            joining.cancel()
        if session_id in self._dispatched:
            # Its worker deletes the room at the end of the call; this is for a worker that
            # died (its session failed here): the user's client is told the call is over.
            self._dispatched.discard(session_id)
            task = asyncio.ensure_future(delete_room(self.settings, session_id))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # -- storage --------------------------------------------------------------------------------

    def _recording_path(self, session_id: str) -> Path:
        return self.settings.recordings_dir / f"{session_id}.mp4"

    async def _store_transcript(self, session_id: str, item: TranscriptItem) -> None:
        async with self._db.transaction() as db:
            db.add(
                TranscriptEntry(
                    session_id=session_id,
                    role=item.role,
                    content=item.content,
                    timestamp=item.timestamp,
                    tool_calls=item.tool_calls,
                    tool_results=item.tool_results,
                )
            )

    async def _store_recording(self, session_id: str, path: Path | None) -> None:
        """Move a finished recording into the blob store and link it to the conversation."""
        if path is None or not await asyncio.to_thread(_nonempty_file, path):
            return
        try:
            digest = await asyncio.to_thread(file_digest, path)
            gone = False
            async with self._db.transaction() as db:
                session = await db.get(RealtimeSession, session_id, with_for_update=True)
                gone = session is None or session.conversation_deleted_at is not None
                if session is not None and not gone:
                    blob = await self._blobs.put_file(
                        db, path, "video/mp4", session.organization_id, digest
                    )
                    session.recording_blob_id = blob.id
            if gone:  # the conversation was deleted meanwhile: so is its recording
                await asyncio.to_thread(path.unlink, True)
        except Exception:
            log.exception("storing the recording of %s failed (kept at %s)", session_id, path)


def _nonempty_file(path: Path) -> bool:
    """Whether ``path`` is a file with something in it (an empty one is removed)."""
    try:
        if path.stat().st_size > 0:
            return True
        path.unlink()
    except FileNotFoundError:
        pass
    return False


class _Hooks(CallHooks):
    def __init__(self, calls: Calls, session_id: str) -> None:
        self._calls = calls
        self._id = session_id

    async def running(self) -> None:
        await self._calls._sessions.mark_running(self._id)

    async def alive(self) -> str:
        return await self._calls._sessions.heartbeat(self._id) or Status.CANCELLED.value

    async def transcript(self, item: TranscriptItem) -> None:
        await self._calls._store_transcript(self._id, item)

    async def ended(self, outcome: Outcome) -> None:
        if outcome.notify:
            await self._calls._sessions.finish(
                self._id,
                outcome.status,
                reason=outcome.reason,
                failure=outcome.failure,
                failure_code=outcome.failure_code,
                at=outcome.at,
            )

    async def recorded(self, recording: Path) -> None:
        await self._calls._store_recording(self._id, recording)


class _AvatarGone(CharactersError):
    pass


def _negotiation_failed(error: BaseException) -> CharactersError:
    from characters.errors import InvalidInput

    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, TimeoutError):
        detail = f"no answer within {ANSWER_TIMEOUT_S:g} s"
    return InvalidInput(f"The offer could not be answered ({detail}).")


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _trim_heap() -> None:
    """Give the memory that finished calls freed back to the system (glibc keeps it in its
    per-thread arenas otherwise; the process would stay at its busiest size)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _log_engines(task: asyncio.Future[Engines]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("loading the conversation models failed: %s", error)
    else:
        log.info("conversation models loaded")
