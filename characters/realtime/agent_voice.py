"""Bring your own agent: the avatar renders a LiveKit agent's speech in the agent's own room.

A session created with ``livekit: {url, token, roomName, agentIdentity}`` (what
``livekit-plugins-runway`` sends) or ``integration: {type: "livekit", ...}`` has no listener and
no language model of ours: the agent (a ``livekit-agents`` ``AgentSession``) owns the
conversation, and its audio output is replaced by a LiveKit data stream to the avatar
(``DataStreamAudioOutput`` in livekit-agents). This module is the avatar's side of that protocol:

* the agent's speech arrives as byte streams on topic ``lk.audio_stream`` from ``agentIdentity``
  (PCM s16, with ``sample_rate`` and ``num_channels`` attributes; 16 kHz from the plugin), one
  stream per segment; it goes into the :class:`~characters.realtime.stage.AvatarStage` as speech
  without phonemes, so the mouth follows the audio's loudness;
* once a segment has played, the avatar calls RPC ``lk.playback_finished`` on the agent with
  ``{"playback_position": <seconds played>, "interrupted": false}``;
* RPC ``lk.clear_buffer`` from the agent stops the avatar at once (the stage's barge-in), and
  every segment not yet reported is reported ``interrupted: true`` with its position;
* ``lk.playback_started`` is not called (the plugin does not wait for it).

:class:`AgentLink` holds the room's handlers (registered as soon as the avatar is connected, so
no stream is missed); :class:`AgentVoiceRunner` is the call: a
:class:`~characters.realtime.runner.CallRunner` whose speech comes from the agent instead of the
conversation engine. Its lifecycle is the runner's (RUNNING once the agent is in the room;
COMPLETED on END_CALL from the agent, when the agent leaves, or when the room closes; the
duration cap; CANCELLED by the API), and nothing is stored in the transcript: the agent's words
never reach this server, only its audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from livekit import rtc

from characters.face.generator import FaceVideoGenerator
from characters.pcm import StreamResampler
from characters.realtime import events
from characters.realtime.events import EndCall
from characters.realtime.runner import CallHooks, CallRunner, CallSettings, Outcome, Transport
from characters.realtime.stage import INTERRUPT_MARGIN_S
from characters.sessions.states import Status

log = logging.getLogger(__name__)

AUDIO_STREAM_TOPIC = "lk.audio_stream"
RPC_CLEAR_BUFFER = "lk.clear_buffer"
RPC_PLAYBACK_FINISHED = "lk.playback_finished"
AGENT_RATE = 16_000
"""The face generator's clock in these calls: the rate livekit-plugins-runway sends (other
rates are resampled to it)."""
RPC_TRIES = 3


class AgentLink:
    """The agent's side of the room: its speech streams and ``lk.clear_buffer`` in,
    ``lk.playback_finished`` out. Use from the event loop."""

    def __init__(self, agent_identity: str) -> None:
        self.agent = agent_identity
        self.streams: asyncio.Queue[rtc.ByteStreamReader] = asyncio.Queue()
        self.on_clear: Callable[[], None] = self._clear_before_start
        """Set by the runner once the avatar is on stage."""
        self.clears: list[float] = []
        """Monotonic times of the agent's ``lk.clear_buffer`` calls."""
        self._room: rtc.Room | None = None

    def attach(self, room: rtc.Room) -> None:
        """Register the handlers (the avatar is connected, its tracks not published yet: the
        agent sends nothing before it sees the avatar's video)."""
        self._room = room
        room.register_byte_stream_handler(AUDIO_STREAM_TOPIC, self._on_stream)
        room.local_participant.register_rpc_method(RPC_CLEAR_BUFFER, self._on_clear)

    async def playback_finished(self, position_s: float, interrupted: bool) -> None:
        """Tell the agent a segment is over (a few tries: the agent may be busy)."""
        assert self._room is not None
        payload = json.dumps(
            {"playback_position": round(position_s, 3), "interrupted": interrupted}
        )
        for attempt in range(RPC_TRIES):
            try:
                await self._room.local_participant.perform_rpc(
                    destination_identity=self.agent, method=RPC_PLAYBACK_FINISHED, payload=payload
                )
                return
            except rtc.RpcError as e:
                if attempt == RPC_TRIES - 1:
                    log.warning("%s to %s failed: %s", RPC_PLAYBACK_FINISHED, self.agent, e.message)
                    return
                await asyncio.sleep(0.1)

    def _on_stream(self, reader: rtc.ByteStreamReader, identity: str) -> None:
        if identity == self.agent:
            self.streams.put_nowait(reader)

    def _on_clear(self, data: rtc.RpcInvocationData) -> str:
        if data.caller_identity != self.agent:
            return "reject"
        self.clears.append(time.monotonic())
        self.on_clear()
        return "ok"

    def _clear_before_start(self) -> None:
        while not self.streams.empty():
            self.streams.get_nowait()


@dataclass
class _Segment:
    """One byte stream of the agent's speech, received but not yet reported."""

    turn: int
    start: int | None = None
    """The stage's ``pushed_samples`` at its first audio."""
    samples: int = 0


class AgentVoiceRunner(CallRunner):
    """One bring-your-own-agent call (see the module docstring)."""

    def __init__(
        self,
        session_id: str,
        transport: Transport,
        link: AgentLink,
        generator: FaceVideoGenerator,
        hooks: CallHooks,
        settings: CallSettings,
    ) -> None:
        super().__init__(session_id, transport, None, None, generator, hooks, settings)  # type: ignore[arg-type]
        self.link = link
        self._segments: deque[_Segment] = deque()
        self._next_turn = 1
        self._reader: asyncio.Task[None] | None = None
        self._reports: asyncio.Queue[tuple[float, bool]] = asyncio.Queue()
        self.reported: list[tuple[float, bool]] = []
        """What was reported to the agent: (playback position, interrupted), in order."""

    def on_message(self, raw: str) -> None:
        """A data message from the agent: END_CALL ends the call (COMPLETED)."""
        if isinstance(events.parse(raw), EndCall):
            self.end(Outcome(Status.COMPLETED, "ended by the agent (END_CALL)"))

    async def _start(self) -> None:
        await self._begin()
        t = self.transport
        self.stage = self._new_stage(on_answer_played=self._played)
        self.link.on_clear = self._clear
        t.clock.start()
        self._task(self.stage.run())
        self._task(self._receive())
        self._task(self._report())
        self._task(self._watch())
        self._task(self._peer_gone())

    async def _finish(self, outcome: Outcome) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await super()._finish(outcome)

    # -- the agent's speech -----------------------------------------------------------------

    async def _receive(self) -> None:
        """One byte stream after the other; a new stream ends the one still open (its end
        was lost: the sender never overlaps them)."""
        while True:
            reader = await self.link.streams.get()
            if self._reader is not None and not self._reader.done():
                self._reader.cancel()
                await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: rtc.ByteStreamReader) -> None:
        stage = self.stage
        assert stage is not None
        attributes = reader.info.attributes or {}
        rate = int(attributes.get("sample_rate", AGENT_RATE))
        channels = max(1, int(attributes.get("num_channels", 1)))
        segment = _Segment(self._next_turn)
        self._next_turn += 1
        self._segments.append(segment)
        resample = StreamResampler(AGENT_RATE, np.int16)
        frame = 2 * channels
        rest = b""
        try:
            async for data in reader:
                data = rest + data
                usable = len(data) - len(data) % frame
                rest = data[usable:]
                if usable:
                    self._speak(segment, resample, data[:usable], rate, channels)
        finally:
            if segment in self._segments:  # not cleared meanwhile
                tail = resample.flush()
                if len(tail):
                    self._push(segment, tail)
                stage.end_answer(segment.turn)

    def _speak(
        self,
        segment: _Segment,
        resample: StreamResampler,
        data: bytes,
        rate: int,
        channels: int,
    ) -> None:
        pcm = np.frombuffer(data, np.int16)
        if channels > 1:
            pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
        if rate != AGENT_RATE:
            pcm = resample(pcm, rate)  # type: ignore[assignment]
        if len(pcm):
            self._push(segment, pcm)

    def _push(self, segment: _Segment, pcm: np.ndarray) -> None:
        stage = self.stage
        assert stage is not None
        if segment.start is None:
            segment.start = stage.pushed_samples
        stage.speak(segment.turn, "", pcm, AGENT_RATE, None)  # no phonemes: lips from loudness
        segment.samples = stage.pushed_samples - segment.start

    def _played(self, turn: int) -> None:
        """A segment played to its end."""
        for segment in list(self._segments):
            if segment.turn == turn:
                self._segments.remove(segment)
                self._reports.put_nowait((segment.samples / AGENT_RATE, False))
                return

    def _clear(self) -> None:
        """``lk.clear_buffer``: stop now; every segment not yet reported is, as interrupted."""
        stage = self.stage
        if stage is None:
            return
        # Played audio, less what the generator ran ahead of the clock and the stage cuts.
        played = stage.generator.played_samples - round(
            (stage.lead_s - INTERRUPT_MARGIN_S) * AGENT_RATE
        )
        first = True
        for segment in self._segments:
            position = 0
            if first and segment.start is not None:
                position = min(max(0, played - segment.start), segment.samples)
            first = False
            self._reports.put_nowait((position / AGENT_RATE, True))
        self._segments.clear()
        if self._reader is not None:
            self._reader.cancel()  # what is still coming of the cleared segment is dropped
        stage.interrupt()
        log.info("call %s: cleared by the agent", self.session_id)

    async def _report(self) -> None:
        """``lk.playback_finished`` calls, in order."""
        while True:
            position, interrupted = await self._reports.get()
            self.reported.append((position, interrupted))
            with contextlib.suppress(Exception):
                await self.link.playback_finished(position, interrupted)
