"""Live calls, measured at the client: latency, lip sync, barge-in, CPU and capacity.

Starts ``characters serve`` (real models, loopback) and joins its sessions with the project's
WebRTC client (:mod:`characters.realtime.client`, aiortc: what a browser does, with aiortc's
jitter buffers). Every figure is taken where the user gets it: on the audio and video the
client decoded, with their arrival times and the RTCP sender reports (what a browser's lip sync
uses). The user's questions are spoken by another voice of the project and played in real time
as the microphone.

Phases (each can be skipped):

* ``latency``: ``--turns`` spoken questions over calls of 3 turns, plus extra connects: end of
  the user's speech (the client sent its last voiced sample) → first audible answer sample
  arrived, and → first decoded frame with the mouth opening (face mesh); offer → first frame.
* ``drift``: one call of ``--drift-minutes`` (default 5) + 1 with a question at the start and
  at the end: the A/V offset of each answer (mouth opening against the voice's loudness, by
  sender time and by arrival time), and the two streams' clocks against each other over the
  call (drift, ppm); the server's CPU per second of call.
* ``barge``: ``--barge`` interruptions: from the barge-in point (the user's speech onset +
  250 ms, the listener's minimum) to the character's last audible sample at the client, and to
  its last frame with the mouth open.
* ``capacity``: 1, 2, 3, … concurrent calls, every character talking non-stop for
  ``--capacity-s`` seconds: received fps per call, audio gaps (server underruns and missing RTP
  packets at the client); the largest count that holds ≥ 24 fps with no gap.
* ``soak``: ``--soak N`` short calls of every ending (tests/soak.py), with the server's threads,
  files, tasks and memory every 100 calls.

    python bench/realtime.py                      # everything but the soak (about 15 min)
    python bench/realtime.py --soak 1000 --only soak
    python bench/realtime.py --only latency --turns 12

Prints tables and writes JSON (default ``bench/results/realtime.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault(
    "CHARACTERS_MODELS_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "characters-test-models")
)

from characters.face.landmarks import mouth_aperture  # noqa: E402
from characters.realtime.client import CallClient  # noqa: E402
from tests.calls import (  # noqa: E402
    PERSONA,
    consume,
    create_session,
    is_state,
    live_avatar,
    models_ready,
    spoken,
)
from tests.conftest import Server, start_server, stop_server  # noqa: E402

QUESTIONS = [
    "When does the museum open?",
    "How much does a ticket cost?",
    "What is the most famous painting?",
    "Is the museum open on Monday?",
    "When do you close?",
    "What is your name?",
    "Can I buy a ticket at the door?",
    "Is the museum open every day?",
    "How much is it for two people?",
    "What can I see there?",
    "Where can I find the Green Heron?",
    "Thank you, that is all.",
]
LONG_ASK = "Please tell me everything about the museum, its hours, its prices and its painting."
INTERRUPT = "Sorry, stop there. Can I ask something else?"
SERVER_SETTINGS = {
    "PRELOAD_MODELS": "true",
    "MAX_CALLS": "8",
    "SESSION_MAX_DURATION_CAP_S": "1800",
    "SESSION_PEER_GRACE_S": "10",
    "LOG_LEVEL": "info",
}
FPS_TARGET = 24.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": _r(pct(values, 50)),
        "p95": _r(pct(values, 95)),
        "min": _r(min(values)) if values else None,
        "max": _r(max(values)) if values else None,
    }


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None else round(v, nd)


class Frames:
    """Decoded frames kept (while ``keep``) with their arrival time and RTP timestamp. They are
    kept as decoded and converted only when measured, after the turn: the client shares the
    machine with the server here, and its work should not slow the server down."""

    def __init__(self) -> None:
        self.items: list[tuple[float, int, Any]] = []
        self.keep = False

    def __call__(self, frame: Any, at: float) -> None:
        if self.keep:
            self.items.append((at, int(frame.pts or 0), frame))

    def between(self, start: float, end: float) -> list[tuple[float, int, Any]]:
        return [f for f in self.items if start <= f[0] <= end]


async def join(
    server: Server, key: str, avatar: str, frames: Frames | None = None, **extra: Any
) -> tuple[str, CallClient]:
    session_id, session_key = await asyncio.to_thread(create_session, server, key, avatar, **extra)
    creds = await asyncio.to_thread(consume, server, session_id, session_key)
    client = CallClient(creds["url"], creds["token"], on_video=frames, timeout_s=30)
    await client.connect()
    return session_id, client


async def wait_answer(client: CallClient, after: float, timeout: float = 60) -> tuple[float, float]:
    """(when the character started speaking, when it went back to listening) after ``after``."""
    await client.wait_event(is_state("speaking"), timeout, after=after)
    start = client.event_time(is_state("speaking"), after=after)
    assert start is not None
    await client.wait_event(is_state("listening"), timeout, after=start)
    end = client.event_time(is_state("listening"), after=start)
    assert end is not None
    return start, end


async def wait_first_frame(client: CallClient, timeout: float = 10) -> float | None:
    deadline = time.monotonic() + timeout
    while client.first_frame_at is None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return None if client.first_frame_at is None else client.first_frame_at - client.offered_at


def apertures(frames: list[tuple[float, int, Any]]) -> list[tuple[float, int, float]]:
    out = []
    for at, pts, frame in frames:
        small = frame.reformat(width=frame.width // 2, height=frame.height // 2)
        value = mouth_aperture(small.to_ndarray(format="rgb24"))
        if value is not None:
            out.append((at, pts, value))
    return out


# -- latency --------------------------------------------------------------------------------


async def latency(server: Server, key: str, avatar: str, turns: int, asker: str) -> dict[str, Any]:
    speech = {q: spoken(q, asker) for q in QUESTIONS}
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]
    to_audio, to_mouth, connects, heard_ok = [], [], [], 0
    per_turn = []
    for start in range(0, turns, 3):
        frames = Frames()
        _, client = await join(server, key, avatar, frames)
        connects.append(await wait_first_frame(client))
        await wait_answer(client, client.offered_at)  # the start script
        frames.keep = True
        await asyncio.sleep(1.0)
        rest_frames = apertures(frames.items[-10:])
        rest = statistics.median(a for _, _, a in rest_frames) if rest_frames else 0.0
        for question in questions[start : start + 3]:
            pcm, rate = speech[question]
            utterance = client.play(pcm, rate)
            await utterance.done.wait()
            end = utterance.speech_end_at or time.monotonic()
            try:
                answer_start, answer_end = await wait_answer(client, utterance.started_at or end)
            except TimeoutError:
                log(f"no answer to {question!r}")
                continue
            voice = client.first_voice(end)
            mouth = next(
                (at for at, _, a in apertures(frames.between(end, end + 4)) if a > rest + 0.08),
                None,
            )
            said = "".join(
                e["text"]
                for t, e in client.events
                if t >= answer_start
                and e.get("type") == "transcription"
                and e.get("role") == "assistant"
            )
            heard = next(
                (
                    e["text"]
                    for t, e in client.events
                    if t >= (utterance.started_at or 0)
                    and e.get("type") == "transcription"
                    and e.get("role") == "user"
                ),
                "",
            )
            if voice is not None:
                to_audio.append(voice - end)
            if mouth is not None:
                to_mouth.append(mouth - end)
            heard_ok += bool(heard)
            turn_end = client.event_time(
                lambda e: e.get("type") == "transcription" and e.get("role") == "user",
                after=utterance.started_at or 0,
            )
            per_turn.append(
                {
                    "question": question,
                    "heard": heard,
                    "answer": said,
                    "to_turn_end_s": _r(None if turn_end is None else turn_end - end),
                    "to_speaking_event_s": _r(answer_start - end),
                    "to_first_audio_s": _r(None if voice is None else voice - end),
                    "to_mouth_open_s": _r(None if mouth is None else mouth - end),
                }
            )
            log(
                f"turn: {question!r} → {said!r}: audio {per_turn[-1]['to_first_audio_s']} s, mouth {per_turn[-1]['to_mouth_open_s']} s"
            )
            frames.items.clear()
            await asyncio.sleep(0.8)
        await client.hang_up()
        await client.close()
    for _ in range(max(0, 10 - len(connects))):  # at least 10 connects
        _, client = await join(server, key, avatar)
        connects.append(await wait_first_frame(client))
        await client.hang_up()
        await client.close()

    def split(key: str) -> dict[str, Any]:
        return summary([t[key] for t in per_turn if t.get(key) is not None])

    return {
        "voice_to_voice_audio_s": summary(to_audio),
        "turn_end_detected_s": split("to_turn_end_s"),
        "answer_starts_playing_s": split("to_speaking_event_s"),
        "voice_to_voice_mouth_s": summary(to_mouth),
        "connect_to_first_frame_s": summary([c for c in connects if c is not None]),
        "turns": per_turn,
    }


# -- A/V offset and drift -------------------------------------------------------------------


def av_offset(
    client: CallClient,
    faces: list[tuple[float, int, float]],
    start: float,
    end: float,
    *,
    sender: bool,
) -> float | None:
    """The lag (ms) that best lines the mouth opening up with the voice's loudness: positive
    when the picture comes later than the sound. By sender time (RTCP reports, what a browser
    syncs on) or by arrival time at the client."""
    times, samples = client.audio_array()
    if sender:
        # sender time of each received audio frame, spread over its samples
        audio_t = []
        for i, pcm in enumerate(client.audio_pcm):
            t = client.audio.sender_time(i)
            if t is None:
                return None
            audio_t.append(t + np.arange(len(pcm)) / 48_000)
        times = np.concatenate(audio_t)
    mask = (np.asarray([f[0] for f in faces]) >= start) & (np.asarray([f[0] for f in faces]) <= end)
    picked = [f for f, m in zip(faces, mask, strict=True) if m]
    if len(picked) < 20:
        return None
    if sender:
        idx = {pts: i for i, pts in enumerate(client.video.pts)}
        frame_t = []
        for _, pts, _ in picked:
            i = idx.get(pts)
            t = client.video.sender_time(i) if i is not None else None
            frame_t.append(t)
        if any(t is None for t in frame_t):
            return None
        ft = np.asarray(frame_t, dtype=np.float64)
    else:
        ft = np.asarray([f[0] for f in picked])
    ap = np.asarray([f[2] for f in picked])
    x = samples.astype(np.float64) / 32768
    best, best_r = None, -2.0
    for lag_ms in range(-200, 201, 5):
        env = []
        for t in ft:
            centre = t - lag_ms / 1000 + 0.02  # the frame shows the middle of its 40 ms
            i = np.searchsorted(times, centre)
            w = x[max(0, i - 960) : i + 960]
            env.append(np.sqrt(np.mean(w**2)) if len(w) else 0.0)
        e = np.asarray(env)
        if np.std(e) == 0 or np.std(ap) == 0:
            continue
        r = float(np.corrcoef(ap, e)[0, 1])
        if r > best_r:
            best, best_r = lag_ms, r
    return best


def clock_drift_ppm(media: Any, rate: int) -> float | None:
    """How fast a stream's RTP clock runs against arrival time (ppm); the difference between
    audio and video is the A/V drift."""
    if len(media.pts) < 100:
        return None
    pts = (
        np.unwrap(np.asarray(media.pts, dtype=np.float64) * 2 * np.pi / 2**32) * 2**32 / (2 * np.pi)
    )
    t = np.asarray(media.arrivals)
    slope = np.polyfit(t - t[0], (pts - pts[0]) / rate, 1)[0]
    return float((slope - 1) * 1e6)


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drift(server: Server, key: str, avatar: str, minutes: float) -> dict[str, Any]:
    frames = Frames()
    length = int(minutes * 60 + 90)
    session_id, client = await join(server, key, avatar, frames, max_duration=length)
    cpu0, wall0 = cpu_seconds(server.process.pid), time.monotonic()
    await wait_answer(client, client.offered_at)
    results = {}
    for label, at in (("start", 0.0), ("after", minutes * 60)):
        while time.monotonic() - wall0 < at:
            await asyncio.sleep(1)
            if int(time.monotonic() - wall0) % 20 == 0:  # something to say now and then
                client.send({"type": "user_message", "text": "Say hello."})
        await asyncio.sleep(3)
        frames.keep = True
        asked = time.monotonic()
        client.send({"type": "user_message", "text": LONG_ASK})
        start, end = await wait_answer(client, asked)
        frames.keep = False
        faces = apertures(frames.between(start, end))
        frames.items.clear()
        results[label] = {
            "at_s": round(start - wall0, 1),
            "offset_sender_ms": av_offset(client, faces, start, end, sender=True),
            "offset_arrival_ms": av_offset(client, faces, start, end, sender=False),
            "frames_measured": len(faces),
        }
        log(f"A/V offset {label}: {results[label]}")
    cpu = (cpu_seconds(server.process.pid) - cpu0) / (time.monotonic() - wall0)
    audio_ppm = clock_drift_ppm(client.audio, 48_000)
    video_ppm = clock_drift_ppm(client.video, 90_000)
    span = client.video.arrivals[-1] - client.video.arrivals[0]
    await client.hang_up()
    await client.close()
    return {
        "offsets": results,
        "audio_clock_ppm": _r(audio_ppm, 1),
        "video_clock_ppm": _r(video_ppm, 1),
        "av_drift_ms_per_5_min": _r(
            None
            if audio_ppm is None or video_ppm is None
            else (video_ppm - audio_ppm) * 300e-6 * 1000,
            2,
        ),
        "received_fps": _r((len(client.video.arrivals) - 1) / span, 2),
        "server_cpu_cores_per_call": _r(cpu, 3),
        "call_s": round(span, 1),
        "session": session_id,
    }


# -- barge-in -------------------------------------------------------------------------------


async def barge(server: Server, key: str, avatar: str, trials: int, asker: str) -> dict[str, Any]:
    pcm, rate = spoken(INTERRUPT, asker)
    onset = (
        next(
            i
            for i in range(0, len(pcm), rate // 50)
            if np.sqrt(np.mean((pcm[i : i + rate // 50].astype(np.float64) / 32768) ** 2)) > 0.01
        )
        / rate
    )
    frames = Frames()
    _, client = await join(server, key, avatar, frames)
    await wait_answer(client, client.offered_at)
    voice_stop, face_stop = [], []
    for _ in range(trials):
        asked = time.monotonic()
        client.send({"type": "user_message", "text": LONG_ASK})
        await client.wait_event(is_state("speaking"), 60, after=asked)
        await asyncio.sleep(1.5)
        frames.keep = True
        utterance = client.play(pcm, rate)
        await client.wait_event(lambda e: e.get("type") == "interrupted", 15, after=asked)
        await asyncio.sleep(1.5)
        frames.keep = False
        point = (utterance.started_at or 0) + onset + 0.25
        last = client.last_voice(before=point + 1.2)
        faces = apertures(frames.items)
        rest = min(a for _, _, a in faces) if faces else 0
        open_after = [at for at, _, a in faces if a > rest + 0.08 and at >= point - 0.5]
        if last is not None:
            voice_stop.append(last - point)
        face_stop.append((max(open_after) - point) if open_after else 0.0)
        log(
            f"barge-in: voice stopped {voice_stop[-1] * 1000:.0f} ms, face {face_stop[-1] * 1000:.0f} ms after the point"
        )
        frames.items.clear()
        # the interruption is a question too: let its answer finish
        await client.wait_event(is_state("listening"), 60, after=point)
        await asyncio.sleep(8)
    await client.hang_up()
    await client.close()
    return {"voice_stop_s": summary(voice_stop), "face_stop_s": summary(face_stop)}


# -- capacity -------------------------------------------------------------------------------


async def one_busy_call(server: Server, key: str, avatar: str, seconds: float) -> dict[str, Any]:
    session_id, client = await join(server, key, avatar)
    await wait_answer(client, client.offered_at)
    t0 = time.monotonic()
    n0_video, n0_audio = len(client.video.arrivals), len(client.audio.arrivals)
    while time.monotonic() - t0 < seconds:
        asked = time.monotonic()
        client.send({"type": "user_message", "text": LONG_ASK})
        try:
            await wait_answer(client, asked, timeout=60)
        except TimeoutError:
            pass
    span = time.monotonic() - t0
    frames = len(client.video.arrivals) - n0_video
    pts = np.asarray(client.audio.pts[n0_audio:], dtype=np.int64)
    steps = np.diff(pts) % 2**32 if len(pts) > 1 else np.zeros(0)
    missing = int(np.sum(np.maximum(0, steps // 960 - 1))) if len(steps) else 0
    await client.hang_up()
    await client.close()
    return {"session": session_id, "fps": frames / span, "missing_audio_packets": missing}


def server_underruns(server: Server, session_ids: list[str]) -> dict[str, float]:
    out = {}
    for line in server.log().splitlines():
        for sid in session_ids:
            if f"call {sid} ended" in line and "audio underrun" in line:
                out[sid] = float(line.split("audio underrun ")[1].split(" ms")[0])
    return out


async def capacity(
    server: Server, key: str, avatar: str, levels: list[int], seconds: float
) -> dict[str, Any]:
    rows = []
    for n in levels:
        cpu0, t0 = cpu_seconds(server.process.pid), time.monotonic()
        calls = await asyncio.gather(
            *(one_busy_call(server, key, avatar, seconds) for _ in range(n))
        )
        cpu = (cpu_seconds(server.process.pid) - cpu0) / (time.monotonic() - t0)
        await asyncio.sleep(2)
        under = server_underruns(server, [c["session"] for c in calls])
        row = {
            "calls": n,
            "fps_min": _r(min(c["fps"] for c in calls), 2),
            "fps_mean": _r(statistics.mean(c["fps"] for c in calls), 2),
            "missing_audio_packets": sum(c["missing_audio_packets"] for c in calls),
            "server_underrun_ms": round(sum(under.values()), 1),
            "server_cpu_cores": _r(cpu, 2),
        }
        row["holds"] = bool(
            row["fps_min"] >= FPS_TARGET
            and row["missing_audio_packets"] == 0
            and row["server_underrun_ms"] <= 40
        )
        rows.append(row)
        log(f"capacity {n}: {row}")
    held = [r["calls"] for r in rows if r["holds"]]
    return {"levels": rows, "max_calls_holding": max(held) if held else 0, "seconds": seconds}


# -- main -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = (
        Path(args.work)
        if args.work
        else Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-realtime-{os.getpid()}"
    )
    env = {f"CHARACTERS_{k}": v for k, v in SERVER_SETTINGS.items()}
    server, pg = start_server(tmp, env)
    out: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "voice": args.voice,
        "asker": args.asker,
        "persona": PERSONA,
    }
    try:
        models_ready(server)
        key = server.create_key("bench", "--tier", "5", "--credits", "100000000")
        avatar = live_avatar(server, key, voice=args.voice)
        phases = (
            set(args.only.split(",")) if args.only else {"latency", "drift", "barge", "capacity"}
        )
        if args.soak:
            phases.add("soak")
        if "latency" in phases:
            log(f"latency: {args.turns} turns")
            out["latency"] = await latency(server, key, avatar, args.turns, args.asker)
        if "barge" in phases:
            log(f"barge-in: {args.barge} trials")
            out["barge_in"] = await barge(server, key, avatar, args.barge, args.asker)
        if "capacity" in phases:
            levels = [int(x) for x in args.capacity.split(",")]
            out["capacity"] = await capacity(server, key, avatar, levels, args.capacity_s)
        if "drift" in phases:
            log(f"drift: a call of {args.drift_minutes} min")
            out["drift"] = await drift(server, key, avatar, args.drift_minutes)
        if "soak" in phases and args.soak:
            from tests.soak import soak, usage

            marks: list[dict[str, Any]] = []

            def progress(done: int, total: int) -> None:
                if done % 100 == 0 or done == total:
                    u = usage(server)
                    marks.append({"calls": done, **u.__dict__})
                    log(f"soak {done}/{total}: {u}")

            log(f"soak: {args.soak} calls")
            result = await soak(server, key, avatar, args.soak, progress=progress)
            out["soak"] = {**result.as_dict(), "progress": marks}
    finally:
        stop_server(server, pg)
    return out


def report(out: dict[str, Any]) -> None:
    print()
    if "latency" in out:
        lat = out["latency"]
        print("latency at the client                        p50      p95      n")
        for label, key in (
            ("end of speech → first audible answer", "voice_to_voice_audio_s"),
            ("end of speech → mouth opens (video)", "voice_to_voice_mouth_s"),
            ("offer → first video frame", "connect_to_first_frame_s"),
            ("  of which: end of speech → turn ended", "turn_end_detected_s"),
            ("  end of speech → answer starts playing", "answer_starts_playing_s"),
        ):
            s = lat[key]
            print(f"  {label:42} {s['p50']!s:>7} s {s['p95']!s:>6} s {s['n']:>4}")
    if "barge_in" in out:
        b = out["barge_in"]
        print(
            f"barge-in: voice stops p50 {b['voice_stop_s']['p50']} s p95 {b['voice_stop_s']['p95']} s; face p50 {b['face_stop_s']['p50']} s (after speech onset + 250 ms)"
        )
    if "drift" in out:
        d = out["drift"]
        print(f"A/V offset (ms, + = video later): {json.dumps(d['offsets'])}")
        print(
            f"A/V drift over 5 min: {d['av_drift_ms_per_5_min']} ms; fps {d['received_fps']}; server CPU {d['server_cpu_cores_per_call']} cores per call"
        )
    if "capacity" in out:
        for row in out["capacity"]["levels"]:
            print(f"capacity {row}")
        print(
            f"max concurrent calls holding ≥ {FPS_TARGET} fps without audio gaps: {out['capacity']['max_calls_holding']}"
        )
    if "soak" in out:
        s = out["soak"]
        print(
            f"soak: {s['calls']} calls in {s['seconds']:.0f} s; before {s['before']}; after {s['after']}; statuses {s['statuses']}; errors {len(s['errors'])}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--turns", type=int, default=12)
    p.add_argument("--barge", type=int, default=5)
    p.add_argument("--drift-minutes", type=float, default=5.0)
    p.add_argument(
        "--capacity", default="1,2,3,4", help="concurrent calls to try (default 1,2,3,4)"
    )
    p.add_argument("--capacity-s", type=float, default=60.0)
    p.add_argument("--soak", type=int, default=0, help="short calls for the soak (0: none)")
    p.add_argument("--voice", default="vincent", help="the character's preset voice")
    p.add_argument("--asker", default="victoria", help="the voice that asks the questions")
    p.add_argument(
        "--only", default="", help="comma-separated phases: latency,drift,barge,capacity,soak"
    )
    p.add_argument("--work", default="", help="folder for the server's data (default: a temp dir)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "realtime.json"))
    args = p.parse_args()
    out = asyncio.run(run(args))
    report(out)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
