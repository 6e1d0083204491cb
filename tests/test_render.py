"""Offline rendering: TTS (Piper), audio decoding, ``render_video`` and ``characters render``.

Every MP4 is opened again with PyAV and checked: H.264 + AAC, the frame rate, the length
(speech plus 0.32 s of idle face on each side) and, by cross-correlating the decoded soundtrack
with the speech that went in, that the speech sits exactly where the video says it does.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.signal import correlate, resample_poly  # type: ignore[import-untyped]

from characters.cli import main as cli
from characters.errors import InvalidInput
from characters.face.generator import PhonemeTiming
from characters.render import UnreadableAudio, decode_audio, render_video
from characters.render.audio import sniff_format
from characters.render.video import SETUP_SHARE
from characters.voices.presets import PRESET_IDS
from characters.voices.tts import SpeechChunk
from tests.face_assets import (
    cartoon_keypoints,
    cartoon_rgb,
    espeak_available,
    hopper_bytes,
    no_face_rgb,
    png,
    speak,
)

ROOT = Path(__file__).resolve().parent.parent
IDLE_FRAMES = 8  # round(0.3 s * 25 fps)
Speech = tuple[np.ndarray, int, list[PhonemeTiming]]
needs_espeak = pytest.mark.skipif(
    not espeak_available(), reason="needs espeak-ng (apt-get install espeak-ng)"
)


@dataclass
class Mp4:
    vcodec: str
    acodec: str
    pix_fmt: str
    fps: Fraction
    width: int
    height: int
    frames: int
    sample_rate: int
    audio: np.ndarray  # decoded mono float
    container_s: float
    video_stream_s: float
    audio_stream_s: float

    @property
    def video_s(self) -> float:
        return self.frames / float(self.fps)

    @property
    def audio_s(self) -> float:
        return len(self.audio) / self.sample_rate


def read_mp4(source: Path | bytes) -> Mp4:
    """Open an MP4 and decode every frame and sample."""

    def opened() -> Any:
        return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))

    with opened() as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        facts = {
            "vcodec": v.codec_context.name,
            "acodec": a.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "fps": v.average_rate,
            "width": v.codec_context.width,
            "height": v.codec_context.height,
            "sample_rate": a.codec_context.sample_rate,
            "container_s": c.duration / 1e6,
            "video_stream_s": float(v.duration * v.time_base),
            "audio_stream_s": float(a.duration * a.time_base),
        }
        frames = sum(1 for _ in c.decode(v))
    with opened() as c:
        audio = np.concatenate(
            [f.to_ndarray().mean(axis=0) for f in c.decode(c.streams.audio[0])]
        ).astype(np.float32)
    return Mp4(frames=frames, audio=audio, **facts)


def speech_offset_s(decoded: np.ndarray, speech: np.ndarray, rate: int) -> float:
    """Where ``speech`` starts in ``decoded`` (seconds), by cross-correlation."""
    ref = speech.astype(np.float32) / 32768.0
    corr = correlate(decoded, ref, mode="valid", method="fft")
    return int(np.argmax(corr)) / rate


def check_av(mp4: Mp4, speech_s: float, *, fps: float = 25.0) -> None:
    assert (mp4.vcodec, mp4.acodec, mp4.pix_fmt) == ("h264", "aac", "yuv420p")
    assert float(mp4.fps) == pytest.approx(fps)
    idle = 2 * round(0.3 * fps) / fps
    # Speech plus the idle face before and after it, and at most one frame more.
    assert speech_s + idle - 1e-6 <= mp4.video_s <= speech_s + idle + 1 / fps + 1e-6
    assert mp4.video_stream_s == pytest.approx(mp4.video_s, abs=1e-3)
    # Both streams end together (the MP4's edit list trims the AAC padding for players) ...
    assert mp4.audio_stream_s == pytest.approx(mp4.video_s, abs=1e-3)
    assert mp4.container_s == pytest.approx(mp4.video_s, abs=1e-3)
    # ... which a plain decode still returns: at most one AAC frame (1024 samples) of it.
    assert 0 <= mp4.audio_s - mp4.video_s <= 1024 / mp4.sample_rate + 1e-6


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    """int16 samples, shape (n,) or (n, channels)."""
    pcm = pcm.reshape(len(pcm), -1).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


@pytest.fixture(scope="module")
def espeak_speech() -> Speech:
    if not espeak_available():
        pytest.skip("needs espeak-ng (apt-get install espeak-ng)")
    return speak("Hello there, nice to meet you.")


# Text to speech


@pytest.mark.slow
def test_piper_speaks_with_phoneme_timings_on_the_sample_clock() -> None:
    from characters.voices import tts
    from characters.voices.piper import PIPER

    assert set(tts.ENGINE_VOICES) == set(PRESET_IDS)
    assert {v.engine for v in tts.ENGINE_VOICES.values()} <= {"hibari", "piper", "kokoro"}
    loaded: list[object] = []
    threads = [threading.Thread(target=lambda: loaded.append(PIPER.load("joe"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(v) for v in loaded}) == 1  # loaded once, shared
    chunks = list(tts.synthesize("Hello there. How are you today?", "vincent"))
    assert len(chunks) == 2  # one per sentence
    for chunk in chunks:
        assert chunk.sample_rate == 22_050 and chunk.pcm.dtype == np.int16
        assert chunk.phonemes and sum(p.num_samples for p in chunk.phonemes) == len(chunk.pcm)
        assert np.abs(chunk.pcm).max() > 3000
    total = sum(c.duration_s for c in chunks)
    assert 1.0 < total < 4.0
    # Presets differ in pace (Piper's timing is a little random: compare two runs each).
    text = "How are you today? I hope the weather is nice where you are, and the trip went well."

    def pace(preset: str) -> float:
        return sum(c.duration_s for _ in range(2) for c in tts.synthesize(text, preset))

    assert pace("roman") > 1.04 * pace("felix")  # Piper length_scale 1.15 vs 0.92
    with pytest.raises(tts.UnknownVoice, match="choose one of"):
        tts.engine_voice("nobody")
    # Several threads at once (espeak-ng phonemization takes turns).
    results: list[list[SpeechChunk]] = []
    texts = ["One two three.", "Four five six seven.", "Eight nine."]
    workers = [
        threading.Thread(target=lambda t=t: results.append(list(tts.synthesize(t, "nathan"))))
        for t in texts
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 3
    for chunks in results:
        assert len(chunks) == 1 and chunks[0].phonemes
        assert sum(p.num_samples for p in chunks[0].phonemes) == len(chunks[0].pcm)


# Audio decoding


@pytest.mark.parametrize(
    ("rate", "channels", "expected"),
    [(22_050, 1, 22_050), (44_100, 2, 44_100), (8_000, 1, 16_000), (96_000, 2, 48_000)],
)
def test_decode_audio_downmixes_and_picks_a_rate(
    tmp_path: Path, rate: int, channels: int, expected: int
) -> None:
    t = np.arange(rate) / rate  # 1 s
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    pcm = np.stack([tone] * channels, axis=1)
    write_wav(tmp_path / "a.wav", pcm, rate)
    chunk = decode_audio(tmp_path / "a.wav")
    assert chunk.sample_rate == expected and chunk.pcm.dtype == np.int16 and chunk.pcm.ndim == 1
    assert chunk.duration_s == pytest.approx(1.0, abs=0.005)
    assert np.abs(chunk.pcm).max() > 10_000


def test_decode_audio_rejects_what_it_cannot_use(tmp_path: Path) -> None:
    write_wav(tmp_path / "ok.wav", np.zeros(16_000 * 3, np.int16), 16_000)
    wav = (tmp_path / "ok.wav").read_bytes()
    cases = {
        b"": "is empty",
        b"hello, this is not audio at all": "not in a supported format",
        # An HLS playlist is never handed to FFmpeg's probing (it could open other URLs).
        b"#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1/x.wav\n": "not in a supported format",
        wav[:44]: "no audio samples",  # a header and nothing else
        b"RIFF\xff\xff\xff\xffWAVEfmt " + b"\xff" * 40: r"could not be decoded \(Invalid data",
    }
    for data, message in cases.items():
        with pytest.raises(UnreadableAudio, match=message):
            decode_audio(data)
    with pytest.raises(UnreadableAudio, match="longer than 2 s"):
        decode_audio(wav, max_seconds=2)
    assert sniff_format(wav[:16]) == "wav"


# render_video in-process


@needs_espeak
def test_render_video_keeps_speech_and_lips_on_one_clock(espeak_speech: Speech) -> None:
    pcm, rate, phonemes = espeak_speech
    seen: list[float] = []
    buf = io.BytesIO()
    result = render_video(
        hopper_bytes(), [SpeechChunk(pcm, rate, tuple(phonemes))], buf, progress=seen.append
    )
    assert seen[0] == SETUP_SHARE and seen[-1] == 1.0 and seen == sorted(seen)
    assert len(seen) == result.frames + 2
    mp4 = read_mp4(buf.getvalue())
    check_av(mp4, len(pcm) / rate)
    assert mp4.sample_rate == rate and result.sample_rate == rate
    assert (mp4.width, mp4.height) == (result.width, result.height) == (704, 1088)
    assert mp4.frames == result.frames
    # The speech starts exactly after the idle frames, to within a millisecond.
    offset = speech_offset_s(mp4.audio, pcm, rate)
    assert offset == pytest.approx(IDLE_FRAMES / 25, abs=0.001)
    assert np.abs(mp4.audio[: int(0.3 * rate)]).max() < 0.01  # silence while idle


@needs_espeak
def test_render_video_stops_when_progress_raises(espeak_speech: Speech, tmp_path: Path) -> None:
    pcm, rate, _ = espeak_speech

    class Stop(Exception):
        pass

    def progress(fraction: float) -> None:
        if fraction > 0.5:
            raise Stop

    with pytest.raises(Stop):
        render_video(
            hopper_bytes(), [SpeechChunk(pcm, rate)], tmp_path / "x.mp4", progress=progress
        )
    with pytest.raises(InvalidInput, match="empty"):
        render_video(hopper_bytes(), [SpeechChunk(np.zeros(0, np.int16), rate)], io.BytesIO())


# The CLI


@pytest.mark.slow
def test_cli_render_text(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it: Piper speech, progress on stderr."""
    out = tmp_path / "hello.mp4"
    image = tmp_path / "grace.jpg"
    image.write_bytes(hopper_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "characters", "render", "--image", str(image)]
        + ["--text", "Hello there. Nice to meet you!", "--voice", "vincent", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert "rendering 100%" in proc.stderr
    m = re.search(r"wrote .*: ([\d.]+) s of video \(([\d.]+) s of speech\)", proc.stderr)
    assert m, proc.stderr
    mp4 = read_mp4(out)
    check_av(mp4, float(m.group(2)))
    assert mp4.video_s == pytest.approx(float(m.group(1)), abs=0.01)
    assert mp4.sample_rate == 22_050
    assert np.abs(mp4.audio[: int(0.3 * 22_050)]).max() < 0.01
    assert np.abs(mp4.audio).max() > 0.1
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed


@needs_espeak
@pytest.mark.slow
def test_cli_render_audio_resamples_any_wav(tmp_path: Path, espeak_speech: Speech) -> None:
    pcm, rate, _ = espeak_speech
    # 44.1 kHz stereo (a recording), with the right channel quieter.
    up = np.clip(resample_poly(pcm.astype(np.float64), 2, 1), -32768, 32767).astype(np.int16)
    write_wav(tmp_path / "speech.wav", np.stack([up, up // 2], axis=1), 2 * rate)
    image = tmp_path / "grace.jpg"
    image.write_bytes(hopper_bytes())
    out = tmp_path / "out.mp4"
    args = ["render", "-i", str(image), "--audio", str(tmp_path / "speech.wav"), "-o", str(out)]
    result = CliRunner().invoke(cli, [*args, "--fps", "30", "--orientation", "landscape"])
    assert result.exit_code == 0, result.output
    mp4 = read_mp4(out)
    check_av(mp4, len(up) / (2 * rate), fps=30)
    assert mp4.sample_rate == 2 * rate and (mp4.width, mp4.height) == (1088, 704)
    offset = speech_offset_s(mp4.audio, up, 2 * rate)
    assert offset == pytest.approx(round(0.3 * 30) / 30, abs=0.001)


@needs_espeak
@pytest.mark.slow
def test_cli_render_cartoon_with_keypoints(tmp_path: Path, espeak_speech: Speech) -> None:
    pcm, rate, _ = espeak_speech
    write_wav(tmp_path / "s.wav", pcm[: rate // 2], rate)
    (tmp_path / "cartoon.png").write_bytes(png(cartoon_rgb()))
    (tmp_path / "points.json").write_text(json.dumps(cartoon_keypoints()))
    out = tmp_path / "cartoon.mp4"
    args = ["render", "-q", "-i", str(tmp_path / "cartoon.png"), "-a", str(tmp_path / "s.wav")]
    args += ["--keypoints", str(tmp_path / "points.json"), "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # --quiet
    check_av(read_mp4(out), (rate // 2) / rate)


def run_cli_error(*args: str) -> str:
    result = CliRunner().invoke(cli, ["render", "-q", *args])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_cli_render_errors_are_one_clear_line(tmp_path: Path) -> None:
    face = tmp_path / "face.png"
    face.write_bytes(png(no_face_rgb()))
    out = str(tmp_path / "o.mp4")
    (tmp_path / "noise.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    assert "unknown voice 'nobody'" in run_cli_error(
        "-i", str(face), "-t", "Hi", "-v", "nobody", "-o", out
    )
    assert "either --text or --audio" in run_cli_error("-i", str(face), "-o", out)
    assert "does not exist" in run_cli_error("-i", str(tmp_path / "x.png"), "-t", "Hi", "-o", out)
    msg = run_cli_error("-i", str(face), "-a", str(tmp_path / "noise.wav"), "-o", out)
    assert "noise.wav could not be decoded" in msg
    assert "--voice applies to --text only" in run_cli_error(
        "-i", str(face), "-a", str(tmp_path / "noise.wav"), "-v", "clara", "-o", out
    )
    (tmp_path / "bad.json").write_text("{not json")
    assert "not valid JSON" in run_cli_error(
        "-i", str(face), "-t", "Hi", "-k", str(tmp_path / "bad.json"), "-o", out
    )
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.slow
def test_cli_render_no_face_points_to_keypoints(tmp_path: Path) -> None:
    face = tmp_path / "coffee.png"
    face.write_bytes(png(no_face_rgb()))
    msg = run_cli_error("-i", str(face), "-t", "Hello", "-o", str(tmp_path / "o.mp4"))
    assert msg.startswith(f"error: no face was found in {face}") and "--keypoints" in msg
    (tmp_path / "points.json").write_text(json.dumps({"leftEye": {"center": [1, 2]}}))
    msg = run_cli_error(
        "-i",
        str(face),
        "-t",
        "Hello",
        "-k",
        str(tmp_path / "points.json"),
        "-o",
        str(tmp_path / "o.mp4"),
    )
    assert msg.startswith(f"error: {tmp_path / 'points.json'}: ")


def test_cli_render_help_lists_every_option() -> None:
    result = CliRunner().invoke(cli, ["render", "--help"])
    assert result.exit_code == 0
    for option in ("--image", "--text", "--audio", "--voice", "--keypoints", "--fps"):
        assert option in result.output
    assert "--orientation [auto|landscape|portrait]" in result.output
    assert "vincent" in result.output and "Examples:" in result.output
