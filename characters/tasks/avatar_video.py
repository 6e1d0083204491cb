"""The avatar video job: what ``POST /v1/avatar_videos`` asks for, and doing it.

:class:`AvatarVideoJob` holds everything the render needs (read from the database and blob
store by the runner); :func:`run_job` does the CPU work in a worker thread: speech (Piper for
text, decoding for audio), then :func:`characters.render.render_video` into MP4 bytes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from characters.avatars.face_inputs import analysis_matches
from characters.errors import InvalidInput
from characters.face.analysis import decode_image
from characters.render.audio import decode_audio
from characters.render.video import RenderResult, render_video
from characters.store import credits
from characters.voices.tts import SpeechChunk, estimate_duration_s, synthesize

KIND = "avatar_video"
TEXT_MODEL = "gwm1_avatar_async_text_to_video"
AUDIO_MODEL = "gwm1_avatar_async_audio_to_video"
SPEECH_SHARE = 0.1
"""Progress reported once the speech is ready (text to speech, or decoding)."""


class JobCancelled(Exception):
    """Raised inside the worker thread when the task was cancelled or the server stops."""


@dataclass(frozen=True, slots=True)
class AvatarVideoJob:
    image: bytes
    """The avatar's processed reference image."""
    face: dict[str, Any] | None
    """The avatar's stored face analysis (used when it matches the image)."""
    keypoints: dict[str, Any] | None
    text: str | None
    voice: str | None
    """Preset voice id for ``text``."""
    audio: bytes | None
    max_speech_s: float


def credits_for(seconds: float, unit_s: int, per_unit: int) -> int:
    """Credits for ``seconds`` of speech: as sessions, but never less than one unit."""
    return credits.credits_for(seconds, unit_s, per_unit, at_least_one=True)


def estimated_speech_s(params: dict[str, Any]) -> float:
    speech = params["speech"]
    if speech["type"] == "audio":
        return float(speech["durationS"])
    return estimate_duration_s(speech["text"], speech["voice"])


def run_job(job: AvatarVideoJob, report: Callable[[float], None]) -> tuple[bytes, RenderResult]:
    """Speech, then the video. ``report`` gets the share done and may raise to stop."""
    report(0.0)
    if job.audio is not None:
        speech = [decode_audio(job.audio, max_seconds=job.max_speech_s, what="speech.audio")]
    else:
        assert job.text is not None and job.voice is not None
        speech = []
        total = 0.0
        for chunk in synthesize(job.text, job.voice):
            speech.append(chunk)
            total += chunk.duration_s
            if total > job.max_speech_s:
                raise InvalidInput(
                    f"The text takes more than {job.max_speech_s:g} s to say; shorten it.",
                    ["speech", "text"],
                )
            report(SPEECH_SHARE * min(0.99, total / max(1.0, _guess_s(job))))
    report(SPEECH_SHARE)
    image = decode_image(job.image)
    analysis = job.face if analysis_matches(job.face, image) else None
    with tempfile.TemporaryDirectory(prefix="characters-render-") as tmp:
        path = Path(tmp) / "video.mp4"
        result = render_video(
            image,
            _nonempty(speech),
            path,
            analysis=analysis,
            keypoints=job.keypoints,
            progress=lambda f: report(SPEECH_SHARE + (1 - SPEECH_SHARE) * f),
        )
        return path.read_bytes(), result


def _guess_s(job: AvatarVideoJob) -> float:
    return estimate_duration_s(job.text or "", job.voice or "")


def _nonempty(speech: list[SpeechChunk]) -> list[SpeechChunk]:
    if not any(len(c.pcm) for c in speech):
        raise InvalidInput("The speech is empty: there is nothing to say.", ["speech"])
    return speech
