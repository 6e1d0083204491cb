"""Turn-taking: when the user speaks, pauses, resumes, finishes or talks over the character.

:class:`Listener` is a synchronous state machine driven by *audio time* (the samples pushed),
not by the wall clock, so tests feed it faster than real time and get the same events every
time. The conversation orchestrator calls :meth:`Listener.push` from one worker thread with the
user's audio, and :meth:`Listener.set_speaking` while the character talks.

Per 32 ms frame it runs only Silero VAD (about 0.3 ms). The expensive steps run inside
``push`` exactly when they are needed:

* at ``min_silence_ms`` (96 ms: three VAD frames) of a pause the uncommitted speech is decoded
  and the full transcript goes out as :class:`EndOfTurnCandidate` (the orchestrator starts the
  answer speculatively); at the next ``push`` once the pause has lasted ``SCORE_SILENCE_MS``
  (128 ms) Smart Turn scores the turn: at or above ``threshold`` the
  turn ends (:class:`TurnEnded`, reason ``"model"``) once the pause has lasted
  ``model_silence_ms`` (600 ms: a hesitation inside a sentence is usually shorter, and the
  speculative answer is rarely ready much sooner, so waiting costs little);
* a transcript that stops on a word that cannot end a sentence ("I'd like to book a", "and",
  "um") is left unfinished: Smart Turn is not asked, and the turn ends only after
  ``unfinished_silence_ms`` (1.2 s);
* at ``commit_silence_ms`` (150 ms) of a pause the speech so far is committed for good
  (:class:`~characters.conversation.stt.IncrementalTranscriber`; the candidate's decode is
  reused), so a long turn leaves little to decode at its end; shorter gaps may be inside a word;
* otherwise the turn ends after ``silence_ms`` of silence (reason ``"silence"``), unless the
  user speaks again first (:class:`TurnResumed`: drop the speculation);
* every ``partial_every_ms`` (700 ms) of speech the uncommitted tail is decoded
  (:class:`Partial`): captions, and the words the answer's prompt can already take in
  (:meth:`~characters.conversation.engine.Conversation.anticipate`).

A turn whose transcript is empty (a cough, a door, noise that fooled the VAD) emits no
candidate and ends with :class:`TurnDiscarded` instead of :class:`TurnEnded`.

While the character speaks (``set_speaking(True)``), speech must last ``barge_in_ms`` before it
counts: then :class:`SpeechStarted` and :class:`BargeIn` are emitted together and that speech is
the start of the next user turn. Shorter speech (a backchannel "mm-hm") is ignored. The
character's own audio is never fed here.

See ``docs/turn-taking.md`` for the tuning and the measured costs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from characters.conversation.stt import IncrementalTranscriber, Recognizer
from characters.conversation.vad import FRAME, FRAME_S, SAMPLE_RATE, SileroVAD
from characters.errors import InvalidInput
from characters.pcm import StreamResampler, as_float32

if TYPE_CHECKING:
    from characters.conversation.turn import SmartTurn

DEFAULT_TURN_THRESHOLD = 0.9
"""Smart Turn probability at which a pause ends the turn (from ``model_silence_ms``; tuning:
docs/turn-taking.md)."""


SCORE_SILENCE_MS = 128
"""Pause before Smart Turn is asked (four VAD frames: what it saw when its threshold was tuned;
the candidate, at ``min_silence_ms``, comes sooner)."""

UNFINISHED_SILENCE_MS = 1200
"""Pause that ends a turn whose words stop on one that cannot end a sentence (at least the
turn silence)."""


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """Turn-taking timings. Built from :class:`~characters.config.Settings` (``turn_*``)."""

    min_silence_ms: int = 96
    """Pause after which the turn may be over: the candidate transcript (three VAD frames; Smart
    Turn is asked from ``SCORE_SILENCE_MS``)."""
    silence_ms: int = 900
    """Pause that ends the turn whatever Smart Turn says."""
    threshold: float = DEFAULT_TURN_THRESHOLD
    """Smart Turn probability at or above which a pause of ``model_silence_ms`` ends the turn."""
    model_silence_ms: int = 600
    """Pause from which Smart Turn's "the user has finished" ends the turn (it is asked at
    ``min_silence_ms``; the speculative answer runs meanwhile)."""
    unfinished_silence_ms: int = UNFINISHED_SILENCE_MS
    """Pause that ends a turn whose words stop on one that cannot end a sentence."""
    barge_in_ms: int = 250
    """Sustained speech while the character speaks that counts as barge-in."""
    min_speech_ms: int = 120
    """Shorter blips are not speech."""
    commit_silence_ms: int = 150
    """Pause at which the speech so far is transcribed for good."""
    partial_every_ms: int = 700
    """Speech between two :class:`Partial` transcripts (captions, and the answer's prompt
    prepared from the words so far); 0 turns them off."""
    pre_speech_ms: int = 300
    """Audio kept before the detected start of speech (VAD onsets are a frame or two late)."""
    vad_threshold: float = 0.5
    """Silero probability that starts speech (it ends below this minus 0.15)."""

    def __post_init__(self) -> None:
        if not (
            0 < self.min_silence_ms <= self.silence_ms <= self.unfinished_silence_ms
            and 0 < self.commit_silence_ms
        ):
            raise InvalidInput(
                "Listener timings must satisfy 0 < min_silence_ms <= silence_ms <= "
                "unfinished_silence_ms and 0 < commit_silence_ms (got "
                f"{self.min_silence_ms}, {self.silence_ms}, {self.unfinished_silence_ms}, "
                f"{self.commit_silence_ms})."
            )
        if not 0.0 <= self.threshold <= 1.0 or not 0.15 < self.vad_threshold < 1.0:
            raise InvalidInput("threshold must be in [0, 1] and vad_threshold in (0.15, 1).")


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The user started speaking (``at_s``: the detected onset)."""

    at_s: float


@dataclass(frozen=True, slots=True)
class Partial:
    """A new hypothesis of the turn so far, for captions."""

    at_s: float
    text: str


@dataclass(frozen=True, slots=True)
class EndOfTurnCandidate:
    """A pause of ``min_silence_ms``: the turn may be over. ``text`` is the full transcript so
    far (final quality), so an answer can start speculatively. At most one per pause."""

    at_s: float
    text: str
    speech_end_s: float


@dataclass(frozen=True, slots=True)
class TurnResumed:
    """The user went on speaking after a candidate: cancel the speculation."""

    at_s: float


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The turn is over. ``reason``: ``"model"`` (Smart Turn at a pause) or ``"silence"``."""

    at_s: float
    text: str
    speech_end_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class TurnDiscarded:
    """Speech was detected but its transcript is empty (noise): the turn is dropped."""

    at_s: float


@dataclass(frozen=True, slots=True)
class BargeIn:
    """The user has been talking over the character for ``barge_in_ms``."""

    at_s: float


ListenerEvent = (
    SpeechStarted | Partial | EndOfTurnCandidate | TurnResumed | TurnEnded | TurnDiscarded | BargeIn
)


class Listener:
    """The turn-taking state machine of one conversation (see the module docstring)."""

    def __init__(
        self,
        vad: SileroVAD,
        turn: SmartTurn | None,
        stt: Recognizer,
        config: ListenerConfig | None = None,
    ) -> None:
        self.vad = vad
        self.turn = turn
        self.config = config or ListenerConfig()
        self.transcriber = IncrementalTranscriber(stt)
        self._resample = StreamResampler(SAMPLE_RATE)
        self._speaking = False
        self._frames = 0
        self._barged = False
        self._silence_start: int | None = None
        self._committed = False
        self._asked = False
        self._candidate: str | None = None
        self._score_at: float | None = None
        """Speech end of a pause whose Smart Turn score is still to be computed."""
        self._model_end = False
        """Smart Turn said this pause ends the turn (it does at ``model_silence_ms``)."""
        self._unfinished = False
        """The transcript at this pause stops on a word that cannot end a sentence."""
        self._partial_text = ""
        self.last_turn_score: float | None = None
        """Smart Turn's score at the latest pause (for logs and tuning)."""
        self.reset()

    def set_speaking(self, speaking: bool) -> None:
        """Whether the character is talking now (user speech then needs ``barge_in_ms``)."""
        if speaking and not self._speaking:
            self._barged = False  # a new utterance of the character can be interrupted again
        self._speaking = speaking

    def reset(self) -> None:
        """Forget the current turn and the VAD state; the audio clock keeps counting."""
        self.vad.reset()
        self.transcriber.reset()
        self._resample = StreamResampler(SAMPLE_RATE)
        keep = _frames_of(self.config.pre_speech_ms) + _frames_of(self.config.barge_in_ms) + 2
        self._ring: deque[npt.NDArray[np.float32]] = deque(maxlen=keep)
        self._speech = False
        self._run_start: int | None = None
        self._leftover = np.zeros(0, dtype=np.float32)
        self._end_turn()

    def push(self, pcm: npt.NDArray[np.generic], sample_rate: int) -> list[ListenerEvent]:
        """Feed the user's audio (mono int16 or float, any rate); the events it caused."""
        if sample_rate <= 0:
            raise InvalidInput(f"Sample rate must be positive, got {sample_rate}.")
        events: list[ListenerEvent] = self._score_pause()
        audio = as_float32(self._resample(as_float32(pcm), sample_rate))
        stream = np.concatenate([self._leftover, audio]) if len(self._leftover) else audio
        n = len(stream) // FRAME
        for k in range(n):
            frame = stream[k * FRAME : (k + 1) * FRAME]
            events += self._on_frame(frame, float(self.vad.push(frame)[0]))
        self._leftover = stream[n * FRAME :].copy()
        return events

    @property
    def now_s(self) -> float:
        """Audio time of the end of the last whole frame processed."""
        return self._frames * FRAME_S

    # -- one frame ---------------------------------------------------------------------------

    def _on_frame(self, frame: npt.NDArray[np.float32], p: float) -> list[ListenerEvent]:
        i = self._frames
        self._frames += 1
        self._ring.append(frame)
        if self._in_turn:
            self.transcriber.append(frame)
        threshold = self.config.vad_threshold
        self._speech = p >= threshold or (self._speech and p >= threshold - 0.15)
        if self._speech:
            if self._run_start is None:
                self._run_start = i
            return self._on_speech(i, self._run_start)
        self._run_start = None
        if not self._in_turn:
            return []
        if self._silence_start is None:
            self._silence_start = i
        return self._on_silence(i, self._silence_start)

    def _on_speech(self, i: int, run_start: int) -> list[ListenerEvent]:
        cfg = self.config
        run_ms = (i + 1 - run_start) * FRAME_S * 1000
        events: list[ListenerEvent] = []
        if not self._in_turn:
            if run_ms < (cfg.barge_in_ms if self._speaking else cfg.min_speech_ms):
                return []
            events.append(self._start_turn(i, run_start))
        elif self._silence_start is not None:  # speech during a pause
            if run_ms < cfg.min_speech_ms:
                return []  # a blip: the pause goes on
            if self._candidate is not None:
                events.append(TurnResumed(self.now_s))
            if self._committed:  # the speech before the pause is transcribed: skip the pause
                keep = (i + 1 - run_start + _frames_of(cfg.pre_speech_ms)) * FRAME
                self.transcriber.skip(self.transcriber.samples - keep)
            self._new_pause()
        events += self._maybe_partial(i)
        if self._speaking and run_ms >= cfg.barge_in_ms and not self._barged:
            self._barged = True
            events.append(BargeIn(self.now_s))
        return events

    def _start_turn(self, i: int, run_start: int) -> SpeechStarted:
        pre = _frames_of(self.config.pre_speech_ms)
        frames = list(self._ring)[-(i + 1 - run_start + pre) :]
        self.transcriber.reset()
        self.transcriber.append(np.concatenate(frames))
        self._in_turn = True
        self._new_pause()
        self._last_partial_frame = i
        return SpeechStarted(run_start * FRAME_S)

    def _maybe_partial(self, i: int) -> list[ListenerEvent]:
        every = self.config.partial_every_ms
        if not every or (i - self._last_partial_frame) * FRAME_S * 1000 < every:
            return []
        self._last_partial_frame = i
        before = self._partial_text
        self._partial_text = self.transcriber.hypothesize()
        if self._partial_text and self._partial_text != before:
            return [Partial(self.now_s, self._partial_text)]
        return []

    def _on_silence(self, i: int, silence_start: int) -> list[ListenerEvent]:
        cfg = self.config
        silence_ms = (i + 1 - silence_start) * FRAME_S * 1000
        speech_end_s = silence_start * FRAME_S
        if silence_ms >= cfg.commit_silence_ms and not self._committed:
            # A candidate earlier in this pause decoded everything up to its silence: commit
            # that, with no second decode competing with the speculative answer.
            self._committed = True
            self._partial_text = self.transcriber.commit(reuse_tail=self._asked)
            self._last_partial_frame = i
        if silence_ms >= cfg.min_silence_ms and not self._asked:
            self._asked = True
            return self._candidate_events(speech_end_s)
        if self._model_end and silence_ms >= cfg.model_silence_ms:
            return [self._finish(speech_end_s, "model")]
        if silence_ms >= (cfg.unfinished_silence_ms if self._unfinished else cfg.silence_ms):
            return [self._finish(speech_end_s, "silence")]
        return []

    def _candidate_events(self, speech_end_s: float) -> list[ListenerEvent]:
        # Not committed: a pause this short may be inside a word ("check-up"); committing there
        # would cut the word in two if the user goes on.
        text = self.transcriber.hypothesize()
        if not text:
            return []
        self._candidate = text
        self.last_turn_score = None
        self._unfinished = looks_unfinished(text)
        if not self._unfinished:
            # Smart Turn (~0.1 s) runs at the start of the next push(), so that the candidate
            # reaches the caller first and its speculative answer starts meanwhile.
            self._score_at = speech_end_s
        return [EndOfTurnCandidate(self.now_s, text, speech_end_s)]

    def _score_pause(self) -> list[ListenerEvent]:
        """Ask Smart Turn whether the pending pause ends the turn."""
        if self._score_at is None or self.turn is None or self._candidate is None:
            self._score_at = None
            return []
        pause_ms = (
            None
            if self._silence_start is None
            else (self._frames - self._silence_start) * FRAME_S * 1000
        )
        if pause_ms is not None and pause_ms < SCORE_SILENCE_MS:
            return []  # asked at a later push, with the trailing silence it was tuned on
        speech_end_s, self._score_at = self._score_at, None
        self.last_turn_score = self.turn.predict(self.transcriber.audio())
        if self.last_turn_score < self.config.threshold:
            return []
        self._model_end = True
        if pause_ms is not None and pause_ms >= self.config.model_silence_ms:
            return [self._finish(speech_end_s, "model")]
        return []

    def _finish(self, speech_end_s: float, reason: str) -> ListenerEvent:
        text = self._candidate if self._candidate is not None else self.transcriber.final()
        self._end_turn()
        if not text:
            return TurnDiscarded(self.now_s)
        return TurnEnded(self.now_s, text, speech_end_s, reason)

    def _new_pause(self) -> None:
        """Speech (re)started: the next silence is a new pause."""
        self._silence_start = None
        self._committed = False
        self._asked = False
        self._candidate = None
        self._score_at = None
        self._model_end = False
        self._unfinished = False

    def _end_turn(self) -> None:
        self._in_turn = False
        self._barged = False
        self._new_pause()
        self._partial_text = ""
        self._last_partial_frame = 0
        self.transcriber.reset()


_DANGLING = frozenset(
    """a an the my your our their his her its this that these those some any no every
    to of for with at in on by from about into onto over under after before than as like
    and or but so because if when while although though whether
    i i'd i'm i'll i've we we'd we're you you'd you're he she they it it's there
    is are was were be been am do does did have has had can could would should will shall may
    might must want wanna gonna need
    um uh er erm hmm uhm mm""".split()
)
"""Words a sentence does not end on (articles, prepositions, conjunctions, subjects,
auxiliaries, fillers). "Can I come in?" ends on "in" but is a question: a question mark
overrides."""


_WH_OPENERS = frozenset("what when where why how which whose".split())
"""Words that open a question whose subject comes after its auxiliary ("who" is the subject
itself: "Who does?" is whole)."""
_MODALS = frozenset("do does did can could will would should shall may might must".split())
"""Auxiliaries that need a main verb after their subject ("What time do you | close?"), unlike
"be" ("Where are you?")."""
_AUXILIARIES = _MODALS | frozenset("is are was were am has have had".split())
_SUBJECTS = frozenset("i you we they he she it there".split())
_NEEDS_OBJECT = frozenset(
    "take have want need like give get bring sell offer accept use buy make put keep".split()
)
"""Verbs that do not end a yes/no question ("Do you take ⏸ new patients?")."""


def looks_unfinished(text: str) -> bool:
    """Whether a transcript stops mid-sentence: on a comma or a dash, on a word a sentence
    does not end on (not when it is a question), or a question before its verb. Whisper's
    trailing "..." alone is not enough: it also ends questions said with a rising tone."""
    text = text.strip()
    if not text:
        return False
    if text.endswith((",", "-", ";", ":")):
        return True
    if text.endswith("?"):
        return _question_before_its_verb(text)
    return _plain(text.split()[-1]) in _DANGLING


def _plain(word: str) -> str:
    """A word without the punctuation around it, in lower case, with a straight apostrophe."""
    return word.strip(".,!?\"'“”‘’").lower().replace("’", "'")


def _question_before_its_verb(text: str) -> bool:
    """A question that stops before its end, whatever the question mark says (Whisper adds
    one to the first part of "What time do you ⏸ close on Friday?"): a wh-question on its
    auxiliary ("How much does?") or on the auxiliary and its subject ("What time do you?"),
    or a yes/no question on a verb that needs an object ("Do you take?"; in "What do you
    take?" the object is the wh-word)."""
    words = [w for w in map(_plain, text.split()) if w]
    if len(words) < 2:
        return False
    last, before = words[-1], words[-2]
    if words[0] in _AUXILIARIES:
        # A yes/no question that stops on a verb that needs its object: "Do you take?"
        return last in _NEEDS_OBJECT
    if words[0] not in _WH_OPENERS:
        return False
    if last in _AUXILIARIES:
        # "What do you do?", "What does it have?": a main verb after its subject.
        return before not in _SUBJECTS
    return len(words) >= 3 and before in _MODALS and last in _SUBJECTS


def _frames_of(ms: int) -> int:
    return int(np.ceil(ms / 1000 / FRAME_S))
