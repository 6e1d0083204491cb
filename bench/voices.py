"""Preset voice benchmark: intelligibility (WER), speed (RTF, first-chunk latency) and pitch.

Run: ``.venv/bin/python bench/voices.py [--presets clara,victoria] [--quick]``. Prints one row
per preset and writes ``bench/results/voices.json``.

For each preset, after one warm-up synthesis of its engine:

* first-chunk latency: seconds from the call to the first chunk of :data:`FIRST_TEXT` (a short
  reply, as the conversation engine sends them);
* RTF: synthesis seconds / audio seconds over :data:`SENTENCES`, consumed chunk by chunk;
* WER: faster-whisper ``whisper-base`` (int8, 2 threads, beam 1) transcribes each sentence;
  word edit distance over the reference words, all sentences pooled;
* median F0 (Hz) and mean spectral centroid (Hz) of the speech, to show the presets differ.

Nobody listens to the voices here: these figures are the only judgement of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from characters.voices import models, tts  # noqa: E402
from characters.voices.metrics import (  # noqa: E402
    median_f0,
    spectral_centroid,
    word_error_rate,
    words,
)
from characters.voices.presets import PRESET_IDS, PRESETS  # noqa: E402

FIRST_TEXT = "Sure, one moment. Let me check that for you."
SENTENCES = [
    "Hello, I would like to book a table for two people tomorrow evening, please.",
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "Could you tell me how much the premium plan costs per month?",
    "Please remember to bring your passport and a printed copy of the ticket.",
]


def whisper_model() -> Any:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

    path = models.model_path("whisper-base")
    return WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)


def to_16k(pcm: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
    audio = pcm.astype(np.float32) / 32768.0
    n = int(len(audio) * 16_000 / rate)
    resampled: np.ndarray[Any, Any] = np.interp(
        np.linspace(0, len(audio) - 1, n), np.arange(len(audio)), audio
    ).astype(np.float32)
    return resampled


def transcribe(stt: Any, pcm: np.ndarray[Any, Any], rate: int) -> str:
    segments, _ = stt.transcribe(
        to_16k(pcm, rate), language="en", beam_size=1, without_timestamps=True
    )
    return " ".join(s.text.strip() for s in segments)


def first_chunk_s(preset: str) -> float:
    started = time.perf_counter()
    stream = tts.synthesize(FIRST_TEXT, preset)
    next(stream)
    elapsed = time.perf_counter() - started
    for _ in stream:
        pass
    return elapsed


def measure(preset: str, stt: Any, sentences: list[str]) -> dict[str, Any]:
    tts.warm_up([preset])
    latency = statistics.median(first_chunk_s(preset) for _ in range(2))
    synth_s = audio_s = 0.0
    errors = ref_words = 0.0
    transcripts: list[str] = []
    pcm_all: list[np.ndarray[Any, Any]] = []
    rate = 0
    for text in sentences:
        started = time.perf_counter()
        chunks = list(tts.synthesize(text, preset))
        synth_s += time.perf_counter() - started
        pcm = np.concatenate([c.pcm for c in chunks])
        rate = chunks[0].sample_rate
        audio_s += len(pcm) / rate
        pcm_all.append(pcm)
        heard = transcribe(stt, pcm, rate)
        transcripts.append(heard)
        n = len(words(text))
        errors += word_error_rate(text, heard) * n
        ref_words += n
    speech = np.concatenate(pcm_all)
    voice = tts.ENGINE_VOICES[preset]
    return {
        "preset": preset,
        "name": PRESETS[preset].name,
        "gender": PRESETS[preset].gender,
        "engine": voice.engine,
        "voice": voice.describe(),
        "wer": round(errors / ref_words, 3),
        "rtf": round(synth_s / audio_s, 3),
        "first_chunk_s": round(latency, 3),
        "median_f0_hz": round(median_f0(speech, rate), 1),
        "centroid_hz": round(spectral_centroid(speech, rate), 1),
        "audio_s": round(audio_s, 2),
        "transcripts": transcripts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESET_IDS), help="comma-separated ids")
    parser.add_argument("--quick", action="store_true", help="two sentences per preset")
    parser.add_argument("--data-dir", type=Path, default=None, help="for the assembled models")
    args = parser.parse_args()
    if args.data_dir:
        models.configure(args.data_dir / "models")
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    for p in presets:
        tts.check_voice(p)
    sentences = SENTENCES[:2] if args.quick else SENTENCES
    stt = whisper_model()
    rows = []
    print(f"{'preset':<9} {'engine':<7} {'WER':>5} {'RTF':>5} {'first':>6} {'F0':>6} {'centr':>6}")
    for preset in presets:
        row = measure(preset, stt, sentences)
        rows.append(row)
        print(
            f"{preset:<9} {row['engine']:<7} {row['wer']:>5.2f} {row['rtf']:>5.2f} "
            f"{row['first_chunk_s']:>5.2f}s {row['median_f0_hz']:>6.0f} {row['centroid_hz']:>6.0f}",
            flush=True,
        )
    out = ROOT / "bench" / "results" / "voices.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "stt": "whisper-base int8, cpu_threads 2, beam 1",
        "sentences": sentences,
        "first_text": FIRST_TEXT,
    }
    out.write_text(json.dumps({"meta": meta, "presets": rows}, indent=2, ensure_ascii=False))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
