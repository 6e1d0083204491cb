"""Conversation engine benchmark: end of the user's speech → first audio of the answer.

Runs the real engine (silero VAD, Smart Turn, Whisper, the embedded LLM, the character's voice)
in this process. Each question is spoken by our own TTS (a different voice from the
character's), fed in 20 ms pieces **in real time** as a microphone would, with silence before
and after; the clock starts at the last sample of speech and stops when the first chunk of the
answer's audio is out. Between questions the bench waits, feeding silence, until the answer has
finished playing (so the next question is not a barge-in).

    python bench/conversation.py                 # 12 turns, writes bench/results/conversation.json
    python bench/conversation.py --turns 20 --voice clara --stt whisper-base

Prints p50/p95 of the latency and its split (turn detection and recognition, LLM to first token
and to the first speakable chunk, TTS to first audio), tokens/s, the real-time factor of each
engine voice, CPU use and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from characters.config import load_settings  # noqa: E402
from characters.conversation.engine import (  # noqa: E402
    AgentDone,
    AgentSpeech,
    Conversation,
    Engines,
)
from characters.conversation.prompt import Character  # noqa: E402
from characters.conversation.voice import UserTurn, VoiceConversation  # noqa: E402
from characters.voices.presets import PRESET_IDS  # noqa: E402
from characters.voices.tts import ENGINE_VOICES, synthesize  # noqa: E402

PERSONALITY = (
    "You are Bella, the friendly receptionist of Sunny Dental in Springfield. The clinic is "
    "open from 8 am to 6 pm, Monday to Friday, and closed at weekends. A check-up costs 60 "
    "dollars and a cleaning 90 dollars. Dr. Patel and Dr. Moreau are the dentists. Parking is "
    "free behind the building."
)
START = "Hi, I'm Bella from Sunny Dental. How can I help you today?"
QUESTIONS = [
    "When are you open?",
    "How much does a check-up cost?",
    "Who are the dentists at the clinic?",
    "Can I come on Saturday?",
    "Is there parking near you?",
    "How much is a cleaning?",
    "What time do you close on Friday?",
    "Do you take new patients?",
    "Where is the clinic?",
    "Can I book a cleaning for Monday morning?",
    "What is your name?",
    "Thank you, that is all for today.",
]
RTF_TEXT = "Thanks for calling Sunny Dental. We are open from eight to six on weekdays."
FEED_S = 0.02
LEAD_S = 0.4


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def speech_of(text: str, voice: str) -> tuple[np.ndarray, int]:
    chunks = list(synthesize(text, voice))
    rate = chunks[0].sample_rate
    return np.concatenate([c.pcm for c in chunks]), rate


def trim(pcm: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading and trailing near-silence, so the end of the array is the end of speech."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
    return pcm[: loud[-1] + 1] if len(loud) else pcm


async def one_turn(
    voice: VoiceConversation, pcm: np.ndarray, rate: int, tail_s: float = 4.0
) -> dict[str, float | str | None]:
    """Feed silence + question + silence in real time; the figures of the answer."""
    lead = np.zeros(int(LEAD_S * rate), np.int16)
    audio = np.concatenate([lead, pcm, np.zeros(int(tail_s * rate), np.int16)])
    step = int(FEED_S * rate)
    speech_end_offset = (len(lead) + len(pcm)) / rate
    result: dict[str, float | str | None] = {}
    first_audio: float | None = None
    done: AgentDone | None = None
    heard: UserTurn | None = None
    got_done = asyncio.Event()

    async def consume() -> None:
        nonlocal first_audio, done, heard
        async for event in voice.events():
            if isinstance(event, UserTurn):
                heard = event
            elif isinstance(event, AgentSpeech) and first_audio is None:
                first_audio = time.monotonic()
            elif isinstance(event, AgentDone):
                done = event
                got_done.set()
                return

    consumer = asyncio.create_task(consume())
    t0 = time.monotonic()
    for i, start in enumerate(range(0, len(audio), step)):
        await voice.push(audio[start : start + step], rate)
        due = t0 + (i + 1) * FEED_S
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if got_done.is_set() and not voice.speaking:
            break
    while not got_done.is_set() or voice.speaking:  # keep the microphone open: silence
        await voice.push(np.zeros(step, np.int16), rate)
        await asyncio.sleep(FEED_S)
    await consumer
    speech_end = t0 + speech_end_offset
    assert done is not None
    t = done.timings
    result["heard"] = heard.text if heard else None
    result["answer"] = done.text
    result["e2e_s"] = None if first_audio is None else first_audio - speech_end
    result["detect_s"] = t.started - speech_end
    result["commit_s"] = None if heard is None else heard.committed_at - speech_end
    result["llm_first_token_s"] = t.since_start(t.llm_first_token)
    result["llm_first_chunk_s"] = t.since_start(t.first_speech_text)
    result["tts_first_s"] = (
        None
        if t.first_audio is None or t.first_speech_text is None
        else t.first_audio - t.first_speech_text
    )
    result["tokens"] = t.tokens
    result["tokens_per_s"] = t.tokens / t.llm_s if t.llm_s else None
    return result


def rtf_per_voice() -> list[dict[str, object]]:
    """Real-time factor of each distinct engine voice (one preset each)."""
    seen: dict[object, str] = {}
    for preset in PRESET_IDS:
        seen.setdefault(ENGINE_VOICES[preset], preset)
    rows = []
    for engine_voice, preset in seen.items():
        list(synthesize("Warm up.", preset))
        t = time.perf_counter()
        first = None
        total = 0.0
        for chunk in synthesize(RTF_TEXT, preset):
            first = first or time.perf_counter() - t
            total += chunk.duration_s
        wall = time.perf_counter() - t
        rows.append(
            {
                "preset": preset,
                "engine_voice": str(engine_voice),
                "rtf": wall / total,
                "first_chunk_s": first,
                "audio_s": total,
            }
        )
    return rows


async def run(args: argparse.Namespace) -> dict[str, object]:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-conv-"))
    settings = load_settings(data_dir=data_dir, stt_model=args.stt)
    t = time.perf_counter()
    engines = Engines.load(settings, voices=[args.voice], progress=lambda m: print(f"  {m}"))
    load_s = time.perf_counter() - t
    character = Character(
        name="Bella", personality=PERSONALITY, start_script=START, voice=args.voice
    )
    engines.warm(character)
    conversation = Conversation(engines, character)
    voice = VoiceConversation(conversation, engines.listener())
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.turns)]
    print(f"models loaded in {load_s:.1f} s; synthesising {len(questions)} questions")
    spoken = [speech_of(q, args.asker) for q in questions]
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    turns = []
    for q, (pcm, rate) in zip(questions, spoken, strict=True):
        r = await one_turn(voice, trim(pcm, rate), rate)
        r["question"] = q
        turns.append(r)
        e2e = r["e2e_s"]
        print(
            f"  {e2e if e2e is None else round(float(e2e) * 1000):>5} ms  heard {r['heard']!r}"
            f" -> {str(r['answer'])[:70]!r}"
        )
    wall = time.perf_counter() - wall0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    await voice.aclose()
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)

    def stat(key: str) -> dict[str, float] | None:
        values = [float(v) for r in turns if isinstance(v := r[key], int | float)]
        if not values:
            return None
        return {"p50": statistics.median(values), "p95": pct(values, 95), "n": len(values)}

    summary: dict[str, object] = {
        "machine": {"cpus": os.cpu_count()},
        "settings": {
            "stt": args.stt,
            "llm": settings.llm_url or settings.llm_model,
            "voice": args.voice,
            "engine_voice": str(ENGINE_VOICES[args.voice]),
            "asker_voice": args.asker,
            "turn_silence_ms": settings.turn_silence_ms,
            "turn_min_silence_ms": settings.turn_min_silence_ms,
            "turn_threshold": settings.turn_threshold,
        },
        "load_s": load_s,
        "e2e_s": stat("e2e_s"),
        "detect_s": stat("detect_s"),
        "commit_s": stat("commit_s"),
        "llm_first_token_s": stat("llm_first_token_s"),
        "llm_first_chunk_s": stat("llm_first_chunk_s"),
        "tts_first_s": stat("tts_first_s"),
        "tokens_per_s": stat("tokens_per_s"),
        "cpu_cores_used": cpu / wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "turns": turns,
    }
    if not args.no_rtf:
        summary["voices"] = rtf_per_voice()
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--turns", type=int, default=12, help="questions to ask (default 12)")
    p.add_argument("--voice", default="vincent", help="the character's preset voice")
    p.add_argument("--asker", default="victoria", help="preset voice that asks the questions")
    p.add_argument("--stt", default="whisper-tiny.en", choices=["whisper-tiny.en", "whisper-base"])
    p.add_argument("--data-dir", help="where models are assembled (default: a temp dir)")
    p.add_argument("--no-rtf", action="store_true", help="skip the per-voice RTF table")
    p.add_argument("--out", default="bench/results/conversation.json")
    args = p.parse_args()
    summary = asyncio.run(run(args))
    e2e = summary["e2e_s"]
    print("\nend of speech -> first audio:", json.dumps(e2e))
    for key in ("detect_s", "commit_s", "llm_first_token_s", "llm_first_chunk_s", "tts_first_s"):
        print(f"  {key:<18} {json.dumps(summary[key])}")
    print(f"  tokens/s {json.dumps(summary['tokens_per_s'])}")
    print(
        f"  cpu cores used {summary['cpu_cores_used']:.2f}, peak RSS {summary['peak_rss_mib']:.0f} MiB"
    )
    for row in summary.get("voices", []):  # type: ignore[attr-defined]
        print(f"  RTF {row['preset']:<9} {row['engine_voice']:<60} {row['rtf']:.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
