"""Speech recognizers inside the listener: word error rate and end-of-speech latency.

Run: ``.venv/bin/python bench/stt.py [--models whisper-tiny.en,moonshine-base-en] [--quick]``.
Prints one row per recognizer and kind of speech, and writes ``bench/results/stt.json`` (every
clip's transcript and timing).

Each clip (0.5 s of silence, the speech, 2 s of silence) is fed to a real
:class:`~characters.conversation.listener.Listener` (Silero VAD, incremental decoding as live,
no Smart Turn) in 20 ms pieces on a simulated real-time clock: a piece is processed when it has
"arrived" (its audio time) or when the previous piece's work is done, whichever is later. So
decodes during the speech that fall behind real time delay the end of the turn, as they would
live. The recognizers take turns on each clip (interleaved), after one warm-up decode each.

* **WER**: the word edit distance of the turn's final transcript (the texts of every
  ``TurnEnded`` of the clip, joined; case, punctuation and hyphens inside words ignored) over
  the reference words, pooled per kind.
* **latency**: from the true end of the speech (the last 10 ms frame within 30 dB of the clip's
  loudest) to the moment the text the turn ends with was ready: the ``EndOfTurnCandidate`` that
  carried it (the answer starts there), or the ``TurnEnded`` when no candidate had it. It
  includes the listener's own wait (``min_silence_ms``, 100 ms) and the VAD's late end mark.
* **decode**: the median time of the decode the candidate made (the last phrase).

Kinds of speech: *clean* (preset voices vincent: Piper joe, victoria: hibari heart, marcus:
Kokoro jm_kumo), *fast* and *slow* (vincent and victoria at ``length_scale`` 0.7, vincent and
marcus at 1.5), *robotic* (espeak-ng en-us and en-gb+f3), *human* (the recordings
``beckett.wav`` and ``two_cities.wav`` that ``moonshine-voice`` ships, cut at the VAD's pauses
of 0.5 s), *dialogue* (its ``endgame_nagg_nell.wav``: 24 kHz with digitally silent gaps between
the lines, so probably assembled from synthetic speech). :data:`HUMAN` says how their reference
transcripts were made. No setting of the recognizers was tuned on these clips; two Moonshine
fixes (a retry of an empty decode, quotes stripped) came from failures seen in a first run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from characters.config import Settings  # noqa: E402
from characters.conversation.listener import (  # noqa: E402
    EndOfTurnCandidate,
    Listener,
    ListenerConfig,
    TurnEnded,
)
from characters.conversation.stt import Recognizer, load_recognizer  # noqa: E402
from characters.conversation.vad import SAMPLE_RATE, SileroVAD  # noqa: E402
from characters.models import resolve  # noqa: E402
from characters.models.store import package_dir  # noqa: E402
from characters.voices.metrics import word_error_rate, words  # noqa: E402
from characters.voices.models import configure as configure_voice_models  # noqa: E402
from characters.voices.tts import engine_for, engine_voice  # noqa: E402

MODELS = ("whisper-tiny.en", "whisper-base", "moonshine-base-en")
SENTENCES = [
    "Could you tell me how to get to the nearest train station?",
    "I would like to book a table for two people tomorrow evening.",
    "What is the weather going to be like this weekend?",
    "Please remind me to call my sister after lunch.",
    "My flight was cancelled and I need to find a hotel.",
    "Do you know a good recipe for vegetable soup?",
    "Yes, that sounds great.",
    "Can you explain how a solar panel turns light into electricity?",
    "I forgot my password and cannot log into my account.",
    "Tell me something interesting about octopuses.",
]
"""No digits: the recognizers write numbers differently ("seven" / "7") and WER does not
normalise them."""
CLEAN = ("vincent", "victoria", "marcus")
FAST = (("vincent", 0.7), ("victoria", 0.7))
SLOW = (("vincent", 1.5), ("marcus", 1.5))
ROBOTIC = ("en-us", "en-gb+f3")

HUMAN: dict[str, list[tuple[float, float, str]]] = {
    # (start s, end s, reference). Cut at Silero VAD's pauses of 500 ms (±0.15 s). References:
    # each segment was transcribed by Whisper tiny.en, Whisper base and Moonshine base; where
    # they disagree, the published text decides when the recording follows it (Beckett,
    # "Worstward Ho"; Dickens, "A Tale of Two Cities", chapter 1), else the majority of the
    # three. Nobody listened to the audio. Left out: 13.32-16.92 ("it was the/a season of
    # light, it was the/a season of darkness": the models change their minds with the cut).
    "beckett": [
        (0.20, 1.37, "Ever tried."),
        (1.74, 2.97, "Ever failed."),
        (3.37, 4.34, "No matter."),
        (4.75, 5.75, "Try again."),
        (6.51, 7.54, "Fail again."),
        (8.01, 9.05, "Fail better."),
    ],
    "two_cities": [
        (1.07, 8.41, "It was the best of times, it was the worst of times, it was the age of "
         "wisdom, it was the age of foolishness,"),
        (8.68, 13.01, "it was the epoch of belief, it was the epoch of incredulity,"),
        (17.42, 20.69, "it was the spring of hope, it was the winter of despair,"),
        (21.10, 24.21, "we had everything before us, we had nothing before us,"),
        (24.49, 28.50, "we were all going direct to heaven, we were all going direct the "
         "other way"),
        (28.97, 41.88, "in short, the period was so far like the present period, that some "
         "of its noisiest authorities insisted on its being received, for good or for evil, "
         "in the superlative degree of comparison only."),
    ],
    # Same method; the second line repeats the first ("heartily", which Whisper base heard
    # in both). Left out: 14.54-17.14 (two takes of "that's a good story", one with "ah"),
    # 19.31-19.93 ("laughing" / "laugh at") and 20.30-22.07 (three different texts).
    "endgame_nagg_nell": [
        (0.00, 1.11, "Do you hear me?"),
        (1.45, 1.97, "Yes."),
        (2.35, 3.48, "Do you hear me?"),
        (3.82, 4.37, "Yes."),
        (4.71, 8.25, "We laugh less heartily, so we have still that resource."),
        (8.59, 11.54, "Laugh less heartily, so we have still that resource."),
        (11.85, 14.20, "No, not heartily, just less heartily."),
        (17.48, 19.00, "What are you talking about?"),
        (22.38, 23.32, "Not now."),
        (23.63, 27.61, "Do you remember the day I went and fetched you from that ditch?"),
        (27.91, 28.28, "No."),
    ],
}  # fmt: skip

PIECE = SAMPLE_RATE // 50
LEAD_S, TRAIL_S = 0.5, 2.0
"""Silence around each clip; after it the listener must have ended the turn (a transcript that
stops on an unfinished word waits ``unfinished_silence_ms``, 1.2 s)."""


@dataclasses.dataclass
class Clip:
    kind: str
    source: str
    reference: str
    audio: np.ndarray[Any, Any]
    speech_end_s: float


def to_16k(audio: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    g = gcd(rate, SAMPLE_RATE)
    out: np.ndarray[Any, Any] = resample_poly(audio, SAMPLE_RATE // g, rate // g)
    return out.astype(np.float32)


def speech_bounds(x: np.ndarray[Any, Any]) -> tuple[int, int]:
    """First and last sample of the 10 ms frames within 30 dB of the loudest frame."""
    frame = SAMPLE_RATE // 100
    n = len(x) // frame
    rms = np.sqrt((x[: n * frame].reshape(n, frame).astype(np.float64) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-30 / 20))
    return int(loud[0]) * frame, (int(loud[-1]) + 1) * frame


def make_clip(kind: str, source: str, reference: str, speech: np.ndarray[Any, Any]) -> Clip:
    lo, hi = speech_bounds(speech)
    speech = speech[max(0, lo - SAMPLE_RATE // 20) : hi]
    audio = np.concatenate(
        [
            np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32),
            speech,
            np.zeros(int(TRAIL_S * SAMPLE_RATE), np.float32),
        ]
    )
    return Clip(kind, source, reference, audio, LEAD_S + len(speech) / SAMPLE_RATE)


def tts(text: str, preset: str, length_scale: float = 1.0) -> np.ndarray[Any, Any]:
    voice = dataclasses.replace(engine_voice(preset), length_scale=length_scale)
    chunks = list(engine_for(voice).synthesize(text, voice))
    pcm = np.concatenate([c.pcm for c in chunks]).astype(np.float32) / 32768
    return to_16k(pcm, chunks[0].sample_rate)


def espeak(text: str, voice: str) -> np.ndarray[Any, Any]:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-w", f.name, text], check=True)
        audio, rate = sf.read(f.name, dtype="float32")
    return to_16k(audio, rate)


def corpus(sentences: list[str], quick: bool) -> list[Clip]:
    clips: list[Clip] = []
    for text in sentences:
        for preset in CLEAN:
            clips.append(make_clip("clean", preset, text, tts(text, preset)))
        for preset, scale in FAST:
            clips.append(make_clip("fast", f"{preset}×{scale}", text, tts(text, preset, scale)))
        for preset, scale in SLOW:
            clips.append(make_clip("slow", f"{preset}×{scale}", text, tts(text, preset, scale)))
        for voice in ROBOTIC:
            clips.append(make_clip("robotic", f"espeak {voice}", text, espeak(text, voice)))
    assets = package_dir("moonshine_voice")
    if assets is None:
        print("moonshine-voice is not installed: no human speech", file=sys.stderr)
        return clips
    for name, segments in HUMAN.items():
        audio, rate = sf.read(assets / "assets" / f"{name}.wav", dtype="float32")
        x = to_16k(audio, rate)
        kind = "dialogue" if name.startswith("endgame") else "human"
        for lo, hi, text in segments[:3] if quick else segments:
            part = x[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)]
            clips.append(make_clip(kind, f"{name} {lo:.2f}", text, part))
    return clips


def run_clip(listener: Listener, clip: Clip) -> dict[str, Any]:
    """Feed ``clip`` on a simulated real-time clock; the final text and its latency."""
    listener.reset()
    clock = 0.0
    texts: list[str] = []
    candidate: tuple[str, float] | None = None
    ready_at: float | None = None
    final_decode_s: float | None = None
    seen: list[str] = []
    for start in range(0, len(clip.audio), PIECE):
        piece = clip.audio[start : start + PIECE]
        clock = max(clock, (start + len(piece)) / SAMPLE_RATE)
        began = time.perf_counter()
        events = listener.push(piece, SAMPLE_RATE)
        clock += time.perf_counter() - began
        seen += [type(e).__name__ for e in events if type(e).__name__ != "Partial"]
        for event in events:
            if isinstance(event, EndOfTurnCandidate):
                candidate = (event.text, clock)
                final_decode_s = listener.transcriber.last_decode_s
            elif isinstance(event, TurnEnded):
                texts.append(event.text)
                has_it = candidate is not None and candidate[0] == event.text
                ready_at = candidate[1] if candidate is not None and has_it else clock
                candidate = None
    text = " ".join(texts)
    latency = None if ready_at is None else ready_at - clip.speech_end_s
    return {"text": text, "latency_s": latency, "last_decode_s": final_decode_s, "events": seen}


def wer_words(text: str) -> str:
    """``text`` with hyphens inside words removed: Moonshine writes "to-morrow"."""
    return re.sub(r"(?<=[a-z])-(?=[a-z])", "", text, flags=re.I)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated stt ids")
    parser.add_argument("--quick", action="store_true", help="three sentences, few human clips")
    parser.add_argument("--models-dir", type=Path, default=None, help="assembled models")
    args = parser.parse_args()
    settings = Settings()
    models_dir = args.models_dir or settings.resolved_models_dir
    configure_voice_models(models_dir)
    ids = [m.strip() for m in args.models.split(",") if m.strip()]
    sentences = SENTENCES[:3] if args.quick else SENTENCES
    print("synthesising the corpus…", file=sys.stderr)
    clips = corpus(sentences, args.quick)
    vad_model = resolve("silero-vad", models_dir)
    listeners: dict[str, Listener] = {}
    for model_id in ids:
        began = time.perf_counter()
        stt: Recognizer = load_recognizer(model_id, models_dir, settings.stt_threads)
        load_s = time.perf_counter() - began
        stt.transcribe(clips[0].audio)  # warm-up
        listeners[model_id] = Listener(SileroVAD(vad_model), None, stt, ListenerConfig())
        print(f"{model_id}: loaded in {load_s:.1f} s", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    for i, clip in enumerate(clips):
        order = ids[i % len(ids) :] + ids[: i % len(ids)]  # interleaved, rotating
        for model_id in order:
            result = run_clip(listeners[model_id], clip)
            wer = word_error_rate(clip.reference, wer_words(result["text"]))
            rows.append(
                {
                    "model": model_id,
                    "kind": clip.kind,
                    "source": clip.source,
                    "reference": clip.reference,
                    "errors": round(wer * len(words(clip.reference)), 3),
                    "ref_words": len(words(clip.reference)),
                    "speech_s": round(clip.speech_end_s - LEAD_S, 2),
                    **result,
                }
            )
        print(f"\r{i + 1}/{len(clips)} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    summary = summarise(rows, ids)
    out = ROOT / "bench" / "results" / "stt.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "stt_threads": settings.stt_threads,
        "clips": len(clips),
    }
    out.write_text(
        json.dumps({"meta": meta, "summary": summary, "clips": rows}, indent=2, ensure_ascii=False)
    )
    print(f"wrote {out}", file=sys.stderr)


def summarise(rows: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    kinds = list(dict.fromkeys(r["kind"] for r in rows)) + ["all"]
    summary = []
    print(
        f"{'model':<18} {'kind':<9} {'clips':>5} {'WER':>6} {'p50 s':>6} {'p95 s':>6} {'decode':>6}"
    )
    for model_id in ids:
        for kind in kinds:
            sel = [r for r in rows if r["model"] == model_id and kind in ("all", r["kind"])]
            lat = [r["latency_s"] for r in sel if r["latency_s"] is not None]
            dec = [r["last_decode_s"] for r in sel if r["last_decode_s"] is not None]
            wer = sum(r["errors"] for r in sel) / max(1, sum(r["ref_words"] for r in sel))
            row = {
                "model": model_id,
                "kind": kind,
                "clips": len(sel),
                "wer": round(wer, 3),
                "latency_p50_s": round(percentile(lat, 50), 3),
                "latency_p95_s": round(percentile(lat, 95), 3),
                "last_decode_p50_s": round(percentile(dec, 50), 3),
                "no_text": len(sel) - len(lat),
            }
            summary.append(row)
            print(
                f"{model_id:<18} {kind:<9} {len(sel):>5} {wer:>6.3f} "
                f"{row['latency_p50_s']:>6.2f} {row['latency_p95_s']:>6.2f} "
                f"{row['last_decode_p50_s']:>6.2f}"
            )
    return summary


if __name__ == "__main__":
    main()
