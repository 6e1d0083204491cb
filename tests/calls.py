"""Helpers for tests of live calls: a session joined by a real WebRTC client, test speech, and
what the client received (words by speech recognition, mouth openings by the face mesh)."""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from characters.realtime.client import CallClient
from tests.conftest import Server, data_uri, face_png, wait_for

PERSONA = (
    "You are Ada, the guide of the Blue Lake Museum. Facts: the museum opens at 9 am and "
    "closes at 5 pm, every day except Monday. A ticket costs 12 dollars. The museum's most "
    "famous painting is The Green Heron."
)
START = "Hello, I'm Ada. Ask me anything about the Blue Lake Museum!"
LIVE_SETTINGS = {
    "PRELOAD_MODELS": "true",
    "SESSION_PEER_GRACE_S": "3",
    "GOODBYE_S": "7",
    "MAX_CALLS": "3",
    "LOG_LEVEL": "info",
}


def live_avatar(server: Server, key: str, *, voice: str = "vincent") -> str:
    """A READY avatar with :data:`PERSONA`; its id."""
    client = server.sdk(key, max_retries=0)
    avatar = client.avatars.create(
        name="Ada",
        personality=PERSONA,
        reference_image=data_uri(face_png((640, 480))),
        voice={"type": "runway-live-preset", "presetId": voice},
        start_script=START,
    )
    done = wait_for(lambda: (a := client.avatars.retrieve(avatar.id)).status != "PROCESSING" and a)
    assert done.status == "READY", done
    return str(avatar.id)


def models_ready(server: Server, timeout: float = 120) -> None:
    def ready() -> bool:
        state = httpx.get(server.base_url + "/healthz", timeout=5).json()["conversationModels"]
        assert state != "failed", server.log()[-3000:]
        return bool(state == "ready")

    wait_for(ready, timeout=timeout, interval=0.2)


@dataclass
class Call:
    session_id: str
    client: CallClient
    frames: list[tuple[float, np.ndarray]] = field(default_factory=list)
    """(arrival time, RGB image at half size) of every ``keep_every``-th video frame."""


def create_session(server: Server, key: str, avatar_id: str, **extra: Any) -> tuple[str, str]:
    """A READY session: (id, sessionKey)."""
    client = server.sdk(key, max_retries=0)
    session = client.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar_id}, **extra
    )
    ready = wait_for(
        lambda: (s := client.realtime_sessions.retrieve(session.id)).status != "NOT_READY" and s,
        timeout=30,
    )
    assert ready.status == "READY", ready
    return str(session.id), str(ready.session_key)


def consume(server: Server, session_id: str, session_key: str) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {session_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def open_call(
    server: Server, key: str, avatar_id: str, *, keep_every: int = 0, **extra: Any
) -> Call:
    """Create, consume and join a session with a real WebRTC client."""
    session_id, session_key = create_session(server, key, avatar_id, **extra)
    creds = consume(server, session_id, session_key)
    call = Call(session_id, None)  # type: ignore[arg-type]
    count = [0]

    def on_video(frame: Any, at: float) -> None:
        count[0] += 1
        if keep_every and count[0] % keep_every == 0:
            small = frame.reformat(width=frame.width // 2, height=frame.height // 2)
            call.frames.append((at, small.to_ndarray(format="rgb24")))

    call.client = CallClient(creds["url"], creds["token"], on_video=on_video, timeout_s=30)
    await call.client.connect()
    return call


def is_state(value: str) -> Any:
    return lambda e: e.get("type") == "state" and e.get("state") == value


def is_session(*statuses: str) -> Any:
    return lambda e: e.get("type") == "session" and e.get("status") in statuses


def assistant_text(client: CallClient, turn: int | None = None) -> str:
    return "".join(
        e["text"]
        for _, e in client.events
        if e.get("type") == "transcription"
        and e.get("role") == "assistant"
        and (turn is None or e.get("turn") == turn)
    )


@functools.cache
def spoken(text: str, voice: str = "victoria") -> tuple[np.ndarray, int]:
    """``text`` said by one of the project's voices (int16 PCM, rate)."""
    from characters.voices.tts import synthesize

    chunks = list(synthesize(text, voice))
    return np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate


@functools.cache
def _recognizer() -> Any:
    import os
    from pathlib import Path

    from characters.conversation.stt import SpeechRecognizer
    from characters.models import resolve

    return SpeechRecognizer(resolve("whisper-tiny.en", Path(os.environ["CHARACTERS_MODELS_DIR"])))


def transcribe(pcm48: np.ndarray) -> str:
    """Words in 48 kHz int16 audio (Whisper tiny.en)."""
    from characters.pcm import resample

    audio = resample(pcm48.astype(np.int16), 48_000, 16_000)
    return str(_recognizer().transcribe(audio)).lower()


def audio_between(client: CallClient, start: float, end: float) -> np.ndarray:
    times, samples = client.audio_array()
    return samples[(times >= start) & (times <= end)]


def mouth_openings(frames: list[tuple[float, np.ndarray]], start: float, end: float) -> list[float]:
    """Mouth apertures (face mesh) of the kept frames that arrived between two times."""
    from characters.face.landmarks import mouth_aperture

    out = []
    for at, image in frames:
        if start <= at <= end:
            value = mouth_aperture(image)
            if value is not None:
                out.append(value)
    return out


def until(deadline_s: float) -> float:
    return time.monotonic() + deadline_s


def heard_words(heard: str, said: str) -> float:
    """The share of the words of ``said`` that are in ``heard`` (case and punctuation aside)."""
    import re

    def words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", text.lower())

    said_words = words(said)
    got = set(words(heard))
    return sum(w in got for w in said_words) / max(1, len(said_words))


async def http(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """An HTTP request from an async test, off its event loop (the client's media runs there)."""
    kwargs.setdefault("timeout", 30)
    return await asyncio.to_thread(httpx.request, method, url, **kwargs)
