"""Voice previews: a preset saying a short fixed line, as WAV, made once and cached on disk.

The cache file is ``<data dir>/voice_previews/<preset>-<key>.wav``, where the key hashes the
engine voice and the line, so changing a preset's voice makes a new preview.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import uuid
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from characters.voices.presets import PRESETS
from characters.voices.tts import SpeechChunk, engine_for, engine_voice

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def preview_text(preset_id: str) -> str:
    """The line a preset says in its preview (it introduces itself)."""
    engine_voice(preset_id)  # UnknownVoice for a bad id
    name = PRESETS[preset_id].name
    return f"Hi, I'm {name}. It's nice to meet you; how can I help you today?"


def to_wav(chunks: Iterable[SpeechChunk]) -> bytes:
    """Mono 16-bit WAV of the chunks (all at one sample rate)."""
    parts = list(chunks)
    rate = parts[0].sample_rate if parts else 16_000
    if any(c.sample_rate != rate for c in parts):
        raise ValueError("chunks at different sample rates")
    pcm = np.concatenate([c.pcm for c in parts]) if parts else np.zeros(0, dtype=np.int16)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


def render(preset_id: str, text: str | None = None) -> bytes:
    """The preset speaking ``text`` (default: :func:`preview_text`) as WAV bytes."""
    voice = engine_voice(preset_id)
    engine = engine_for(voice)
    engine.check(voice)
    return to_wav(engine.synthesize(text or preview_text(preset_id), voice))


def cache_path(preset_id: str, data_dir: Path) -> Path:
    """Where the preset's preview is cached."""
    voice = engine_voice(preset_id)
    key = hashlib.sha256(f"{voice!r}|{preview_text(preset_id)}".encode()).hexdigest()[:12]
    return data_dir / "voice_previews" / f"{preset_id}-{key}.wav"


def cached_preview(preset_id: str, data_dir: Path) -> bytes:
    """The preset's preview WAV: read from the cache, or made (once, even when several threads
    ask at the same time) and stored there."""
    path = cache_path(preset_id, data_dir)
    if path.exists():
        return path.read_bytes()
    with _locks_guard:
        lock = _locks.setdefault(preset_id, threading.Lock())
    with lock:
        if path.exists():
            return path.read_bytes()
        data = render(preset_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return data
