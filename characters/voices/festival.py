"""The Debian fallback voices: flite (slt, rms, awb, kal) and festival (US slt HTS), by subprocess.

Both are robotic next to Piper and Kokoro, but they come as Debian packages
(``apt-get install flite festival festvox-us-slt-hts``) and need no Python model. Each piece of
text (see :func:`characters.voices.text.split_for_speech`) is one process run writing a WAV, so
chunks stream per sentence. Both report their phones with end times (flite ``-psdur``,
festival's segment relation), which become the chunk's phoneme timings. Subprocesses share
nothing, so the engines are thread-safe.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from characters.voices.phones import timings_from_ends
from characters.voices.text import split_for_speech
from characters.voices.tts import EngineUnavailable, EngineVoice, SpeechChunk, UnknownVoice

TIMEOUT_S = 30.0
_PSDUR = re.compile(r"([a-z#]+):(\d+(?:\.\d+)?)")


def _read_wav(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise RuntimeError(f"{path.name}: expected 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels())[:, 0]
        return data.astype(np.int16), w.getframerate()


def _run(args: list[str], what: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise EngineUnavailable(f"{what} is not installed.", ["voice"]) from None
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr.strip()[:200]}")
    return done.stdout


class FliteEngine:
    """CMU flite with its built-in voices; pace through its ``duration_stretch`` feature."""

    name = "flite"
    RATES = {"slt": 16_000, "rms": 16_000, "awb": 16_000, "kal16": 16_000, "kal": 8_000}

    def voices(self) -> Sequence[str]:
        return tuple(self.RATES)

    def check(self, voice: EngineVoice) -> None:
        if voice.voice not in self.RATES:
            raise UnknownVoice(
                f"flite voice {voice.voice!r} does not exist; choose from {', '.join(self.RATES)}.",
                ["voice"],
            )
        if shutil.which("flite") is None:
            raise EngineUnavailable(
                "The flite binary is not installed; install it with `apt-get install flite`.",
                ["voice"],
            )

    def warm_up(self, voice: EngineVoice) -> None:
        self.check(voice)

    def sample_rate(self, voice: EngineVoice) -> int:
        return self.RATES[voice.voice]

    def synthesize(self, text: str, voice: EngineVoice) -> Iterator[SpeechChunk]:
        self.check(voice)
        with tempfile.TemporaryDirectory(prefix="flite-") as tmp:
            out = Path(tmp) / "out.wav"
            for piece in split_for_speech(text):
                stdout = _run(
                    [
                        "flite",
                        "-voice",
                        voice.voice,
                        "--setf",
                        f"duration_stretch={voice.length_scale:g}",
                        "-psdur",
                        "-t",
                        piece,
                        "-o",
                        str(out),
                    ],
                    "flite",
                )
                pcm, rate = _read_wav(out)
                if len(pcm) == 0:
                    continue
                phones = [(m[1], float(m[2])) for m in _PSDUR.finditer(stdout)]
                yield SpeechChunk(pcm, rate, timings_from_ends(phones, rate, len(pcm)))


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FestivalEngine:
    """festival with the HTS voice festvox-us-slt-hts (US female, 32 kHz)."""

    name = "festival"
    VOICES = {"slt_hts": ("voice_cmu_us_slt_arctic_hts", 32_000)}

    def voices(self) -> Sequence[str]:
        return tuple(self.VOICES)

    def check(self, voice: EngineVoice) -> None:
        if voice.voice not in self.VOICES:
            raise UnknownVoice(f"festival voice {voice.voice!r} does not exist.", ["voice"])
        if shutil.which("festival") is None:
            raise EngineUnavailable(
                "festival is not installed; install it with "
                "`apt-get install festival festvox-us-slt-hts`.",
                ["voice"],
            )
        if not any(Path("/usr/share/festival/voices").glob("*/cmu_us_slt_arctic_hts")):
            raise EngineUnavailable(
                "The festival voice slt-hts is not installed; install it with "
                "`apt-get install festvox-us-slt-hts`.",
                ["voice"],
            )

    def warm_up(self, voice: EngineVoice) -> None:
        self.check(voice)

    def sample_rate(self, voice: EngineVoice) -> int:
        return self.VOICES[voice.voice][1]

    def synthesize(self, text: str, voice: EngineVoice) -> Iterator[SpeechChunk]:
        self.check(voice)
        select = self.VOICES[voice.voice][0]
        with tempfile.TemporaryDirectory(prefix="festival-") as tmp:
            wav, segs, script = Path(tmp) / "out.wav", Path(tmp) / "out.segs", Path(tmp) / "s.scm"
            for piece in split_for_speech(text):
                script.write_text(
                    f"({select})\n"
                    f"(Parameter.set 'Duration_Stretch {voice.length_scale:g})\n"
                    f"(set! utt (Utterance Text {_scheme_string(piece)}))\n"
                    "(utt.synth utt)\n"
                    f"(utt.save.wave utt {_scheme_string(str(wav))} 'riff)\n"
                    f"(utt.save.segs utt {_scheme_string(str(segs))})\n",
                    encoding="utf-8",
                )
                _run(["festival", "--batch", str(script)], "festival")
                pcm, rate = _read_wav(wav)
                if len(pcm) == 0:
                    continue
                yield SpeechChunk(pcm, rate, timings_from_ends(_segments(segs), rate, len(pcm)))


def _segments(path: Path) -> list[tuple[str, float]]:
    """``(phone, end_s)`` from festival's ``utt.save.segs`` file (``end 100 phone`` lines)."""
    out: list[tuple[str, float]] = []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    body = lines[lines.index("#") + 1 :] if "#" in lines else lines
    for line in body:
        fields = line.split()
        if len(fields) >= 3:
            out.append((fields[2], float(fields[0])))
    return out


FLITE = FliteEngine()
"""The process-wide flite engine."""
FESTIVAL = FestivalEngine()
"""The process-wide festival engine."""
