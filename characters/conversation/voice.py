"""Talking by voice: live audio in, the character's answers out, with turn-taking.

A :class:`VoiceConversation` is fed the user's audio as it arrives (:meth:`push`) and yields
:class:`VoiceEvent` s (:meth:`events`). It runs the :class:`~characters.conversation.listener.
Listener` on one worker thread, in order, and answers on another:

* **Speculation.** At a pause that may end the turn (``EndOfTurnCandidate``) the answer to the
  transcript so far starts at once, but its events are held back. If the turn then ends with the
  same words, they are released, so the time spent waiting for the end of turn is not added to
  the answer's; if the user goes on (``TurnResumed``) or the words changed, the speculative
  answer is cancelled and leaves no trace in the conversation's memory.
* **Barge-in.** While the character's speech is playing, user speech that the listener calls a
  barge-in cancels the answer and emits :class:`Interrupted`; memory keeps what was said up to
  then. With a :class:`Playback` (a live call) "playing" and "said" are what the user really
  heard, as the call's media output reports it; without one (``characters chat --audio``) they
  are estimated on the input audio clock (the user's audio arrives in real time).
* **Continuations.** A turn ended too early is recovered: when the user speaks again within
  ``merge_window_s`` of the end of their speech, the answer to the first part is withdrawn (cut
  off if it was already playing, forgotten by memory) and, once the user is done, the whole
  utterance is answered once (:class:`UserTurn` with ``continues`` set).
* **Anticipation.** Each partial transcript while the user speaks goes into the model's cache
  as the start of the user's turn (all but its last word), after the passages it finds for a
  character with documents (:meth:`Conversation.anticipate`), so the answer usually evaluates
  only the last few words.
* **Never silent.** A committed turn always gets an answer: if the language model says nothing
  speakable (and calls no tool), the character says :data:`FALLBACK_LINE`.
* **Errors.** A stage that fails (speech recognition, the language model, the voice) emits
  :class:`EngineFailure` with the stage and the reason. A failed answer is not fatal: the
  character says :data:`APOLOGY_LINE` and goes on listening, unless answers failed
  :data:`MAX_ANSWER_FAILURES` times in a row or the failure was in listening or in speaking a
  fixed line (then ``fatal``: the caller ends the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from characters.conversation.engine import (
    AgentDone,
    AgentEvent,
    AgentSpeech,
    AgentToolCall,
    AgentToolResult,
    Conversation,
    TurnTimings,
)
from characters.conversation.listener import (
    BargeIn,
    EndOfTurnCandidate,
    Listener,
    ListenerEvent,
    Partial,
    SpeechStarted,
    TurnDiscarded,
    TurnEnded,
    TurnResumed,
)

log = logging.getLogger(__name__)

MERGE_WINDOW_S = 1.2
"""User speech that starts within this long after the end of their last turn continues that
turn (the character answers in about 1 s, and a reply to its first words comes later)."""
FALLBACK_LINE = "Sorry, I didn't catch that. Could you say it again?"
"""What the character says when its language model gave nothing to say."""
APOLOGY_LINE = "Sorry, I lost my train of thought. Could you say that again?"
"""What the character says when producing an answer failed."""
MAX_ANSWER_FAILURES = 2
"""Answers that may fail in a row before the failure is fatal."""


@dataclass(frozen=True, slots=True)
class UserTurn:
    """The user finished a turn: what they said, and when (monotonic) the turn was committed."""

    text: str
    """Everything the user said in this turn (what the character answers)."""
    speech_end_s: float
    """Input audio time at which the user's speech ended."""
    committed_at: float
    reason: str
    continues: str | None = None
    """Set when this turn continues the previous one (which ended too early and was not
    answered after all): the words added since (``text`` has the whole utterance)."""


@dataclass(frozen=True, slots=True)
class UserSpeaking:
    """The user started to speak (for captions and a listening face)."""

    at_s: float


@dataclass(frozen=True, slots=True)
class UserPartial:
    """The words of the user's turn so far (a hypothesis that may still change)."""

    text: str


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The user barged in: the current answer was cut short."""

    at_s: float
    heard: str = ""
    """What the user heard of the answer (with a :class:`Playback`; else what was said)."""


@dataclass(frozen=True, slots=True)
class EngineFailure:
    """A stage of the engine failed; ``stage`` is ``listen``, ``answer`` or ``line`` (the start
    script or another fixed line)."""

    stage: str
    message: str
    fatal: bool = True
    """Whether the conversation cannot go on (else the character apologised and listens)."""


VoiceEvent = (
    UserTurn
    | UserSpeaking
    | UserPartial
    | Interrupted
    | EngineFailure
    | AgentSpeech
    | AgentToolCall
    | AgentToolResult
    | AgentDone
)


class Playback(Protocol):
    """Where the character's speech is really played (a live call's media output)."""

    @property
    def playing(self) -> bool:
        """Whether the character's voice is audible now."""
        ...

    def interrupt(self) -> str:
        """Stop the character's voice now; what the user heard of the answer being played."""
        ...


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _join(first: str, then: str) -> str:
    """Two pieces of one utterance: "I'd like to book." + "an appointment." reads "I'd like to
    book an appointment." (the first piece's full stop was Whisper's guess)."""
    first, then = first.strip(), then.strip()
    if not first or not then:
        return first or then
    if first.endswith(".") and not first.endswith("..") and then[:1].islower():
        first = first[:-1]
    return f"{first} {then}"


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
    heard: str | None = None
    """What the user heard when the answer was cut off (from the :class:`Playback`)."""
    failure: str | None = None
    """Why a speculative answer failed (reported if it is released)."""
    withdrawn: bool = False
    """The user went on speaking: the turn continues, nothing of this answer is remembered."""
    speech_end_s: float = 0.0
    """End of the user's speech this answers (input audio time)."""
    typed: bool = False
    """Answers typed text or is a fixed line (not a spoken turn the user could continue)."""
    remembered: bool = False
    """The turn and this answer are in the conversation's memory."""
    committed: threading.Event = field(default_factory=threading.Event)
    """Set once the answer is released (or cancelled): its side effects (backend calls) may
    start; a speculation has none."""

    def wait_committed(self) -> bool:
        """On the answer's thread: block until the answer is released (True) or cancelled."""
        while not self.committed.wait(0.05):
            if self.cancel.is_set():
                return False
        return not self.cancel.is_set()


class VoiceConversation:
    """A :class:`Conversation` driven by live audio. Use from one asyncio event loop."""

    def __init__(
        self,
        conversation: Conversation,
        listener: Listener,
        playback: Playback | None = None,
        *,
        merge_window_s: float = MERGE_WINDOW_S,
    ) -> None:
        self.conversation = conversation
        self.listener = listener
        self.playback = playback
        self.merge_window_s = merge_window_s
        self._events: asyncio.Queue[VoiceEvent | None] = asyncio.Queue()
        self._listen = ThreadPoolExecutor(1, thread_name_prefix="listen")
        self._answer_pool = ThreadPoolExecutor(2, thread_name_prefix="answer")
        self._answer: _Answer | None = None
        self._audio_s = 0.0
        """Input audio pushed so far, in seconds (the clock of the listener's events)."""
        self._speaking_until = 0.0
        """Input audio time until which the character's speech plays."""
        self._closed = False
        self._continuing: UserTurn | None = None
        """The turn the user is continuing (its answer withdrawn), until the new part ends."""
        self._skip_barge_in = False
        self._failures = 0
        """Answers failed in a row."""
        self._anticipating = False
        """A search for the user's words so far is being put into the model's cache."""
        # The prompt's prefix and the persona's fact vectors (the embedding model's first load
        # takes about 0.3 s), before the first turn rather than in it.
        self._answer_pool.submit(self._prepare)

    # -- input ------------------------------------------------------------------------------

    async def push(self, pcm: npt.NDArray[np.int16] | npt.NDArray[np.float32], rate: int) -> None:
        """Feed the user's audio (any rate, mono). Returns once the listener has taken it."""
        loop = asyncio.get_running_loop()
        # A long piece (audio that piled up while the machine was busy) goes in 100 ms steps, so
        # that a barge-in early in it is acted on before the listener decodes the rest.
        step = max(1, rate // 10)
        for start in range(0, len(pcm), step):
            piece = pcm[start : start + step]
            try:
                events = await loop.run_in_executor(
                    self._listen, self._listen_to, piece, rate, self.speaking
                )
            except Exception as e:
                log.exception("listening failed")
                self._events.put_nowait(EngineFailure("listen", _reason(e)))
                return
            self._audio_s += len(piece) / rate
            for event in events:
                self._on_listener(event)

    async def say(self, text: str) -> None:
        """Answer typed text as if the user had said it (no turn-taking): emits
        :class:`UserTurn` (reason ``"typed"``); an answer still playing is cut off first, as by a
        barge-in (:class:`Interrupted`)."""
        if self.speaking:
            heard = self._cut_off()
            self._events.put_nowait(Interrupted(self._audio_s, heard))
        self._continuing = None
        self._events.put_nowait(UserTurn(text, self._audio_s, time.monotonic(), "typed"))
        self._start_answer(text, released=True)

    async def opening(self) -> None:
        """Speak the character's start script."""
        await self.announce(self.conversation.character.start_script or "")

    async def announce(self, line: str) -> None:
        """Speak a fixed line (no language model; a barge-in cuts it off like an answer)."""
        self._speak_line(line)

    def _speak_line(self, line: str) -> None:
        previous = self._answer
        if previous is not None and not previous.finished:
            previous.cancel.set()
        answer = _Answer("", released=True, typed=True)  # not a turn the user can continue
        self._answer = answer
        loop = asyncio.get_running_loop()
        answer.task = asyncio.ensure_future(
            loop.run_in_executor(self._answer_pool, self._run_line, answer, loop, line, previous)
        )

    # -- output ------------------------------------------------------------------------------

    @property
    def speaking(self) -> bool:
        """Whether the character is answering: an answer is being produced, or its speech is
        still playing by the input audio clock."""
        answer = self._answer
        busy = answer is not None and answer.released and not answer.finished
        if self.playback is not None:
            return busy or self.playback.playing
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
        # Waiting for the worker threads (a decode or a chunk of speech may be under way) off
        # the event loop: other calls' media keeps flowing meanwhile.
        await asyncio.to_thread(self._listen.shutdown, True)
        await asyncio.to_thread(self._answer_pool.shutdown, True)
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
            self._maybe_continue(event.at_s)
        elif isinstance(event, Partial):
            text = self._joined(event.text)
            self._events.put_nowait(UserPartial(text))
            if (answer is None or answer.finished) and not (self._anticipating or self._closed):
                self._anticipating = True
                self._answer_pool.submit(self._anticipate, text)
        elif isinstance(event, EndOfTurnCandidate):
            text = self._joined(event.text)
            if answer is not None and not answer.released and not answer.finished:
                if _normalise(answer.text) == _normalise(text):
                    return
                answer.cancel.set()
            if text.strip() and (answer is None or answer.finished or not answer.released):
                self._start_answer(text, released=False, speech_end_s=event.speech_end_s)
        elif isinstance(event, TurnResumed):
            if answer is not None and not answer.released:
                answer.cancel.set()
        elif isinstance(event, TurnDiscarded):
            if answer is not None and not answer.released:
                answer.cancel.set()
            if self._continuing is not None:
                # The "continuation" was noise: the turn it continued still gets its answer.
                turn, self._continuing = self._continuing, None
                self._start_answer(turn.text, released=True, speech_end_s=turn.speech_end_s)
        elif isinstance(event, TurnEnded):
            self._end_of_turn(event)
        elif isinstance(event, BargeIn):
            if self._skip_barge_in:  # the same speech already cut the answer off (continuing)
                self._skip_barge_in = False
                return
            heard = self._cut_off()
            self._events.put_nowait(Interrupted(event.at_s, heard))

    def _end_of_turn(self, event: TurnEnded) -> None:
        answer = self._answer
        previous, self._continuing = self._continuing, None
        self._skip_barge_in = False
        text = event.text if previous is None else _join(previous.text, event.text)
        self._events.put_nowait(
            UserTurn(
                text,
                event.speech_end_s,
                time.monotonic(),
                event.reason,
                continues=None if previous is None else event.text,
            )
        )
        if (
            answer is not None
            and not answer.released
            and not answer.cancel.is_set()
            and _normalise(answer.text) == _normalise(text)
        ):
            log.debug("turn ended (%s): the speculative answer is released", event.reason)
            answer.speech_end_s = event.speech_end_s
            self._release(answer)
        else:
            log.debug("turn ended (%s): the answer starts now", event.reason)
            if answer is not None and not answer.released:
                answer.cancel.set()
            self._start_answer(text, released=True, speech_end_s=event.speech_end_s)

    def _maybe_continue(self, at_s: float) -> None:
        """The user started speaking at ``at_s``: if that is soon after the end of their last
        turn, the turn goes on; its answer is withdrawn (and cut off if it plays)."""
        answer = self._answer
        if (
            answer is None
            or not answer.released
            or answer.withdrawn
            or answer.typed
            or self._continuing is not None
            or at_s - answer.speech_end_s > self.merge_window_s
        ):
            return
        log.debug("the user goes on %.2f s after the end of the turn", at_s - answer.speech_end_s)
        self._continuing = UserTurn(answer.text, answer.speech_end_s, time.monotonic(), "early")
        answer.withdrawn = True
        if answer.remembered:
            self.conversation.forget_last_turn()
        if self.speaking:
            heard = self._cut_off()
            self._events.put_nowait(Interrupted(at_s, heard))
            self._skip_barge_in = True
        elif not answer.finished:
            answer.cancel.set()

    def _joined(self, text: str) -> str:
        """The words of the turn being continued, if any, followed by ``text``."""
        return text if self._continuing is None else _join(self._continuing.text, text)

    def _cut_off(self) -> str:
        """Stop the answer being produced or played; what the user heard of it. Memory keeps
        only that (an answer already remembered whole is revised)."""
        answer = self._answer
        heard = self.playback.interrupt() if self.playback is not None else None
        if answer is not None and answer.released:
            if not answer.finished:
                answer.heard = heard
                answer.cancel.set()
            elif heard is not None and answer.text:
                self.conversation.revise_last_answer(heard)
        self._speaking_until = self._audio_s
        self._drop_queued_speech()
        return heard if heard is not None else ""

    def _drop_queued_speech(self) -> None:
        """Take the speech not yet read by the caller out of the events (the answer's other
        events stay): the playback was stopped at once, and speech queued before the cut must
        not start it again."""
        kept: list[VoiceEvent | None] = []
        while not self._events.empty():
            event = self._events.get_nowait()
            if not isinstance(event, AgentSpeech):
                kept.append(event)
        for event in kept:
            self._events.put_nowait(event)

    def _start_answer(
        self, text: str, *, released: bool, speech_end_s: float | None = None
    ) -> None:
        previous = self._answer
        if previous is not None and not previous.finished:
            previous.cancel.set()
        answer = _Answer(text, released=released)
        if released:
            answer.committed.set()
        answer.typed = speech_end_s is None
        answer.speech_end_s = self._audio_s if speech_end_s is None else speech_end_s
        self._answer = answer
        loop = asyncio.get_running_loop()
        answer.task = asyncio.ensure_future(
            loop.run_in_executor(self._answer_pool, self._run_answer, answer, loop, previous)
        )

    def _release(self, answer: _Answer) -> None:
        answer.released = True
        answer.committed.set()
        if answer.failure is not None:
            answer.held.clear()
            self._report_failure(answer, "answer", answer.failure)
            return
        for event in answer.held:
            self._emit(answer, event)
        answer.held.clear()

    def _emit(self, answer: _Answer, event: AgentEvent) -> None:
        """On the event loop: pass an answer's event on (or hold it until released)."""
        if not answer.released:
            if answer is self._answer and not answer.cancel.is_set():
                answer.held.append(event)
            return  # else a discarded speculation: no trace
        if isinstance(event, AgentDone) and answer.text and not answer.withdrawn:
            remembered = event.remembered
            if event.interrupted and answer.heard is not None:
                remembered = f"{answer.heard} …" if answer.heard else ""
            self.conversation.remember(answer.text, remembered, event.actions)
            answer.remembered = True
            if not event.interrupted:
                self._failures = 0
            if not self._closed:
                self._answer_pool.submit(self._prepare)
        if answer is not self._answer:
            return  # superseded (barge-in, new turn): its end is in memory, not in the events
        if isinstance(event, AgentSpeech) and answer.cancel.is_set():
            # Cut off (barge-in): speech its thread made before it saw the cancel is not played.
            return
        if isinstance(event, AgentSpeech):
            start = max(self._audio_s, self._speaking_until)
            self._speaking_until = start + event.chunk.duration_s
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
            for event in self._respond(answer):
                loop.call_soon_threadsafe(self._emit, answer, event)
        except Exception as e:
            log.exception("answer failed")
            if answer.released or answer is self._answer:
                loop.call_soon_threadsafe(self._fail, answer, "answer", _reason(e))
        finally:
            answer.finished = True
            loop.call_soon_threadsafe(answer.settled.set)

    def _respond(self, answer: _Answer) -> Iterator[AgentEvent]:
        """The conversation's answer; :data:`FALLBACK_LINE` when it had nothing to say."""
        acted = False
        for event in self.conversation.respond(
            answer.text, answer.cancel, gate=answer.wait_committed
        ):
            if isinstance(event, AgentToolCall) and event.valid:
                acted = True
            if isinstance(event, AgentDone) and not (event.text or event.interrupted or acted):
                log.warning("the language model gave nothing to say: the fallback line is said")
                said = None
                for spoken in self.conversation.line(FALLBACK_LINE, answer.cancel):
                    if isinstance(spoken, AgentDone):
                        said = spoken
                    else:
                        yield spoken
                if said is not None:
                    event = AgentDone(said.text, said.interrupted, event.timings, said.text)
            yield event

    def _prepare(self) -> None:
        try:
            self.conversation.prepare()
        except Exception:
            log.exception("preparing the next turn failed")

    def _anticipate(self, words: str) -> None:
        """On a worker thread, while the user speaks: their words so far (and the passages for
        them) into the model's cache (at most one at a time; a later partial waits for the
        next)."""
        try:
            self.conversation.anticipate(words)
        except Exception:
            log.exception("anticipating the user's turn failed")
        finally:
            self._anticipating = False

    def _fail(self, answer: _Answer, stage: str, reason: str) -> None:
        """On the event loop: a failed answer ends (nothing of it is remembered) and, unless it
        was a speculation nobody will hear, the failure is reported."""
        if answer.released:
            self._report_failure(answer, stage, reason)
        elif answer is self._answer:
            answer.failure = reason

    def _report_failure(self, answer: _Answer, stage: str, reason: str) -> None:
        """A failure the user would notice: reported, and the character apologises (its
        apology ends the turn) unless it is fatal."""
        if stage == "answer":
            self._failures += 1
        fatal = stage != "answer" or self._failures >= MAX_ANSWER_FAILURES or self._closed
        self._events.put_nowait(EngineFailure(stage, reason, fatal))
        if answer is not self._answer:
            return
        if fatal:
            self._events.put_nowait(AgentDone("", True, _failed_timings()))
        else:
            self._speak_line(APOLOGY_LINE)

    def _run_line(
        self,
        answer: _Answer,
        loop: asyncio.AbstractEventLoop,
        line: str,
        previous: _Answer | None,
    ) -> None:
        if previous is not None:
            previous.settled.wait()
        try:
            for event in self.conversation.line(line, answer.cancel):
                loop.call_soon_threadsafe(self._emit, answer, event)
        except Exception as e:
            log.exception("speaking a line failed")
            loop.call_soon_threadsafe(self._fail, answer, "line", _reason(e))
        finally:
            answer.finished = True
            loop.call_soon_threadsafe(answer.settled.set)


def _reason(error: BaseException) -> str:
    """A one-line reason for an engine error (the log has the traceback)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _failed_timings() -> TurnTimings:
    now = time.monotonic()
    return TurnTimings(started=now, done=now)
