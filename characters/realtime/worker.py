"""``characters worker``: the character's side of LiveKit calls, on as many machines as needed.

With ``CHARACTERS_LIVEKIT_WORKERS=true`` the API servers only create each session's room, with a
dispatch to the agent named ``characters`` (:func:`~characters.realtime.livekit.dispatch_room`).
Every worker registers under that name with the LiveKit server (``livekit-agents``), and LiveKit
assigns each room to one of them by load. The worker then runs the call exactly as a server in
LiveKit mode does (:meth:`~characters.realtime.calls.Calls.run_dispatched`): the character joins
the room, the session's state, transcript and credits go to the shared database, the recording
to the shared data dir.

* Load: a worker's load is its live calls over ``CHARACTERS_WORKER_CALLS``; it refuses rooms
  when full, so LiveKit offers them to another worker.
* Models are loaded once per worker and shared by its calls (livekit-agents runs each job on a
  thread of this process; the call itself runs on the worker's own event loop).
* Draining: on SIGTERM or SIGINT the worker stops taking rooms, lets its calls finish (up to
  the longest session allowed), then exits. A second signal exits at once (its calls FAIL).
* A worker that dies: its calls' heartbeats stop, and the database timers (any API server)
  end them FAILED with a reason; the API server that made the room deletes it, so the user's
  client is told. A restarted worker fails the calls it left (its ``CHARACTERS_NODE_NAME``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from typing import Any

from characters.config import Settings
from characters.errors import CharactersError
from characters.realtime.calls import Calls
from characters.realtime.livekit import WORKER_AGENT, LiveKitUnavailable

log = logging.getLogger(__name__)

REGISTER_TIMEOUT_S = 45.0
"""A worker LiveKit has not registered by then exits with an error (code 1)."""
LOAD_FULL = 0.99
"""LiveKit sends no more rooms to a worker whose load reaches this (its calls are all busy)."""


class CallWorker:
    """One ``characters worker`` process (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.livekit:
            raise ValueError(
                "characters worker needs CHARACTERS_LIVEKIT_URL, CHARACTERS_LIVEKIT_API_KEY and "
                "CHARACTERS_LIVEKIT_API_SECRET (the LiveKit server that dispatches the calls)"
            )
        self.settings = settings
        self.calls: Calls | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._active = 0
        """Rooms accepted whose call is not over (from the offer on: they are the load)."""

    def load(self) -> float:
        return min(1.0, self._active / self.settings.worker_calls)

    async def run(self) -> None:
        """Serve calls until a signal, then drain (see the module docstring)."""
        from livekit.agents import AgentServer, JobExecutorType

        from characters.sessions.manager import SessionManager
        from characters.store.blobs import BlobStore
        from characters.store.db import Database
        from characters.voices.models import configure as configure_voice_models
        from characters.webhooks.client import WebhookClient
        from characters.webhooks.sessions import SessionWebhooks

        s = self.settings
        self._loop = asyncio.get_running_loop()
        s.ensure_dirs()
        configure_voice_models(s.resolved_models_dir)
        db = Database(s.resolved_database_url)
        await db.migrate()
        blobs = BlobStore(s.blob_dir, s.signing_key())
        sessions = SessionManager(db, s)
        client = WebhookClient(allow_http_loopback=s.webhook_allow_http_loopback)
        webhooks = SessionWebhooks(db, s, client, blobs)
        sessions.webhooks_listeners.append(webhooks.wake)
        self.calls = calls = Calls(s, db, blobs, sessions, webhooks)
        await calls.start()  # fails the calls this worker left when it last stopped
        webhooks.start()
        server = AgentServer(
            job_executor_type=JobExecutorType.THREAD,
            load_fnc=self.load,
            load_threshold=LOAD_FULL,
            num_idle_processes=0,
            drain_timeout=s.session_max_duration_cap_s + 60,
            ws_url=s.livekit_url,
            api_key=s.livekit_api_key,
            api_secret=s.livekit_api_secret,
            port=0,
            log_level=s.log_level.upper(),
        )
        server.rtc_session(self._job, agent_name=WORKER_AGENT, on_request=self._request)
        stop = asyncio.Event()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                log.info("draining: no new calls; waiting for %d to end", calls.live)
                stop.set()
            else:
                raise SystemExit(1)

        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, on_signal)
        running = asyncio.ensure_future(server.run())
        log.info(
            "worker %s: taking calls from %s as %r (%d at once)",
            s.node,
            s.livekit_url,
            WORKER_AGENT,
            s.worker_calls,
        )
        stopped = asyncio.ensure_future(stop.wait())
        watch = asyncio.ensure_future(self._registration(server))
        try:
            await asyncio.wait([running, stopped, watch], return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                running.result()  # the worker's connection failed for good: say why
            elif watch.done():
                watch.result()  # never registered: say so (a supervisor starts it again)
            else:
                await server.drain()
        finally:
            stopped.cancel()
            watch.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.aclose(), 30)
            running.cancel()
            await calls.aclose()
            await webhooks.aclose()
            await client.aclose()
            await sessions.aclose()
            await db.aclose()

    async def _registration(self, server: Any) -> None:
        """Raise if LiveKit has not registered the worker within :data:`REGISTER_TIMEOUT_S`
        (a LiveKit server that accepts the connection but never answers); wait forever once it
        has."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REGISTER_TIMEOUT_S
        warn_at = loop.time() + REGISTER_TIMEOUT_S / 3
        while server.id == "unregistered":
            if warn_at and loop.time() > warn_at:
                warn_at = 0.0
                log.warning(
                    "worker %s: not registered by %s after %g s; still trying",
                    self.settings.node,
                    self.settings.livekit_url,
                    REGISTER_TIMEOUT_S / 3,
                )
            if loop.time() > deadline:
                raise LiveKitUnavailable(
                    f"the LiveKit server at {self.settings.livekit_url} did not register this "
                    f"worker within {REGISTER_TIMEOUT_S:g} s"
                )
            await asyncio.sleep(0.5)
        await asyncio.Event().wait()

    # -- livekit-agents' side (the job's own thread and loop) -----------------------------------

    async def _request(self, request: Any) -> None:
        """A room is offered: take it while there is room for another call."""
        if self.load() >= LOAD_FULL:
            await request.reject()
            return
        self._active += 1
        try:
            await request.accept(identity=f"{WORKER_AGENT}-worker-{socket.gethostname()}")
        except Exception:
            self._active -= 1
            raise

    async def _job(self, ctx: Any) -> None:
        """Run the room's call on the worker's loop; the job ends with it."""
        assert self._loop is not None and self.calls is not None
        session_id = ctx.job.metadata or ctx.job.room.name
        future = asyncio.run_coroutine_threadsafe(self._run_call(session_id), self._loop)
        try:
            await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise
        finally:
            self._active = max(0, self._active - 1)
            ctx.shutdown("the call is over")

    async def _run_call(self, session_id: str) -> None:
        assert self.calls is not None
        try:
            await self.calls.run_dispatched(session_id)
        except CharactersError as e:  # ended meanwhile, or another worker took it
            log.info("session %s: its call is not run here: %s", session_id, e.message)
        except Exception:
            log.exception("session %s: its call failed here", session_id)
