"""The character on stage: its speech in, its voice and face out, on the call's one clock.

:class:`AvatarStage` drives a :class:`~characters.face.FaceVideoGenerator` in real time. Every
frame period (40 ms at 25 fps) it runs ``lead_s`` ahead of the media clock and

1. advances the generator one frame (cheap: the audio of that frame and the face to draw),
2. writes the audio, resampled from the voice's rate to 48 kHz, into the outgoing
   :class:`~characters.realtime.tracks.AudioBuffer` (and the recording),
3. hands the face to its worker thread, which renders it and converts it to YUV for the video
   track (which encodes it just before its time) and the recording -- unless the worker is still
   busy with an earlier frame, in which case this frame is dropped: video gives way, audio never
   waits.

Frame ``k`` and its audio share one media time (the generator's sample clock), so lips and sound
leave together. Idle frames (blinks, small motion, a listening face) keep coming between answers.

The stage also knows what the user actually heard: :class:`~characters.realtime.captions.Captions`
releases the character's words as their audio plays, and :meth:`AvatarStage.interrupt` (barge-in)
silences everything not yet played and returns what was.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import av
import numpy as np

from characters.face.animator import AnimatorState
from characters.face.generator import AudioChunk, FaceVideoGenerator, FrameStep
from characters.pcm import Int16, StreamResampler
from characters.realtime.captions import Captions
from characters.realtime.encoder import to_yuv
from characters.realtime.recorder import Recorder
from characters.realtime.tracks import (
    AUDIO_RATE,
    AudioBuffer,
    MediaClock,
    VideoFrameIn,
    VideoOut,
)

log = logging.getLogger(__name__)

INTERRUPT_MARGIN_S = 0.02
"""On barge-in, audio already handed to the track (the 20 ms frame in flight) still plays."""
REWIND_MARGIN_S = 0.03
"""Speech after silence starts at the first frame at least this far ahead (time to draw it)."""


@dataclass
class StageStats:
    """What the stage did (for logs, tests and the benchmark)."""

    frames: int = 0
    """Frames advanced (each carries 1/fps of audio)."""
    rendered: int = 0
    dropped: int = 0
    """Frames not drawn because the worker was still busy (the video gives way)."""
    stale: int = 0
    """Frames drawn across a rewind or barge-in, for a time it cut (not shown)."""
    rewinds: int = 0
    """Answers that started at the next frame instead of after the lead (see ``_rewind``)."""
    render_s: list[float] = field(default_factory=list)
    """Seconds the worker took per frame (render, convert), the last 250."""


@dataclass
class _Answer:
    turn: int
    end: int | None = None
    """Generator sample position where the answer's audio ends (once it is complete)."""
    voiced: bool = False


class AvatarStage:
    """One call's character media (see the module docstring). Use from the event loop."""

    def __init__(
        self,
        generator: FaceVideoGenerator,
        clock: MediaClock,
        audio_out: AudioBuffer,
        *,
        video_out: VideoOut | None,
        recorder: Recorder | None = None,
        lead_s: float = 0.08,
        on_words: Callable[[int, str], None] = lambda turn, delta: None,
        on_playing: Callable[[bool], None] = lambda playing: None,
        on_answer_played: Callable[[int], None] = lambda turn: None,
    ) -> None:
        self.generator = generator
        self.clock = clock
        self.audio_out = audio_out
        self.video_out = video_out
        self.recorder = recorder
        self.lead_s = lead_s
        self.on_words = on_words
        self.on_playing = on_playing
        self.on_answer_played = on_answer_played
        self.captions = Captions()
        self.stats = StageStats()
        self._resample = StreamResampler(AUDIO_RATE, np.int16)
        self._pushed = 0
        """Generator samples queued so far (the captions' clock)."""
        self._answers: deque[_Answer] = deque()
        self._due: deque[tuple[float, Callable[[], None]]] = deque()
        """Callbacks to run when the media clock reaches their time (captions, state)."""
        self._playing = False
        self._will_play = False
        """Whether the last scheduled step speaks (``_playing`` follows it at its time)."""
        self._busy = False
        self._cuts = 0
        """Rewinds and barge-ins so far: a frame being drawn across one is stale after it."""
        self._cut_after = math.inf
        """The media time after which frames drawn before the last cut are stale."""
        self._poke = asyncio.Event()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="stage")
        self._draw_need = video_out is not None or recorder is not None

    # -- speech in ----------------------------------------------------------------------------

    def speak(self, turn: int, text: str, pcm: Int16, sample_rate: int, phonemes: object) -> None:
        """Queue a chunk of the answer to ``turn`` (``text``: its words when the chunk opens a
        new piece of text, else empty)."""
        chunk = AudioChunk(pcm, sample_rate, phonemes)  # type: ignore[arg-type]
        if not self._answers and self.generator.queued_samples == 0:
            # Speech after silence: it starts at its first sound, at the next frame.
            chunk = chunk.without_lead()
            self._rewind()
        answer = self._answer(turn)
        self.generator.push_audio(chunk)
        samples = len(chunk.pcm)
        self.captions.add(turn, text, self._pushed, samples)
        self._pushed += samples
        answer.voiced = answer.voiced or samples > 0

    def end_answer(self, turn: int) -> None:
        """The answer to ``turn`` is complete; :attr:`on_answer_played` follows once it played."""
        answer = self._answer(turn)
        answer.end = self._pushed
        if answer.voiced:
            self.generator.end_segment()
        else:  # nothing to play: it is over at once
            self._answers.remove(answer)
            self.on_answer_played(turn)

    def interrupt(self) -> str:
        """Barge-in: stop the character's voice and face now; what the user heard of the answer
        being played (its words up to the cut)."""
        now = self.clock.now()
        turn = self._answers[0].turn if self._answers else None
        self.generator.clear()
        self.audio_out.silence_after(round((now + INTERRUPT_MARGIN_S) * AUDIO_RATE))
        self._cut(now + INTERRUPT_MARGIN_S)
        self._due.clear()
        self.captions.drop()
        self._pushed = self.generator.played_samples
        self._answers.clear()
        self._will_play = False
        self._set_playing(False)
        return self.captions.text(turn) if turn is not None else ""

    def _rewind(self) -> None:
        """Speech after silence starts at the next frame, not after the ``lead_s`` of idle
        frames already made: those have not been shown yet, so they are made again."""
        if not self.clock.running:
            return
        fps = self.generator.fps
        frame = math.ceil((self.clock.now() + REWIND_MARGIN_S) * fps)
        if frame >= self.generator.frame:
            return
        time_s = frame / fps
        self.generator.rewind(frame)
        self.audio_out.rewind(round(time_s * AUDIO_RATE))
        self._resample = StreamResampler(AUDIO_RATE, np.int16)
        self._cut(time_s - 1e-6)
        while self._due and self._due[-1][0] >= time_s:
            self._due.pop()
        self._will_play = self._playing
        self.stats.rewinds += 1
        self._poke.set()

    def _cut(self, after_s: float) -> None:
        """Forget the frames due after ``after_s``: those queued for the video now, and the one
        the worker may be drawing (it lands after this; sent too, its time would come twice or
        out of order, and the client would decode what follows against a frame it never got)."""
        if self.video_out is not None:
            self.video_out.drop_after(after_s)
        self._cuts += 1
        self._cut_after = after_s

    def set_listening(self, listening: bool) -> None:
        """The user is speaking: the face listens."""
        self.generator.set_listening(listening)

    @property
    def playing(self) -> bool:
        """Whether the character's voice is audible now."""
        return self.audio_out.playing

    @property
    def pushed_samples(self) -> int:
        """Samples of speech queued so far, on the generator's clock (its ``played_samples``
        reaches this once all of it played; :meth:`interrupt` drops what had not)."""
        return self._pushed

    @property
    def busy(self) -> bool:
        """Whether an answer is queued or playing."""
        return bool(self._answers)

    # -- the pump -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Produce frames until cancelled (starts with the media clock)."""
        await self.clock.started.wait()
        loop = asyncio.get_running_loop()
        try:
            while True:
                step = self.generator.advance()
                self.stats.frames += 1
                self._audio(step)
                self._played(step)
                if self._draw_need:
                    if self._busy:
                        self.stats.dropped += 1
                    else:
                        self._busy = True
                        job = loop.run_in_executor(self._worker, self._draw, step)
                        job.add_done_callback(functools.partial(self._drawn, self._cuts))
                if self.recorder is not None:
                    self.recorder.advance(self.clock.now())
                await self._wait(self.generator.pts / step.sample_rate - self.lead_s)
        finally:
            self._worker.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """After :meth:`run`: wait for the worker. Blocking."""
        self._worker.shutdown(wait=True, cancel_futures=True)

    async def _wait(self, media_s: float) -> None:
        """Sleep until ``media_s``, running due callbacks on time on the way; a rewind (speech
        arriving while idle) wakes it at once."""
        self._poke.clear()
        while self._due and self._due[0][0] <= media_s:
            due = self._due[0]
            if not await self._sleep(due[0]):
                return
            if self._due and self._due[0] is due:  # not dropped by a barge-in meanwhile
                self._due.popleft()
                due[1]()
        await self._sleep(media_s)

    async def _sleep(self, media_s: float) -> bool:
        """Sleep until ``media_s``; False if poked first."""
        delay = media_s - self.clock.now()
        if delay <= 0:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._poke.wait(), delay)
            return False
        return True

    @property
    def _samples_per_frame(self) -> float:
        return self.generator.sample_rate / self.generator.fps

    def _audio(self, step: FrameStep) -> None:
        pcm = self._resample(step.audio, step.sample_rate)
        assert pcm.dtype == np.int16
        position = self.audio_out.write_pos
        self.audio_out.write(pcm, voiced=step.state == AnimatorState.SPEAKING)  # type: ignore[arg-type]
        if self.recorder is not None:
            self.recorder.voice(pcm, position)  # type: ignore[arg-type]

    def _played(self, step: FrameStep) -> None:
        """Schedule what happens when this step plays: words, playing on/off, answers done."""
        speaking = step.state == AnimatorState.SPEAKING
        words = self.captions.advance(self.generator.played_samples)
        if words or speaking != self._will_play:
            self._will_play = speaking
            self._due.append((step.time, lambda: self._release(words, speaking)))
        if step.segment_ended and self._answers:
            turn = self._answers.popleft().turn
            end = (step.pts + self._samples_per_frame) / step.sample_rate
            self._due.append((end, lambda: self.on_answer_played(turn)))

    def _release(self, words: list[tuple[int, str]], speaking: bool) -> None:
        if speaking:
            self._set_playing(True)  # "speaking" before its first words
        for turn, word in words:
            self.on_words(turn, self.captions.say(turn, word))
        self._set_playing(speaking)

    def _set_playing(self, playing: bool) -> None:
        if playing != self._playing:
            self._playing = playing
            self.on_playing(playing)

    def _answer(self, turn: int) -> _Answer:
        for answer in self._answers:
            if answer.turn == turn and answer.end is None:
                return answer
        answer = _Answer(turn)
        self._answers.append(answer)
        return answer

    # -- the worker thread --------------------------------------------------------------------

    def _draw(self, step: FrameStep) -> _Drawn:
        started = time.perf_counter()
        frame = self.generator.draw(step)
        yuv = to_yuv(frame.image)
        return _Drawn(step.time, yuv, time.perf_counter() - started)

    def _drawn(self, cuts: int, job: asyncio.Future[_Drawn]) -> None:
        self._busy = False
        if job.cancelled():
            return
        error = job.exception()
        if error is not None:
            log.error("drawing a frame failed", exc_info=error)
            return
        drawn = job.result()
        if cuts != self._cuts and drawn.time_s > self._cut_after:
            self.stats.stale += 1
            return
        self.stats.rendered += 1
        self.stats.render_s.append(drawn.took_s)
        if len(self.stats.render_s) > 250:
            del self.stats.render_s[:-250]
        if self.video_out is not None:
            self.video_out.put(VideoFrameIn(drawn.yuv, drawn.time_s))
        if self.recorder is not None:
            self.recorder.video(drawn.yuv, drawn.time_s)


@dataclass(frozen=True, slots=True)
class _Drawn:
    time_s: float
    yuv: av.VideoFrame
    took_s: float
