"""LiveKit mode against the embedded transport, measured at the client in one run.

Starts a real livekit-server on loopback (``scripts/livekit-server.sh``), then, one after the
other, ``characters serve`` with the embedded transport and in LiveKit mode (the same models,
character and questions), and measures each from its own kind of client: the project's WebRTC
client (aiortc) for the embedded transport, LiveKit's Python SDK (the same libwebrtc as LiveKit's
browser SDK builds on) for a LiveKit room. The phases are those of ``bench/realtime.py``:

* ``latency``: ``--turns`` spoken questions, end of the user's speech (last voiced sample sent)
  → first audible answer sample received; join → first video frame (at least 10 joins);
* ``capacity``: in LiveKit mode only (one Characters process is one LiveKit worker), 1, 2, …
  concurrent calls whose characters talk non-stop for ``--capacity-s``: received fps per call,
  the server's audio underruns; the most calls that hold ≥ 24 fps.

Client and servers share the machine; the LiveKit client decodes the video it receives (the SDK
does whenever video is subscribed), the embedded client here only counts its frames.

    python bench/livekit.py                        # both phases (about 10 min)
    python bench/livekit.py --only latency --turns 12

Prints a table and writes JSON (default ``bench/results/livekit.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file has the LiveKit SDK's name: its folder, which Python put first on the import path,
# would hide the SDK's `livekit` package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
os.environ.setdefault(
    "CHARACTERS_MODELS_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "characters-test-models")
)

from bench.realtime import SERVER_SETTINGS, capacity, latency, log  # noqa: E402
from tests.calls import live_avatar, models_ready  # noqa: E402
from tests.conftest import start_server, stop_server  # noqa: E402
from tests.livekit import start_livekit  # noqa: E402


async def measure(
    mode: str, env: dict[str, str], tmp: Path, args: argparse.Namespace, phases: set[str]
) -> dict[str, Any]:
    server, pg = start_server(tmp / mode, env)
    out: dict[str, Any] = {}
    try:
        models_ready(server)
        key = server.create_key("bench", "--tier", "5", "--credits", "100000000")
        avatar = live_avatar(server, key, voice=args.voice)
        if "latency" in phases:
            log(f"{mode}: latency, {args.turns} turns")
            out["latency"] = await latency(
                server, key, avatar, args.turns, args.asker, decode_video=False
            )
        if "capacity" in phases and mode == "livekit":
            levels = [int(x) for x in args.capacity.split(",")]
            out["capacity"] = await capacity(server, key, avatar, levels, args.capacity_s)
    finally:
        stop_server(server, pg)
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(args.work or Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-lk-{os.getpid()}")
    await asyncio.to_thread(tmp.mkdir, parents=True, exist_ok=True)
    phases = set(args.only.split(",")) if args.only else {"latency", "capacity"}
    settings = {f"CHARACTERS_{k}": v for k, v in SERVER_SETTINGS.items()}
    out: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "voice": args.voice,
        "asker": args.asker,
    }
    livekit = start_livekit(tmp)
    lk = next(livekit)
    try:
        lk_env = {f"CHARACTERS_{k}": v for k, v in lk.settings().items()}
        out["embedded"] = await measure("embedded", settings, tmp, args, phases)
        out["livekit"] = await measure("livekit", {**settings, **lk_env}, tmp, args, phases)
    finally:
        livekit.close()
    return out


def report(out: dict[str, Any]) -> None:
    print("\n| | embedded (WebRTC, aiortc client) | LiveKit (LiveKit client) |")
    print("|---|---|---|")
    for label, field in (
        ("end of speech → first audible answer, p50 / p95", "voice_to_voice_audio_s"),
        ("end of speech → the turn ended (user transcription)", "turn_end_detected_s"),
        ("join → first video frame, p50 / p95", "connect_to_first_frame_s"),
    ):
        cells = []
        for mode in ("embedded", "livekit"):
            d = out.get(mode, {}).get("latency", {}).get(field)
            cells.append(f"{d['p50']} / {d['p95']} s (n={d['n']})" if d and d.get("n") else "–")
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    cap = out.get("livekit", {}).get("capacity")
    if cap:
        for level in cap["levels"]:
            print(f"LiveKit capacity {level}")
        print(f"calls one process holds at ≥ 24 fps in LiveKit mode: {cap['max_calls_holding']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--turns", type=int, default=12)
    p.add_argument("--capacity", default="1,2", help="concurrent calls to try (default 1,2)")
    p.add_argument("--capacity-s", type=float, default=60.0)
    p.add_argument("--voice", default="vincent", help="the character's preset voice")
    p.add_argument("--asker", default="victoria", help="the voice that asks the questions")
    p.add_argument("--only", default="", help="comma-separated phases: latency,capacity")
    p.add_argument("--work", default="", help="folder for the servers' data (default: a temp dir)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "livekit.json"))
    args = p.parse_args()
    out = asyncio.run(run(args))
    report(out)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
