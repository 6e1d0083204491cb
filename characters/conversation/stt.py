"""Speech to text: faster-whisper on short windows, and incremental transcription of a turn.

Whisper is trained on 30 s windows, and faster-whisper always encodes one, so a 2 s utterance
costs as much as a 30 s one (0.4–1 s on 2 cores). CTranslate2's encoder also accepts fewer
frames: :meth:`SpeechRecognizer.transcribe` encodes only the speech, with 0.2 s of silence before
and at least 0.5 s after, rounded up to whole seconds (2 s at least), which is 5–10× faster on
utterances of a few seconds (figures in ``docs/turn-taking.md``). Audio longer than 30 s takes
faster-whisper's normal path.

Short windows make Whisper loop ("Thank you. Thank you. ...") or invent text on silence, so the
decoder runs with timestamps and only segments that start inside the real audio are kept,
repeated segments are dropped, the output length is capped by the audio length, and a result
that Whisper itself marks as "no speech" (or a known hallucination on near-silence) is empty.

:class:`IncrementalTranscriber` transcribes a turn while the user is still speaking: the listener
commits the audio up to each pause, so at the end of the turn only the last phrase (often
nothing) is left to decode. It takes any :class:`Recognizer`: Whisper here, or Moonshine
(:mod:`characters.conversation.moonshine`); :func:`load_recognizer` builds the one the
``stt_model`` setting names.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from characters.conversation.vad import SAMPLE_RATE
from characters.errors import InvalidInput
from characters.pcm import as_float32

if TYPE_CHECKING:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]
    from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

_LEAD_S = 0.2
_MIN_TAIL_S = 0.5
_MIN_WINDOW_S = 2
_MAX_WINDOW_S = 30
_HOP = 160
_PROMPT_TOKENS = 100
_NO_SPEECH = 0.6
"""Whisper's own rule: no-speech probability above this and a mean log-probability below
``_LOW_LOGPROB`` means the window holds no speech."""
_LOW_LOGPROB = -1.0
_HALLUCINATION_NO_SPEECH = 0.8
"""No-speech probability above which a known hallucination is dropped (on silence and noise
Whisper says 0.95–0.99; real short words such as "Thank you." 0.25–0.6)."""
_SILENT_PEAK = 0.01
"""Peak amplitude under which audio is "near silence" (about -40 dBFS)."""
HALLUCINATIONS = frozenset(
    {"you", "thank you", "thanks for watching", "thank you for watching", "so", "and", "i",
     "bye", "okay", "oh", "the", "uh", "um", "hmm"}
)  # fmt: skip
"""Texts Whisper produces on silence and noise; dropped when the audio is near silence or
Whisper doubts there is speech."""


class Recognizer(Protocol):
    """What the listener needs from a speech recognizer (Whisper or Moonshine)."""

    def transcribe(self, audio: npt.NDArray[np.generic], prompt: str = "") -> str:
        """The text of 16 kHz mono audio, empty when it holds no speech. ``prompt``: the text
        said just before, for models that take context."""
        ...


def load_recognizer(model_id: str, models_dir: Path, cpu_threads: int = 2) -> Recognizer:
    """The recognizer of the registry model ``model_id`` (the ``stt_model`` setting)."""
    from characters.models import get_model, resolve

    if get_model(model_id).kind != "stt":
        raise InvalidInput(f"{model_id!r} is not a speech recognition model")
    path = resolve(model_id, models_dir)
    if model_id.startswith("moonshine-"):
        from characters.conversation.moonshine import MoonshineRecognizer

        return MoonshineRecognizer(path, cpu_threads=cpu_threads)
    return SpeechRecognizer(path, cpu_threads=cpu_threads)


@dataclass(frozen=True, slots=True)
class _Decoded:
    text: str
    no_speech_prob: float
    avg_logprob: float


def normalise_text(text: str) -> str:
    """Lower case, letters, apostrophes and spaces only (to compare transcripts)."""
    return re.sub(r"[^a-z' ]+", "", text.lower()).strip()


class SpeechRecognizer:
    """faster-whisper (English, greedy) with the short-window encoder trick. Thread-safe: one
    lock around the model."""

    def __init__(self, model_dir: Path, cpu_threads: int = 2, compute_type: str = "int8") -> None:
        if not (model_dir / "model.bin").is_file():
            raise InvalidInput(f"Whisper model not found (no model.bin): {model_dir}")
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self.model: WhisperModel = WhisperModel(
            str(model_dir), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads
        )
        self._tokenizer: Tokenizer = Tokenizer(
            self.model.hf_tokenizer,
            self.model.model.is_multilingual,
            task="transcribe",
            language="en",
        )
        self._lock = threading.Lock()

    def transcribe(self, audio: npt.NDArray[np.generic], prompt: str = "") -> str:
        """The text of 16 kHz mono audio (empty when it holds no speech).

        ``prompt``: text said just before (e.g. the earlier part of the turn), for context.
        """
        x = as_float32(audio)
        if len(x) < SAMPLE_RATE // 10 or float(np.abs(x).max(initial=0.0)) < 1e-4:
            return ""
        if len(x) / SAMPLE_RATE + _LEAD_S + _MIN_TAIL_S > _MAX_WINDOW_S:
            return self._transcribe_long(x, prompt)
        decoded = self._decode_window(x, prompt)
        if decoded.no_speech_prob > _NO_SPEECH and decoded.avg_logprob < _LOW_LOGPROB:
            return ""
        if normalise_text(decoded.text) in HALLUCINATIONS:
            near_silence = float(np.abs(x).max()) < _SILENT_PEAK
            if near_silence or decoded.no_speech_prob > _HALLUCINATION_NO_SPEECH:
                return ""
        return decoded.text

    def _transcribe_long(self, x: npt.NDArray[np.float32], prompt: str) -> str:
        with self._lock:
            segments, _info = self.model.transcribe(
                x,
                language="en",
                beam_size=1,
                without_timestamps=True,
                initial_prompt=prompt or None,
            )
            return " ".join(s.text.strip() for s in segments).strip()

    def _prefix(self, prompt: str) -> list[int]:
        tok = self._tokenizer
        prefix: list[int] = []
        if prompt.strip():
            prefix = [tok.sot_prev, *tok.encode(" " + prompt.strip())[-_PROMPT_TOKENS:]]
        return prefix + list(tok.sot_sequence)

    def _decode_window(self, x: npt.NDArray[np.float32], prompt: str) -> _Decoded:
        import ctranslate2  # type: ignore[import-untyped]

        lead = int(_LEAD_S * SAMPLE_RATE)
        speech_end_s = _LEAD_S + len(x) / SAMPLE_RATE
        seconds = max(_MIN_WINDOW_S, int(np.ceil(speech_end_s + _MIN_TAIL_S)))
        window = np.zeros(seconds * SAMPLE_RATE, dtype=np.float32)
        window[lead : lead + len(x)] = x
        prefix = self._prefix(prompt)
        max_length = len(prefix) + 12 + int(8 * len(x) / SAMPLE_RATE)
        with self._lock:
            feats = self.model.feature_extractor(window, padding=0)[:, : len(window) // _HOP]
            features = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[None]))
            encoded = self.model.model.encode(features, to_cpu=False)
            result = self.model.model.generate(
                encoded,
                [prefix],
                beam_size=1,
                max_length=max_length,
                return_scores=True,
                return_no_speech_prob=True,
                max_initial_timestamp_index=50,
            )[0]
        ids = result.sequences_ids[0]
        text = self._segments_text(ids, speech_end_s)
        return _Decoded(text, float(result.no_speech_prob), float(result.scores[0]))

    def _segments_text(self, ids: list[int], speech_end_s: float) -> str:
        """The text of the timestamped segments that start inside the audio, without loops."""
        tok = self._tokenizer
        texts: list[str] = []
        start = 0.0
        current: list[int] = []
        for t in [*ids, tok.timestamp_begin]:  # a final timestamp closes the last segment
            if t < tok.timestamp_begin:
                if t < tok.eot:
                    current.append(t)
            elif current:  # the end of a segment
                if start < speech_end_s - 0.1:
                    texts.append(tok.decode(current).strip())
                current = []
            else:  # the start of the next one
                start = (t - tok.timestamp_begin) * 0.02
        return drop_loops(texts)


def drop_loops(segments: list[str]) -> str:
    """Join Whisper segments, cutting the loops short windows cause.

    A segment that repeats the start of the text so far ends the text; a sentence equal to the
    one before it, and a word or phrase said three times or more in a row, are said once; a
    last sentence that is the start of an earlier one (the loop beginning again) goes.
    """
    kept: list[str] = []
    for segment in segments:
        norm = normalise_text(segment)
        if not norm:
            continue
        so_far = " ".join(normalise_text(k) for k in kept)
        if kept and (so_far.startswith(norm) or (len(norm.split()) >= 2 and norm in so_far)):
            break
        kept.append(segment)
    sentences: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(kept)):
        if sentence and (
            not sentences or normalise_text(sentences[-1]) != normalise_text(sentence)
        ):
            sentences.append(sentence)
    if len(sentences) > 1 and len(sentences[-1].split()) >= 2:
        # The window ran out while the loop began again: "… next Friday. A cleaning for next"
        last = normalise_text(sentences[-1])
        if any(normalise_text(earlier).startswith(last) for earlier in sentences[:-1]):
            sentences.pop()
    return _said_once(" ".join(sentences))


_REPEATS = (
    re.compile(r"\b((?:[\w']+[,.?!]?\s+){0,3}[\w']+)(?:[,.?!]?\s+\1\b){2,}", re.I),
    re.compile(r"\b((?:[\w']+[,.?!]?\s+){3,9}[\w']+)(?:[,.?!]?\s+\1\b)+", re.I),
)


def _said_once(text: str) -> str:
    """A word or a phrase of up to four words said three times or more in a row, or a phrase
    of four words or more said twice in a row, is said once; a cut-off repeat at the very end
    goes too ("Do cleanings Do cleanings Do cleanings Do clean" → "Do cleanings")."""
    for pattern in _REPEATS:
        match = pattern.search(text)
        if match is None:
            continue
        phrase, rest = match.group(1), text[match.end() :]
        if rest.strip() and normalise_text(phrase).startswith(normalise_text(rest)):
            rest = ""
        return _said_once(text[: match.start()] + phrase + rest)
    return text


class IncrementalTranscriber:
    """The transcript of one user turn, decoded piece by piece while the turn goes on.

    The caller appends the turn's audio (16 kHz) as it arrives and calls :meth:`commit` at each
    pause: the audio up to there is transcribed once and never again. :meth:`hypothesize` decodes
    the uncommitted tail for captions (and, past ``max_tail_s`` of pause-free speech, commits
    up to its quietest 100 ms so the tail stays short). :meth:`final` decodes only what is left.
    The committed text is given to Whisper as the prompt of the next piece. Thread-safe.
    """

    def __init__(self, stt: Recognizer, *, max_tail_s: float = 8.0) -> None:
        self.stt = stt
        self.max_tail_s = max_tail_s
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Start a new turn."""
        with self._lock:
            self._chunks: list[npt.NDArray[np.float32]] = []
            self._audio = np.zeros(0, dtype=np.float32)
            self._committed_at = 0
            self._committed: list[str] = []
            self._tail_text = ""
            self._tail_upto = 0
            self.decode_s = 0.0
            """Seconds spent decoding in this turn so far."""
            self.last_decode_s = 0.0

    @property
    def samples(self) -> int:
        """Samples of the turn received so far."""
        with self._lock:
            return len(self._audio) + sum(len(c) for c in self._chunks)

    @property
    def committed_samples(self) -> int:
        """Samples whose text is final."""
        return self._committed_at

    def audio(self) -> npt.NDArray[np.float32]:
        """The turn's audio so far (16 kHz)."""
        with self._lock:
            return self._gather()

    def append(self, audio: npt.NDArray[np.generic]) -> None:
        """Add audio (16 kHz mono) to the turn. Cheap: nothing is decoded."""
        with self._lock:
            self._chunks.append(as_float32(audio).copy())

    def commit(self, upto: int | None = None, *, reuse_tail: bool = False) -> str:
        """Transcribe the turn up to sample ``upto`` (default: all) for good; the partial text.

        ``reuse_tail``: the audio after the last :meth:`hypothesize` is known to be silence (the
        caller is in a pause), so that hypothesis is committed as it is, with no new decode."""
        with self._lock:
            audio = self._gather()
            end = len(audio) if upto is None else min(upto, len(audio))
            if end > self._committed_at:
                reuse = reuse_tail and self._tail_upto > self._committed_at
                text = self._tail_text if reuse else self._decode(audio[self._committed_at : end])
                if text:
                    self._committed.append(text)
                self._committed_at = end
                self._tail_text, self._tail_upto = "", end
            return self.partial()

    def skip(self, upto: int) -> None:
        """The audio from the last commit up to sample ``upto`` holds no speech (a pause the
        caller has seen): it is never decoded. Whisper places a window's first words within
        its first second, so a long pause left at the start of the next piece loses them."""
        with self._lock:
            if upto > self._committed_at:
                self._committed_at = upto
                self._tail_text, self._tail_upto = "", upto

    def hypothesize(self) -> str:
        """Decode the uncommitted tail (without committing it) and return the partial text."""
        with self._lock:
            audio = self._gather()
            if (len(audio) - self._committed_at) / SAMPLE_RATE > self.max_tail_s:
                self.commit(_quietest_point(audio, self._committed_at))
            if len(audio) > max(self._committed_at, self._tail_upto):
                self._tail_text = self._decode(audio[self._committed_at :])
                self._tail_upto = len(audio)
            return self.partial()

    def partial(self) -> str:
        """The latest hypothesis: committed text plus the last decoded tail."""
        with self._lock:
            return " ".join([*self._committed, self._tail_text]).strip()

    def final(self, upto: int | None = None) -> str:
        """The transcript of the whole turn (up to ``upto``); decodes only the uncommitted tail."""
        with self._lock:
            self.commit(upto)
            return " ".join(self._committed)

    def _gather(self) -> npt.NDArray[np.float32]:
        if self._chunks:
            self._audio = np.concatenate([self._audio, *self._chunks])
            self._chunks = []
        return self._audio

    def _decode(self, audio: npt.NDArray[np.float32]) -> str:
        started = time.perf_counter()
        prompt = " ".join(self._committed)[-400:]
        text = self.stt.transcribe(audio, prompt=prompt)
        repeated = bool(text) and normalise_text(prompt).endswith(normalise_text(text))
        if (not text or repeated) and prompt and float(np.abs(audio).max()) > _RETRY_PEAK:
            # Whisper sometimes gives up on real speech that does not follow from the prompt,
            # or says the prompt again ("Is there parking" ⏸ "near the building?" → "" or
            # "Is there parking."): once more without it.
            text = self.stt.transcribe(audio)
        self.last_decode_s = time.perf_counter() - started
        self.decode_s += self.last_decode_s
        return text


_RETRY_PEAK = 0.05
"""Peak (−26 dBFS) above which an empty decode after a prompt is retried without it."""


def _quietest_point(audio: npt.NDArray[np.float32], start: int) -> int:
    """The centre of the quietest 100 ms in the last 3 s of ``audio[start:]`` (a cut point)."""
    win = SAMPLE_RATE // 10
    lo = max(start, len(audio) - 3 * SAMPLE_RATE)
    seg = audio[lo:]
    if len(seg) < 2 * win:
        return len(audio)
    energy = np.convolve(seg.astype(np.float64) ** 2, np.ones(win), mode="valid")
    return lo + int(np.argmin(energy)) + win // 2
