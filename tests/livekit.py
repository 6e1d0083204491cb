"""A real LiveKit server for the tests of LiveKit mode, on loopback.

The binary comes from ``scripts/livekit-server.sh`` (a cached build of livekit-server from the
Go module proxy; scripts/test.sh builds it before the tests). Without it the tests are skipped
outside CI and fail in CI. Each test module gets its own server on free ports, with the loopback
candidate on and no external IP discovery (nothing off the machine is asked).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.calls import LIVE_SETTINGS, models_ready
from tests.conftest import Server, free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
KEY = "testkey"
SECRET = "characters-test-secret-0123456789abcdef"


@dataclass(frozen=True)
class LiveKit:
    url: str
    key: str
    secret: str
    log: Path

    def settings(self) -> dict[str, str]:
        """The server settings of LiveKit mode for ``server_factory``."""
        return {
            "LIVEKIT_URL": self.url,
            "LIVEKIT_API_KEY": self.key,
            "LIVEKIT_API_SECRET": self.secret,
        }


def livekit_binary() -> str:
    try:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts/livekit-server.sh")],
            capture_output=True,
            text=True,
            timeout=1800,
            check=True,
        )
    except subprocess.CalledProcessError as e:
        message = f"no livekit-server (scripts/livekit-server.sh): {e.stderr.strip()[-500:]}"
        if os.environ.get("CI") in ("true", "1"):
            pytest.fail(message)
        pytest.skip(message)
    return done.stdout.strip().splitlines()[-1]


def start_livekit(tmp: Path) -> Iterator[LiveKit]:
    binary = livekit_binary()
    port, tcp = free_port(), free_port()
    udp = free_port()  # a free UDP range near a free port is likely; LiveKit fails loudly if not
    config = tmp / "livekit.yaml"
    config.write_text(
        f"""port: {port}
bind_addresses: ["127.0.0.1"]
rtc:
  tcp_port: {tcp}
  port_range_start: {udp}
  port_range_end: {udp + 40}
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
room:
  auto_create: false
keys:
  {KEY}: {SECRET}
logging:
  level: warn
"""
    )
    log = tmp / "livekit.log"
    proc = subprocess.Popen(
        [binary, "--config", str(config)], stdout=open(log, "wb"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("livekit-server did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.1)
    try:
        yield LiveKit(f"ws://127.0.0.1:{port}", KEY, SECRET, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_live_server(
    livekit: LiveKit, tmp: Path, extra: dict[str, str] | None = None
) -> Iterator[Server]:
    """The real server in LiveKit mode on ``livekit``, its models loaded (for a module-scoped
    fixture: ``yield from``). ``extra`` settings go on top, without the ``CHARACTERS_``."""
    settings = {**LIVE_SETTINGS, **livekit.settings(), **(extra or {})}
    srv, pg = start_server(tmp, {f"CHARACTERS_{k}": v for k, v in settings.items()})
    models_ready(srv)
    yield srv
    stop_server(srv, pg)
