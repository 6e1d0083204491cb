"""Preset voice benchmark: intelligibility (WER), speed (RTF, first-chunk latency), pitch and
how well the phoneme timings follow the audio.

Run: ``.venv/bin/python bench/voices.py [--presets clara,victoria] [--quick]``. Prints one row
per preset, then one per engine (medians of its presets), and writes
``bench/results/voices.json``.

For each preset, after one warm-up synthesis of its engine:

* first-chunk latency: seconds from the call to the first chunk of :data:`FIRST_TEXT` (a short
  reply, as the conversation engine sends them), p50 and p95 of ``--runs`` calls;
* RTF: synthesis seconds / audio seconds over :data:`SENTENCES`, consumed chunk by chunk;
* WER: faster-whisper ``whisper-base`` (int8, 2 threads, beam 1) transcribes each sentence;
  word edit distance over the reference words, all sentences pooled;
* median F0 (Hz) and mean spectral centroid (Hz) of the speech, to show the presets differ;
* lip-sync proxy: the mouth opening the face engine would command from the chunks' phoneme
  timings (:class:`characters.face.visemes.VisemeTrack`, ``open × (1 - press)``) against the
  speech level (dB RMS of 40 ms windows, 10 ms hop): Pearson r at lag 0 and the lag (ms,
  positive = mouth later than the sound) that maximises it, like ``bench/face.py``'s
  ``commanded_vs_rms`` (in dB: on linear RMS the best lag wandered by ±50 ms when the timings
  were shifted; in dB it follows the shift);
* timing check: hama 1.7.0's phoneme CTC recogniser (an independent model) transcribes each
  chunk; its phonemes are matched to the engine's (edit-distance alignment on base IPA letters)
  and the offset of each matched onset (hama's emission minus the engine's onset, ms) is
  reported as median and p90 of its absolute deviation from that median (the jitter), with
  hama's cost (seconds per chunk, per second of audio): what aligning an engine without
  durations this way would cost.

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
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from characters.face.visemes import VisemeTrack  # noqa: E402
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


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def aligner() -> Any:
    from hama import ASRModel  # type: ignore[import-untyped]

    return ASRModel()


def onsets(chunk: tts.SpeechChunk) -> list[tuple[str, float]]:
    """(first base IPA letter, onset s) of each spoken phoneme of a chunk."""
    out, pos = [], 0
    for p in chunk.phonemes or ():
        letter = next((c for c in unicodedata.normalize("NFD", p.phoneme) if c.isalpha()), "")
        if letter and letter not in "ˈˌː":
            out.append((letter, pos / chunk.sample_rate))
        pos += p.num_samples
    return out


def matched_offsets(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> list[float]:
    """Onset differences (theirs - ours, s) of the letters an edit-distance alignment pairs."""
    n, m = len(ours), len(theirs)
    cost = np.zeros((n + 1, m + 1))
    cost[:, 0], cost[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = ours[i - 1][0] == theirs[j - 1][0]
            cost[i, j] = min(
                cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (not same)
            )
    out, i, j = [], n, m
    while i > 0 and j > 0:
        same = ours[i - 1][0] == theirs[j - 1][0]
        if cost[i, j] == cost[i - 1, j - 1] + (not same):
            if same:
                out.append(theirs[j - 1][1] - ours[i - 1][1])
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return out


def hama_check(model: Any, chunks: list[tts.SpeechChunk]) -> tuple[list[float], float, float]:
    """Matched onset offsets (s) of the chunks, hama's seconds, and the chunks' audio seconds."""
    offsets: list[float] = []
    spent = audio = 0.0
    for chunk in chunks:
        started = time.perf_counter()
        result = model.transcribe_waveform(chunk.pcm.astype(np.float32) / 32768, chunk.sample_rate)
        spans = model.phoneme_spans(result)
        spent += time.perf_counter() - started
        audio += chunk.duration_s
        theirs = [
            (
                next((c for c in unicodedata.normalize("NFD", s.phoneme) if c.isalpha()), ""),
                s.start_ms / 1000,
            )
            for s in spans
        ]
        offsets += matched_offsets(onsets(chunk), [t for t in theirs if t[0]])
    return offsets, spent, audio


def lip_sync(chunks: list[tts.SpeechChunk]) -> tuple[float, int]:
    """r(commanded mouth opening, speech level in dB) at lag 0, and the best lag in ms (±200)."""
    rate = chunks[0].sample_rate
    track, start = VisemeTrack(), 0
    for c in chunks:
        track.add(((p.phoneme, p.num_samples / rate) for p in c.phonemes or ()), start / rate)
        start += len(c.pcm)
    pcm = np.concatenate([c.pcm for c in chunks]).astype(np.float64) / 32768
    hop, half = rate // 100, rate // 50
    centres = range(half, len(pcm) - half, hop)
    rms = np.array([np.sqrt(np.mean(pcm[c - half : c + half] ** 2)) for c in centres])
    rms = 20 * np.log10(np.maximum(rms, 1e-4))
    pose = np.array([track.pose_at(c / rate) for c in centres])
    mouth = pose[:, 0] * (1 - pose[:, 3])
    best_lag, best_r, r0 = 0, -2.0, 0.0
    for lag in range(-20, 21):  # lag > 0: the mouth moves later than the sound
        x, y = (mouth[lag:], rms[: len(rms) - lag]) if lag >= 0 else (mouth[:lag], rms[-lag:])
        r = float(np.corrcoef(x, y)[0, 1])
        if lag == 0:
            r0 = r
        if r > best_r:
            best_lag, best_r = lag, r
    return r0, best_lag * 10


def first_chunk_s(preset: str) -> float:
    started = time.perf_counter()
    stream = tts.synthesize(FIRST_TEXT, preset)
    next(stream)
    elapsed = time.perf_counter() - started
    for _ in stream:
        pass
    return elapsed


def measure(preset: str, stt: Any, hama: Any, sentences: list[str], runs: int) -> dict[str, Any]:
    tts.warm_up([preset])
    latencies = [first_chunk_s(preset) for _ in range(runs)]
    synth_s = audio_s = 0.0
    errors = ref_words = 0.0
    transcripts: list[str] = []
    pcm_all: list[np.ndarray[Any, Any]] = []
    rate = 0
    sync: list[tuple[float, int]] = []
    offsets: list[float] = []
    hama_s = hama_audio_s = 0.0
    chunk_count = 0
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
        sync.append(lip_sync(chunks))
        found, spent, seconds = hama_check(hama, chunks)
        offsets += found
        hama_s += spent
        hama_audio_s += seconds
        chunk_count += len(chunks)
    speech = np.concatenate(pcm_all)
    offset = statistics.median(offsets) if offsets else float("nan")
    jitter = [abs(o - offset) for o in offsets]
    voice = tts.ENGINE_VOICES[preset]
    return {
        "preset": preset,
        "name": PRESETS[preset].name,
        "gender": PRESETS[preset].gender,
        "engine": voice.engine,
        "voice": voice.describe(),
        "wer": round(errors / ref_words, 3),
        "rtf": round(synth_s / audio_s, 3),
        "first_chunk_s": round(statistics.median(latencies), 3),
        "first_chunk_p95_s": round(percentile(latencies, 95), 3),
        "first_chunk_runs": len(latencies),
        "median_f0_hz": round(median_f0(speech, rate), 1),
        "centroid_hz": round(spectral_centroid(speech, rate), 1),
        "audio_s": round(audio_s, 2),
        "lip_sync_r_lag0": round(statistics.median(r for r, _ in sync), 3),
        "lip_sync_best_lag_ms": int(statistics.median(lag for _, lag in sync)),
        "hama_offset_ms": round(1000 * offset, 1),
        "hama_jitter_p90_ms": round(1000 * percentile(jitter, 90), 1) if jitter else None,
        "hama_matched_onsets": len(offsets),
        "hama_s_per_chunk": round(hama_s / max(1, chunk_count), 3),
        "hama_s_per_audio_s": round(hama_s / max(1e-9, hama_audio_s), 3),
        "transcripts": transcripts,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per engine: the medians of its presets' figures (p95 latency: the largest)."""
    out: dict[str, dict[str, Any]] = {}
    for engine in dict.fromkeys(r["engine"] for r in rows):
        mine = [r for r in rows if r["engine"] == engine]

        def med(key: str, mine: list[dict[str, Any]] = mine) -> float:
            return round(statistics.median(r[key] for r in mine), 3)

        out[engine] = {
            "presets": len(mine),
            "wer": med("wer"),
            "wer_max": max(r["wer"] for r in mine),
            "rtf": med("rtf"),
            "first_chunk_p50_s": med("first_chunk_s"),
            "first_chunk_p95_s_max": max(r["first_chunk_p95_s"] for r in mine),
            "f0_hz_range": [
                min(r["median_f0_hz"] for r in mine),
                max(r["median_f0_hz"] for r in mine),
            ],
            "lip_sync_r_lag0": med("lip_sync_r_lag0"),
            "lip_sync_best_lag_ms": med("lip_sync_best_lag_ms"),
            "hama_offset_ms": med("hama_offset_ms"),
            "hama_jitter_p90_ms": med("hama_jitter_p90_ms"),
            "hama_s_per_chunk": med("hama_s_per_chunk"),
            "hama_s_per_audio_s": med("hama_s_per_audio_s"),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESET_IDS), help="comma-separated ids")
    parser.add_argument("--quick", action="store_true", help="two sentences per preset")
    parser.add_argument("--runs", type=int, default=10, help="first-chunk calls per preset")
    parser.add_argument("--data-dir", type=Path, default=None, help="for the assembled models")
    args = parser.parse_args()
    if args.data_dir:
        models.configure(args.data_dir / "models")
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    for p in presets:
        tts.check_voice(p)
    sentences = SENTENCES[:2] if args.quick else SENTENCES
    stt = whisper_model()
    hama = aligner()
    rows = []
    print(
        f"{'preset':<9} {'engine':<7} {'WER':>5} {'RTF':>5} {'p50':>6} {'p95':>6} {'F0':>5} "
        f"{'centr':>5} {'sync r':>6} {'lag':>5} {'hama Δ':>6} {'jit90':>5} {'hama/s':>6}"
    )
    for preset in presets:
        row = measure(preset, stt, hama, sentences, args.runs)
        rows.append(row)
        print(
            f"{preset:<9} {row['engine']:<7} {row['wer']:>5.2f} {row['rtf']:>5.2f} "
            f"{row['first_chunk_s']:>5.3f}s {row['first_chunk_p95_s']:>5.3f}s "
            f"{row['median_f0_hz']:>5.0f} {row['centroid_hz']:>5.0f} "
            f"{row['lip_sync_r_lag0']:>6.2f} {row['lip_sync_best_lag_ms']:>4}ms "
            f"{row['hama_offset_ms']:>4.0f}ms {row['hama_jitter_p90_ms']:>3.0f}ms "
            f"{row['hama_s_per_audio_s']:>6.3f}",
            flush=True,
        )
    engines = summarise(rows)
    for name, e in engines.items():
        print(f"{name:<9} {json.dumps(e)}")
    out = ROOT / "bench" / "results" / "voices.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "stt": "whisper-base int8, cpu_threads 2, beam 1",
        "sentences": sentences,
        "first_text": FIRST_TEXT,
        "first_chunk_runs": args.runs,
        "aligner": "hama 1.7.0 ASRModel (phoneme CTC, 20 ms frames)",
        "load_avg_at_end": [round(v, 2) for v in os.getloadavg()],
    }
    out.write_text(
        json.dumps(
            {"meta": meta, "engines": engines, "presets": rows}, indent=2, ensure_ascii=False
        )
    )
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
