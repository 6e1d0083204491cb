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
  arrived, and offer → first video frame; with a client that decodes only the audio (as a client
  on another machine would cost this one nothing), then ``--mouth-turns`` more with the video
  decoded too, where the end of speech → first frame with the mouth opening (face mesh) is
  measured as well.
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
import math
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
from characters.realtime.client import CallClient, ReceivedCall  # noqa: E402
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
    server: Server,
    key: str,
    avatar: str,
    frames: Frames | None = None,
    *,
    decode_video: bool = True,
    **extra: Any,
) -> tuple[str, Any]:
    session_id, session_key = await asyncio.to_thread(create_session, server, key, avatar, **extra)
    creds = await asyncio.to_thread(consume, server, session_id, session_key)
    client: Any
    if creds["url"].startswith(("ws://", "wss://")):  # LiveKit mode (bench/livekit.py)
        from characters.realtime.livekit_client import RoomClient

        # LiveKit's SDK decodes the video it subscribes to either way; frames are handed on
        # only when they are measured.
        client = RoomClient(
            creds["url"], creds["token"], on_video=frames if decode_video else None, timeout_s=30
        )
    else:
        client = CallClient(
            creds["url"], creds["token"], on_video=frames, timeout_s=30, decode_video=decode_video
        )
    await client.connect()
    return session_id, client


async def wait_answer(
    client: ReceivedCall, after: float, wait_s: float = 60
) -> tuple[float, float]:
    """(when the character started speaking, when it went back to listening) after ``after``."""
    await client.wait_event(is_state("speaking"), wait_s, after=after)
    start = client.event_time(is_state("speaking"), after=after)
    assert start is not None
    await client.wait_event(is_state("listening"), wait_s, after=start)
    end = client.event_time(is_state("listening"), after=start)
    assert end is not None
    return start, end


async def wait_first_frame(client: Any) -> float | None:
    for _ in range(1000):  # 10 s
        if client.first_frame_at is not None:
            return client.first_frame_at - client.offered_at
        await asyncio.sleep(0.01)
    return None


def apertures(frames: list[tuple[float, int, Any]]) -> list[tuple[float, int, float]]:
    out = []
    for at, pts, frame in frames:
        small = frame.reformat(width=frame.width // 2, height=frame.height // 2)
        value = mouth_aperture(small.to_ndarray(format="rgb24"))
        if value is not None:
            out.append((at, pts, value))
    return out


# -- latency --------------------------------------------------------------------------------


async def latency(
    server: Server, key: str, avatar: str, turns: int, asker: str, *, decode_video: bool
) -> dict[str, Any]:
    """``decode_video``: the client decodes the video (and the mouth is measured on it); without,
    it counts video frames as they arrive and only decodes audio, as a client on another machine
    would cost this one nothing."""
    speech = {q: spoken(q, asker) for q in QUESTIONS}
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]
    to_audio, to_mouth, connects, heard_ok = [], [], [], 0
    per_turn = []
    for start in range(0, turns, 3):
        frames = Frames()
        _, client = await join(server, key, avatar, frames, decode_video=decode_video)
        connects.append(await wait_first_frame(client))
        await wait_answer(client, client.offered_at)  # the start script
        frames.keep = decode_video
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
                if t >= end and e.get("type") == "transcription" and e.get("role") == "assistant"
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


def sender_rate(media: Any) -> float | None:
    """Media seconds per second of the sender's clock, from the RTCP sender reports: how fast
    the stream's timestamps run against the wall clock the sender stamps them with."""
    if len(media.reports) < 10:
        return None
    raw = np.asarray([r[0] for r in media.reports], dtype=np.float64)
    rtp = np.unwrap(raw * 2 * np.pi / 2**32) * 2**32 / (2 * np.pi) / media.clock_rate
    ntp = np.asarray([r[1] for r in media.reports])
    return float(np.polyfit(ntp - ntp[0], rtp - rtp[0], 1)[0])


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
    audio_rate, video_rate = sender_rate(client.audio), sender_rate(client.video)
    span = client.video.arrivals[-1] - client.video.arrivals[0]
    start_ms, after_ms = (results[k]["offset_sender_ms"] for k in ("start", "after"))
    await client.hang_up()
    await client.close()
    drift_ms = None
    if audio_rate is not None and video_rate is not None:
        drift_ms = (audio_rate - video_rate) * span * 1000
    return {
        "offsets": results,
        "offset_change_ms": None if start_ms is None or after_ms is None else after_ms - start_ms,
        "audio_rate_vs_sender_clock": _r(audio_rate, 6),
        "video_rate_vs_sender_clock": _r(video_rate, 6),
        "av_clock_drift_ms_over_call": _r(drift_ms, 1),
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
    voice_stop, face_stop, after_decision = [], [], []
    for _ in range(trials):
        # The start script (3.8 s, always the same) is cut off 0.8 s in: a new call each time.
        frames = Frames()
        _, client = await join(server, key, avatar, frames)
        await client.wait_event(is_state("speaking"), 30)
        await asyncio.sleep(0.8)
        frames.keep = True
        utterance = client.play(pcm, rate)
        try:
            await client.wait_event(
                lambda e: e.get("type") == "interrupted" and e.get("turn") == 0, 15
            )
        except TimeoutError:
            log("barge-in: the start script was not interrupted; trial skipped")
            await client.hang_up()
            await client.close()
            continue
        decided = client.event_time(lambda e: e.get("type") == "interrupted")
        await asyncio.sleep(1.5)
        frames.keep = False
        point = (utterance.started_at or 0) + onset + 0.25
        # Until the character answers what the user said (if it did within the window).
        until = min(
            point + 1.2,
            client.event_time(is_state("speaking"), after=decided or point) or math.inf,
        )
        last = client.last_voice(before=until)
        faces = [f for f in apertures(frames.items) if f[0] < until]
        rest = min(a for _, _, a in faces) if faces else 0
        open_after = [at for at, _, a in faces if a > rest + 0.08 and at >= point - 0.5]
        if last is not None and decided is not None:
            voice_stop.append(last - point)
            after_decision.append(last - decided)
            face_stop.append((max(open_after) - point) if open_after else 0.0)
            log(
                f"barge-in: voice stopped {voice_stop[-1] * 1000:.0f} ms after the barge-in "
                f"point, {after_decision[-1] * 1000:.0f} ms after the server decided; "
                f"face {face_stop[-1] * 1000:.0f} ms"
            )
        await client.hang_up()
        await client.close()
    return {
        "voice_stop_s": summary(voice_stop),
        "voice_stop_after_decision_s": summary(after_decision),
        "face_stop_s": summary(face_stop),
    }


# -- capacity -------------------------------------------------------------------------------


async def one_busy_call(server: Server, key: str, avatar: str, seconds: float) -> dict[str, Any]:
    # Video frames are counted as they arrive, not decoded: the client shares this machine.
    session_id, client = await join(server, key, avatar, decode_video=False)
    await wait_answer(client, client.offered_at)
    t0 = time.monotonic()
    n0_video, lost0 = len(client.video.arrivals), client.audio.lost
    while time.monotonic() - t0 < seconds:
        asked = time.monotonic()
        client.send({"type": "user_message", "text": LONG_ASK})
        try:
            await wait_answer(client, asked, wait_s=60)
        except TimeoutError:
            pass
    span = time.monotonic() - t0
    frames = len(client.video.arrivals) - n0_video
    missing = client.audio.lost - lost0
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
    settings = dict(SERVER_SETTINGS)
    for item in args.setting:
        name, _, value = item.partition("=")
        settings[name.upper()] = value
    env = {f"CHARACTERS_{k}": v for k, v in settings.items()}
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
        "settings": args.setting,
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
            log(f"latency: {args.turns} turns, the client decoding audio only")
            out["latency"] = await latency(
                server, key, avatar, args.turns, args.asker, decode_video=False
            )
            log(f"latency: {args.mouth_turns} turns, the client decoding the video too")
            out["latency_decoding_video"] = await latency(
                server, key, avatar, args.mouth_turns, args.asker, decode_video=True
            )
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
    for name, title in (
        ("latency", "latency at the client (decoding audio only)"),
        ("latency_decoding_video", "latency at the client (decoding the video too)"),
    ):
        if name not in out:
            continue
        lat = out[name]
        print(f"{title:44} p50      p95      n")
        for label, key in (
            ("end of speech → first audible answer", "voice_to_voice_audio_s"),
            ("end of speech → mouth opens (video)", "voice_to_voice_mouth_s"),
            ("offer → first video frame", "connect_to_first_frame_s"),
            ("  of which: end of speech → turn ended", "turn_end_detected_s"),
            ("  end of speech → answer starts playing", "answer_starts_playing_s"),
        ):
            s = lat[key]
            if s["n"]:
                print(f"  {label:42} {s['p50']!s:>7} s {s['p95']!s:>6} s {s['n']:>4}")
    if "barge_in" in out:
        b = out["barge_in"]
        print(
            f"barge-in: the voice stops p50 {b['voice_stop_s']['p50']} s, p95 "
            f"{b['voice_stop_s']['p95']} s after the barge-in point (speech onset + 250 ms); "
            f"p50 {b['voice_stop_after_decision_s']['p50']} s after the server decided; the face "
            f"p50 {b['face_stop_s']['p50']} s"
        )
    if "drift" in out:
        d = out["drift"]
        print(f"A/V offset (ms, + = video later): {json.dumps(d['offsets'])}")
        print(
            f"A/V drift: the offset moved {d['offset_change_ms']} ms between the first and the "
            f"last answer; the two streams' clocks differ by {d['av_clock_drift_ms_over_call']} "
            f"ms over the {d['call_s']} s call; fps {d['received_fps']}; server CPU "
            f"{d['server_cpu_cores_per_call']} cores per call"
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
    p.add_argument(
        "--mouth-turns", type=int, default=9, help="turns with the video decoded (the mouth)"
    )
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
    p.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting, e.g. --setting TURN_SILENCE_MS=500 (repeatable)",
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
