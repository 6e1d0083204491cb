"""Talking by voice: live audio in, the character's answers out, with turn-taking.

A :class:`VoiceConversation` is fed the user's audio as it arrives (:meth:`push`) and yields
:class:`VoiceEvent` s (:meth:`events`). It runs the :class:`~characters.conversation.listener.
Listener` on one worker thread, in order, and answers on another:

* **Speculation.** At a pause that may end the turn (``EndOfTurnCandidate``) the answer to the
  transcript so far starts at once, but its events are held back. If the turn then ends with the
  same words, they are released, so the time spent waiting for the end of turn is not added to
  the answer's; if the user goes on (``TurnResumed``) or the words changed, the speculative
  answer is cancelled and leaves no trace in the conversation's memory.
* **Barge-in.** While the character's speech is playing (by the input audio clock: the user's
  audio arrives in real time), user speech that the listener calls a barge-in cancels the answer
  and emits :class:`Interrupted`; memory keeps what was said up to then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from characters.conversation.engine import (
    AgentDone,
    AgentEvent,
    AgentSpeech,
    AgentToolCall,
    Conversation,
    TurnTimings,
)
from characters.conversation.listener import (
    BargeIn,
    EndOfTurnCandidate,
    Listener,
    ListenerEvent,
    SpeechStarted,
    TurnDiscarded,
    TurnEnded,
    TurnResumed,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UserTurn:
    """The user finished a turn: what they said, and when (monotonic) the turn was committed."""

    text: str
    speech_end_s: float
    """Input audio time at which the user's speech ended."""
    committed_at: float
    reason: str


@dataclass(frozen=True, slots=True)
class UserSpeaking:
    """The user started to speak (for captions and a listening face)."""

    at_s: float


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The user barged in: the current answer was cut short."""

    at_s: float


VoiceEvent = UserTurn | UserSpeaking | Interrupted | AgentSpeech | AgentToolCall | AgentDone


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass
class _Answer:
    """One answer being produced on a worker thread; its events wait in ``held`` until it is
    released (committed)."""

    text: str
    cancel: threading.Event = field(default_factory=threading.Event)
    held: list[AgentEvent] = field(default_factory=list)
    released: bool = False
    finished: bool = False
    settled: threading.Event = field(default_factory=threading.Event)
    """Set once every event of the answer went through the loop (memory updated)."""
    task: asyncio.Future[None] | None = None


class VoiceConversation:
    """A :class:`Conversation` driven by live audio. Use from one asyncio event loop."""

    def __init__(self, conversation: Conversation, listener: Listener) -> None:
        self.conversation = conversation
        self.listener = listener
        self._events: asyncio.Queue[VoiceEvent | None] = asyncio.Queue()
        self._listen = ThreadPoolExecutor(1, thread_name_prefix="listen")
        self._answer_pool = ThreadPoolExecutor(2, thread_name_prefix="answer")
        self._answer: _Answer | None = None
        self._audio_s = 0.0
        """Input audio pushed so far, in seconds (the clock of the listener's events)."""
        self._speaking_until = 0.0
        """Input audio time until which the character's speech plays."""
        self._closed = False

    # -- input ------------------------------------------------------------------------------

    async def push(self, pcm: npt.NDArray[np.int16] | npt.NDArray[np.float32], rate: int) -> None:
        """Feed the user's audio (any rate, mono). Returns once the listener has taken it."""
        loop = asyncio.get_running_loop()
        speaking = self._audio_s < self._speaking_until
        events = await loop.run_in_executor(self._listen, self._listen_to, pcm, rate, speaking)
        self._audio_s += len(pcm) / rate
        for event in events:
            self._on_listener(event)

    async def say(self, text: str) -> None:
        """Answer typed text as if the user had said it (no turn-taking)."""
        self._start_answer(text, released=True)

    async def opening(self) -> None:
        """Speak the character's start script."""
        answer = _Answer("", released=True)
        self._answer = answer
        answer.task = asyncio.ensure_future(
            asyncio.get_running_loop().run_in_executor(
                self._answer_pool, self._run_opening, answer, asyncio.get_running_loop()
            )
        )

    # -- output ------------------------------------------------------------------------------

    @property
    def speaking(self) -> bool:
        """Whether the character is answering: an answer is being produced, or its speech is
        still playing by the input audio clock."""
        answer = self._answer
        busy = answer is not None and answer.released and not answer.finished
        return busy or self._audio_s < self._speaking_until

    async def events(self) -> AsyncIterator[VoiceEvent]:
        """Events until :meth:`aclose`."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def idle(self) -> None:
        """Wait until no answer is being produced."""
        while self._answer is not None and not self._answer.finished:
            task = self._answer.task
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(task)
            else:
                await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._answer is not None:
            self._answer.cancel.set()
        await self.idle()
        self._listen.shutdown(wait=True)
        self._answer_pool.shutdown(wait=True)
        self._events.put_nowait(None)

    # -- internals ---------------------------------------------------------------------------

    def _listen_to(
        self, pcm: npt.NDArray[np.int16] | npt.NDArray[np.float32], rate: int, speaking: bool
    ) -> list[ListenerEvent]:
        self.listener.set_speaking(speaking)
        return self.listener.push(pcm, rate)

    def _on_listener(self, event: ListenerEvent) -> None:
        answer = self._answer
        if isinstance(event, SpeechStarted):
            self._events.put_nowait(UserSpeaking(event.at_s))
        elif isinstance(event, EndOfTurnCandidate):
            if answer is not None and not answer.released and not answer.finished:
                if _normalise(answer.text) == _normalise(event.text):
                    return
                answer.cancel.set()
            if event.text.strip() and (answer is None or answer.finished or not answer.released):
                self._start_answer(event.text, released=False)
        elif isinstance(event, TurnResumed | TurnDiscarded):
            if answer is not None and not answer.released:
                answer.cancel.set()
        elif isinstance(event, TurnEnded):
            self._events.put_nowait(
                UserTurn(event.text, event.speech_end_s, time.monotonic(), event.reason)
            )
            if (
                answer is not None
                and not answer.released
                and not answer.cancel.is_set()
                and _normalise(answer.text) == _normalise(event.text)
            ):
                self._release(answer)
            else:
                if answer is not None and not answer.released:
                    answer.cancel.set()
                self._start_answer(event.text, released=True)
        elif isinstance(event, BargeIn):
            if answer is not None and answer.released and not answer.finished:
                answer.cancel.set()
            self._speaking_until = self._audio_s
            self._events.put_nowait(Interrupted(event.at_s))

    def _start_answer(self, text: str, *, released: bool) -> None:
        previous = self._answer
        if previous is not None and not previous.finished:
            previous.cancel.set()
        answer = _Answer(text, released=released)
        self._answer = answer
        loop = asyncio.get_running_loop()
        answer.task = asyncio.ensure_future(
            loop.run_in_executor(self._answer_pool, self._run_answer, answer, loop, previous)
        )

    def _release(self, answer: _Answer) -> None:
        answer.released = True
        for event in answer.held:
            self._emit(answer, event)
        answer.held.clear()

    def _emit(self, answer: _Answer, event: AgentEvent) -> None:
        """On the event loop: pass an answer's event on (or hold it until released)."""
        if not answer.released:
            if answer is self._answer and not answer.cancel.is_set():
                answer.held.append(event)
            return  # else a discarded speculation: no trace
        if answer is not self._answer and not isinstance(event, AgentDone):
            return  # superseded (barge-in, new turn): only its end is recorded
        if isinstance(event, AgentSpeech):
            start = max(self._audio_s, self._speaking_until)
            self._speaking_until = start + event.chunk.duration_s
        if isinstance(event, AgentDone) and answer.text:
            self.conversation.remember(answer.text, event.remembered)
            if not self._closed:
                self._answer_pool.submit(self._prepare)
        self._events.put_nowait(event)

    def _run_answer(
        self, answer: _Answer, loop: asyncio.AbstractEventLoop, previous: _Answer | None
    ) -> None:
        """On a worker thread: produce the answer, handing each event to the loop."""
        if previous is not None:
            # One answer at a time: the cancelled one releases the model within a token, and
            # its end reaches memory before this one reads it.
            previous.settled.wait()
        try:
            if answer.cancel.is_set():
                return
            for event in self.conversation.respond(answer.text, answer.cancel):
                loop.call_soon_threadsafe(self._emit, answer, event)
        except Exception:
            log.exception("answer failed")
            loop.call_soon_threadsafe(self._emit, answer, AgentDone("", True, _failed_timings()))
        finally:
            answer.finished = True
            loop.call_soon_threadsafe(answer.settled.set)

    def _prepare(self) -> None:
        try:
            self.conversation.prepare()
        except Exception:
            log.exception("preparing the next turn failed")

    def _run_opening(self, answer: _Answer, loop: asyncio.AbstractEventLoop) -> None:
        try:
            for event in self.conversation.opening():
                loop.call_soon_threadsafe(self._emit, answer, event)
        finally:
            answer.finished = True
            loop.call_soon_threadsafe(answer.settled.set)


def _failed_timings() -> TurnTimings:
    now = time.monotonic()
    return TurnTimings(started=now, done=now)
