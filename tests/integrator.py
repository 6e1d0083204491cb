"""The example integrator (``examples/integrator``) as a real uvicorn process on loopback, for
the tests that call the live server from an integrator's page (the widget, Runway's React SDK).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port

EXAMPLE = ROOT / "examples" / "integrator"


@dataclass
class Integrator:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_integrator(tmp: Path, env: dict[str, str], *, as_script: bool = False) -> Integrator:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CHARACTERS_", "RUNWAYML_"))}
    clean.update(env, PORT=str(port))
    if as_script:
        command = [sys.executable, str(EXAMPLE / "app.py")]
    else:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--app-dir",
            str(EXAMPLE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    tmp.mkdir(parents=True, exist_ok=True)
    log_path = tmp / "integrator.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=clean, stdout=log, stderr=subprocess.STDOUT)
    site = Integrator(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(site.url + "/", timeout=1).status_code == 200:
                return site
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_integrator(site)
            raise RuntimeError("the integrator did not start:\n" + site.log())
        time.sleep(0.1)


def stop_integrator(site: Integrator) -> None:
    site.process.terminate()
    try:
        site.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        site.process.kill()
        site.process.wait(timeout=10)
