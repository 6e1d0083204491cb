"""One live call: the user's audio in, the character's voice, face and events out, until it ends.

A :class:`CallRunner` joins three things for one session: a :class:`Transport` (the embedded
WebRTC peer, or later a LiveKit room), the conversation engine
(:class:`~characters.conversation.voice.VoiceConversation`) and the face
(:class:`~characters.realtime.stage.AvatarStage`). Data flows one way::

    transport mic ─► VoiceConversation (listen, answer) ─► AvatarStage (voice + face) ─► transport

and what the user heard flows back (:class:`~characters.conversation.voice.Playback`), so a
barge-in keeps only the words that were played, in memory and in the transcript.

The runner owns the call's lifecycle (``docs/realtime.md``): it waits for the media to connect
(then the session is RUNNING), speaks the start script, and ends the call on hang-up, END_CALL,
a vanished peer, the duration cap (with a goodbye shortly before), an engine error (FAILED, the
client told first), or when told to stop (API cancel, a timer, server shutdown). Everything the
outside world must know goes through :class:`CallHooks`; the runner knows no database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from characters.conversation.engine import (
    AgentDone,
    AgentSpeech,
    AgentToolCall,
    AgentToolResult,
    Conversation,
)
from characters.conversation.voice import (
    EngineFailure,
    Interrupted,
    UserPartial,
    UserSpeaking,
    UserTurn,
    VoiceConversation,
)
from characters.errors import CharactersError
from characters.face.generator import FaceVideoGenerator
from characters.pcm import Int16, StreamResampler
from characters.realtime import events
from characters.realtime.events import EndCall, Event, UserMessage
from characters.realtime.recorder import Recorder
from characters.realtime.stage import AvatarStage
from characters.realtime.tracks import AUDIO_RATE, AudioBuffer, MediaClock, VideoOut
from characters.sessions.states import FailureCode, Status
from characters.timeutil import utcnow

log = logging.getLogger(__name__)

MIN_GOODBYE_S = 2.0
"""The goodbye is not started with less time than this left before the cap."""


class Transport(Protocol):
    """Where a call's media and messages go: the embedded :class:`~characters.realtime.webrtc.
    WebRTCPeer`, or a LiveKit room (:class:`~characters.realtime.livekit.LiveKitRoom`)."""

    clock: MediaClock
    audio_out: AudioBuffer
    video_out: VideoOut | None
    connected: asyncio.Event
    """The user's media reached us (the session becomes RUNNING)."""
    gone: asyncio.Event
    gone_reason: str
    audio_liveness: bool
    """Whether the user's side is only known to be there by its microphone audio (WebRTC: a
    peer that sends nothing for ``peer_grace_s`` has vanished). False where the media server
    says when a participant leaves (LiveKit), so a muted microphone is no sign of absence."""

    def video_format(self, width: int, height: int, fps: float, bitrate: int) -> None:
        """The character's frames, before the first one (WebRTC: the negotiated codec's
        encoder is made for them)."""

    def send(self, event: Event) -> None: ...

    def microphone(self) -> AsyncIterator[tuple[Int16 | None, int]]: ...

    async def flush_events(self, timeout_s: float = 1.0) -> None: ...

    async def close(self, reason: str = "closed") -> None: ...


@dataclass(frozen=True, slots=True)
class TranscriptItem:
    """One transcript entry, in the shape ``GET /v1/avatar_conversations/{id}`` serves."""

    role: str
    content: str | None
    timestamp: datetime
    tool_calls: list[dict[str, Any]] | None = None
    tool_results: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended."""

    status: Status
    reason: str
    failure: str | None = None
    failure_code: FailureCode | None = None
    at: datetime = field(default_factory=utcnow)
    notify: bool = True
    """Whether the session manager must still be told (False when it told us)."""


class CallHooks(Protocol):
    """What a runner needs from the rest of the server."""

    async def running(self) -> None:
        """The media connected: the session becomes RUNNING (raises if it cannot)."""

    async def alive(self) -> str:
        """The peer is alive (heartbeat); the session's status as stored."""

    async def transcript(self, item: TranscriptItem) -> None: ...

    async def ended(self, outcome: Outcome) -> None:
        """The call is over (the transport is closed, the transcript stored)."""

    async def recorded(self, recording: Path) -> None:
        """The call's recording is finished (after :meth:`ended`)."""


@dataclass(frozen=True, slots=True)
class CallSettings:
    """The settings of one call (from :class:`~characters.config.Settings` and the session)."""

    max_duration_s: float
    connect_timeout_s: float = 15.0
    peer_grace_s: float = 10.0
    heartbeat_s: float = 2.0
    goodbye_s: float = 10.0
    goodbye_line: str = ""
    video_bitrate: int = 1_000_000
    lead_s: float = 0.08
    recording: Path | None = None


class CallRunner:
    """One session's call (see the module docstring)."""

    def __init__(
        self,
        session_id: str,
        transport: Transport,
        conversation: Conversation,
        listener_factory: Callable[[], Any],
        generator: FaceVideoGenerator,
        hooks: CallHooks,
        settings: CallSettings,
    ) -> None:
        self.session_id = session_id
        self.transport = transport
        self.generator = generator
        self.hooks = hooks
        self.settings = settings
        self._conversation = conversation
        self._listener_factory = listener_factory
        self._outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._tasks: list[asyncio.Future[Any]] = []
        self._stores: list[asyncio.Future[None]] = []
        self._turn = 0
        self._answer_turn = 0
        """The turn whose answer is being produced (0: the start script)."""
        self._played_at: dict[int, datetime] = {}
        self._answered: set[int] = set()
        """Turns with an answer (or part of one) the user heard."""
        self._tool_calls: dict[int, list[dict[str, Any]]] = {}
        self._tool_results: dict[int, list[dict[str, Any]]] = {}
        self._user_started: datetime | None = None
        self._state: str = ""
        self._last_audio = time.monotonic()
        self._last_audio_at = utcnow()
        self._started = 0.0
        self._goodbye_said = False
        self._early: list[str] = []
        self._ending_sent = False
        self.stage: AvatarStage | None = None
        self.voice: VoiceConversation | None = None
        self.recorder: Recorder | None = None
        self.finished = asyncio.Event()

    # -- from outside ---------------------------------------------------------------------------

    def end(self, outcome: Outcome) -> None:
        """End the call (the first outcome wins)."""
        if not self._outcome.done():
            self._outcome.set_result(outcome)

    def on_message(self, raw: str) -> None:
        """A message from the client's ``events`` channel."""
        message = events.parse(raw)
        if isinstance(message, EndCall):
            self.end(Outcome(Status.COMPLETED, "ended by the client (END_CALL)"))
        elif isinstance(message, UserMessage):
            if self.voice is None:  # the call is still starting: answered once it has
                self._early.append(message.text)
            else:
                self._task(self._typed(message.text))

    # -- the call -------------------------------------------------------------------------------

    async def run(self) -> None:
        """The whole call; returns once it is over and everything is stored."""
        outcome: Outcome | None = None
        try:
            outcome = await self._connect()
            if outcome is None:
                await self._start()
                outcome = await self._outcome
        except CharactersError as e:  # the session ended before its media connected
            outcome = Outcome(Status.FAILED, f"not started: {e.message}", notify=False)
        except Exception as e:
            log.exception("call %s failed", self.session_id)
            outcome = Outcome(
                Status.FAILED,
                "internal error",
                f"The call failed: {type(e).__name__}.",
                FailureCode.INTERNAL,
            )
        finally:
            if outcome is None:  # cancelled (server shutdown)
                outcome = Outcome(
                    Status.FAILED,
                    "server stopped",
                    "The server stopped during the call.",
                    FailureCode.SERVER_STOPPED,
                )
            await asyncio.shield(self._finish(outcome))

    async def _connect(self) -> Outcome | None:
        t = self.transport
        waits: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(t.connected.wait()),
            asyncio.ensure_future(t.gone.wait()),
        ]
        try:
            await asyncio.wait(
                [*waits, self._outcome],
                timeout=self.settings.connect_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for w in waits:
                w.cancel()
        if self._outcome.done():
            return self._outcome.result()
        if t.connected.is_set():
            return None
        why = t.gone_reason or f"no connection within {self.settings.connect_timeout_s:g} s"
        return Outcome(
            Status.FAILED,
            "media never connected",
            f"The client's media did not connect ({why}).",
            FailureCode.CONNECTION_FAILED,
        )

    async def _begin(self) -> None:
        """The media connected: the session is RUNNING, the recording opened, the video's
        format set (what every kind of call does first)."""
        await self.hooks.running()
        self._started = time.monotonic()
        self._last_audio = time.monotonic()
        s, t, r = self.settings, self.transport, self.generator.renderer
        if s.recording is not None:
            try:
                self.recorder = Recorder(s.recording, r.width, r.height)
            except Exception:
                log.exception("cannot record call %s", self.session_id)
        t.video_format(r.width, r.height, self.generator.fps, s.video_bitrate)

    def _new_stage(self, **callbacks: Any) -> AvatarStage:
        """The call's stage on this transport (after :meth:`_begin`), with ``callbacks`` (the
        :class:`AvatarStage` ``on_*`` arguments) for what this kind of call reacts to."""
        t = self.transport
        return AvatarStage(
            self.generator,
            t.clock,
            t.audio_out,
            video_out=t.video_out,
            recorder=self.recorder,
            lead_s=self.settings.lead_s,
            **callbacks,
        )

    async def _start(self) -> None:
        await self._begin()
        t = self.transport
        self.stage = self._new_stage(
            on_words=self._on_words,
            on_playing=self._on_playing,
            on_answer_played=self._on_answer_played,
        )
        self.voice = VoiceConversation(self._conversation, self._listener_factory(), self.stage)
        t.send(events.session(Status.RUNNING, sessionId=self.session_id))
        self._set_state("listening")
        t.clock.start()
        self._task(self.stage.run())
        self._task(self._listen())
        self._task(self._follow())
        self._task(self._watch())
        self._task(self._peer_gone())
        await self.voice.opening()
        for text in self._early:
            self._task(self._typed(text))
        self._early.clear()

    async def _finish(self, outcome: Outcome) -> None:
        t = self.transport
        final = {"status": outcome.status.value, "reason": outcome.reason}
        if outcome.failure_code is not None:
            final["failureCode"] = outcome.failure_code.value
        if (
            outcome.status == Status.FAILED
            and outcome.failure_code != FailureCode.CONNECTION_FAILED
        ):
            t.send(
                events.error(outcome.failure_code or "INTERNAL", outcome.failure or "", fatal=True)
            )
        t.send(
            events.session(
                outcome.status.value, **{k: v for k, v in final.items() if k != "status"}
            )
        )
        with contextlib.suppress(Exception):
            await t.flush_events()
        await t.close(outcome.reason)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.voice is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.voice.aclose(), 10)
        if self.stage is not None:
            self._store_interrupted_answer()
            await asyncio.to_thread(self.stage.close)
        if self._stores:
            await asyncio.wait(list(self._stores), timeout=10)
        self._log_stats(outcome)
        try:
            # The session's end is stored before the recording is finished (encoder drained,
            # file rewritten): the client was just told, and may ask the API at once.
            await self.hooks.ended(outcome)
            if self.recorder is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.recorder.close)
                await self.hooks.recorded(self.recorder.path)
        finally:
            self.finished.set()
            self._release()

    def _release(self) -> None:
        """Let go of the call's heavy parts (face, models' state, media) at once: aiortc's
        objects hold references in cycles, which would keep them until a garbage collection."""
        self.stage = self.voice = self.recorder = None
        self.generator = None  # type: ignore[assignment]
        self._conversation = None  # type: ignore[assignment]
        self._listener_factory = None  # type: ignore[assignment]

    def _log_stats(self, outcome: Outcome) -> None:
        stage, t = self.stage, self.transport
        if stage is None:
            log.info("call %s ended before its media started: %s", self.session_id, outcome.reason)
            return
        st = stage.stats
        render = sorted(st.render_s) or [0.0]
        log.info(
            "call %s ended (%s, %s): %d frames, %d drawn, %d dropped, render p50 %.1f ms, "
            "audio underrun %.0f ms, late %.0f ms",
            self.session_id,
            outcome.status.value,
            outcome.reason,
            st.frames,
            st.rendered,
            st.dropped,
            1000 * render[len(render) // 2],
            1000 * t.audio_out.underrun_samples / AUDIO_RATE,
            1000 * t.audio_out.late_samples / AUDIO_RATE,
        )

    # -- inputs ---------------------------------------------------------------------------------

    async def _listen(self) -> None:
        """The user's audio into the recording and the conversation. Audio that arrives while
        the listener is busy is pushed in one piece next time: one hop to its thread per batch,
        not per 20 ms frame, so a loaded machine never leaves the listener behind real time."""
        assert self.voice is not None
        voice = self.voice
        queue: asyncio.Queue[tuple[Int16, int] | None] = asyncio.Queue()

        async def receive() -> None:
            to48 = StreamResampler(AUDIO_RATE, np.int16)
            try:
                async for pcm, rate in self.transport.microphone():
                    if pcm is None:
                        continue
                    self._last_audio = time.monotonic()
                    self._last_audio_at = utcnow()
                    if self.recorder is not None:
                        now = self.transport.clock.now()
                        self.recorder.microphone(to48(pcm, rate), now)  # type: ignore[arg-type]
                    queue.put_nowait((pcm, rate))
            finally:
                queue.put_nowait(None)

        receiver = asyncio.ensure_future(receive())
        held: tuple[Int16, int] | None = None
        ended = False
        try:
            while not ended:
                item = held if held is not None else await queue.get()
                held = None
                if item is None:
                    return
                batch, rate = [item[0]], item[1]
                while not queue.empty():
                    more = queue.get_nowait()
                    if more is None:
                        ended = True
                        break
                    if more[1] != rate:
                        held = more
                        break
                    batch.append(more[0])
                await voice.push(np.concatenate(batch) if len(batch) > 1 else batch[0], rate)
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)

    async def _typed(self, text: str) -> None:
        assert self.voice is not None
        await self.voice.say(text)

    async def _follow(self) -> None:
        """The conversation's events, in order."""
        assert self.voice is not None and self.stage is not None
        stage, t = self.stage, self.transport
        async for event in self.voice.events():
            if isinstance(event, UserSpeaking):
                self._user_started = utcnow()
                stage.set_listening(True)
            elif isinstance(event, UserPartial):
                t.send(events.user_transcript(self._turn + 1, event.text, final=False))
            elif isinstance(event, UserTurn):
                stage.set_listening(False)
                self._user_turn(event, self._user_started or utcnow())
            elif isinstance(event, Interrupted):
                self._interrupted(event.heard)
            elif isinstance(event, AgentSpeech):
                chunk = event.chunk
                stage.speak(
                    self._answer_turn, event.text, chunk.pcm, chunk.sample_rate, chunk.phonemes
                )
            elif isinstance(event, AgentToolCall):
                self._tool_call(event)
            elif isinstance(event, AgentToolResult):
                self._tool_result(event)
            elif isinstance(event, AgentDone):
                stage.end_answer(self._answer_turn)
                timings = {
                    k: round(v, 3)
                    for k, v in event.timings.as_dict().items()
                    if isinstance(v, float)
                }
                log.debug("call %s: answer %d %s", self.session_id, self._answer_turn, timings)
            elif isinstance(event, EngineFailure) and not event.fatal:
                log.warning("call %s: %s failed: %s", self.session_id, event.stage, event.message)
                message = f"The conversation engine failed ({event.stage}): {event.message}"
                t.send(events.error(FailureCode.ENGINE_ERROR, message, fatal=False))
            elif isinstance(event, EngineFailure):
                self.end(
                    Outcome(
                        Status.FAILED,
                        f"engine error ({event.stage})",
                        f"The conversation engine failed ({event.stage}): {event.message}",
                        FailureCode.ENGINE_ERROR,
                    )
                )

    # -- what happens on the way ----------------------------------------------------------------

    def _user_turn(self, turn: UserTurn, started: datetime) -> None:
        t = self.transport
        if turn.continues is not None and self._turn not in self._answered:
            # The user went on before hearing an answer: the same turn, with the added words
            # (Runway's clients append a turn's transcription deltas).
            t.send(events.user_transcript(self._turn, turn.text, final=True))
            t.send(events.user_words(self._turn, f" {turn.continues}"))
            self._store(TranscriptItem("user", turn.continues, started))
        else:
            self._turn += 1
            t.send(events.user_transcript(self._turn, turn.text, final=True))
            t.send(events.user_words(self._turn, turn.text))
            self._store(TranscriptItem("user", turn.text, started))
        self._answer_turn = self._turn
        self._set_state("thinking")
        self._user_started = None

    def _interrupted(self, heard: str) -> None:
        turn = self._answer_turn
        self.transport.send(events.interrupted(turn, heard))
        at = self._played_at.pop(turn, None)
        calls, results = self._tools_of(turn)
        if at is not None or calls:
            self._answered.add(turn)
            self._store(TranscriptItem("assistant", heard or None, at or utcnow(), calls, results))
        self._set_state("listening")

    def _store_interrupted_answer(self) -> None:
        """At the end of the call: an answer being played is stored with what was heard."""
        assert self.stage is not None
        for turn, at in list(self._played_at.items()):
            text = self.stage.captions.text(turn)
            calls, results = self._tools_of(turn)
            self._store(TranscriptItem("assistant", text or None, at, calls, results))
            del self._played_at[turn]
        for turn in list(self._tool_calls):  # actions of an answer that said nothing
            calls, results = self._tools_of(turn)
            self._store(TranscriptItem("assistant", None, utcnow(), calls, results))

    def _on_words(self, turn: int, delta: str) -> None:
        self.transport.send(events.assistant_words(turn, delta))

    def _on_playing(self, playing: bool) -> None:
        if playing:
            self._played_at.setdefault(self._answer_turn, utcnow())
            self._set_state("speaking")
        elif self.stage is not None and self.stage.busy:
            self._set_state("thinking")

    def _on_answer_played(self, turn: int) -> None:
        assert self.stage is not None
        text = self.stage.captions.text(turn)
        at = self._played_at.pop(turn, utcnow())
        calls, results = self._tools_of(turn)
        if text or calls:
            self._answered.add(turn)
            self._store(TranscriptItem("assistant", text or None, at, calls, results))
        if not self.stage.busy:
            self._set_state("listening")

    def _tool_call(self, call: AgentToolCall) -> None:
        """A tool call of the answer: recorded for the transcript; a valid one is shown on
        ``events`` and, for a ``client_event`` tool, sent (Runway's ``client_event``). An
        invalid one (its error went back to the model) never reaches the client."""
        self._tool_calls.setdefault(self._answer_turn, []).append(
            {"id": call.id, "name": call.name, "arguments": call.arguments}
        )
        if not call.valid:
            return
        t = self.transport
        t.send(events.tool_call(self._answer_turn, call.id, call.name, call.kind, call.arguments))
        if call.kind == "client_event":
            t.send(events.client_event(call.name, dict(call.arguments)))

    def _tool_result(self, event: AgentToolResult) -> None:
        wire = event.result.wire()
        self._tool_results.setdefault(self._answer_turn, []).append(wire)
        if event.shown:
            self.transport.send(events.tool_result(self._answer_turn, wire))

    def _tools_of(
        self, turn: int
    ) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
        """The tool calls and results of an answer, taken for its transcript entry."""
        return self._tool_calls.pop(turn, None), self._tool_results.pop(turn, None)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.transport.send(events.state(state))  # type: ignore[arg-type]

    def _store(self, item: TranscriptItem) -> None:
        """Store a transcript entry now (in the background; the call's end waits for it)."""
        task = asyncio.ensure_future(self.hooks.transcript(item))
        self._stores.append(task)
        task.add_done_callback(self._stored)

    def _stored(self, task: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._stores.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "call %s: storing the transcript failed", self.session_id, exc_info=task.exception()
            )

    # -- watchdogs ------------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Heartbeat, the cap (with a goodbye before it) and a vanished peer."""
        s = self.settings
        last_beat = 0.0
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            elapsed = now - self._started
            if self.transport.audio_liveness and now - self._last_audio > s.peer_grace_s:
                self.end(Outcome(Status.COMPLETED, "media peer vanished", at=self._last_audio_at))
                return
            if elapsed >= s.max_duration_s:
                self.end(Outcome(Status.COMPLETED, "maxDuration reached"))
                return
            if elapsed >= s.max_duration_s - s.goodbye_s:
                await self._closing(s.max_duration_s - elapsed)
            if now - last_beat >= s.heartbeat_s:
                last_beat = now
                # Shielded: the call's end cancels this task, and a database transaction cut
                # off halfway leaves its connection holding the lock (SQLite: every writer waits).
                status = await asyncio.shield(self.hooks.alive())
                if status != Status.RUNNING:
                    self.end(Outcome(Status(status), f"session is {status}", notify=False))
                    return

    async def _closing(self, remaining_s: float) -> None:
        """Shortly before the cap: tell the client, and say goodbye as soon as the character is
        not speaking (unless too little time is left to say it)."""
        if not self._ending_sent:
            self._ending_sent = True
            self.transport.send(
                events.session("ENDING", reason="maxDuration", endsInSeconds=round(remaining_s))
            )
        line = self.settings.goodbye_line
        if self._goodbye_said or not line or self.voice is None or self.voice.speaking:
            return
        if remaining_s < MIN_GOODBYE_S:
            return
        self._goodbye_said = True
        self._turn += 1
        self._answer_turn = self._turn
        await self.voice.announce(line)

    async def _peer_gone(self) -> None:
        await self.transport.gone.wait()
        reason = self.transport.gone_reason or "peer closed"
        await asyncio.sleep(0)  # a hang-up (DELETE) sets its own outcome first
        self.end(Outcome(Status.COMPLETED, f"media peer gone ({reason})"))

    def _task(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.append(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        log.error("call %s: a task failed", self.session_id, exc_info=error)
        self.end(
            Outcome(
                Status.FAILED,
                "internal error",
                f"The call failed: {type(error).__name__}: {error}",
                FailureCode.INTERNAL,
            )
        )
