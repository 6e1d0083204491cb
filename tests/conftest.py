"""Shared fixtures: real servers on loopback, real databases, the official SDK.

Database choice: SQLite by default. Set ``CHARACTERS_TEST_DATABASE_URL`` to a PostgreSQL URL
whose user may create databases (CI does, for the ``store``-marked tests) and every server
started here gets a fresh database there instead, dropped afterwards.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from characters.models.registry import Kind, Model, ModelFile, Package, Part

ROOT = Path(__file__).resolve().parent.parent
API_VERSION = "2024-11-06"
AVATAR_KEYS = {
    "id",
    "name",
    "personality",
    "startScript",
    "voice",
    "referenceImageUri",
    "processedImageUri",
    "documentIds",
    "createdAt",
    "updatedAt",
    "status",
}
"""Keys of every avatar on the wire (``failureReason`` is added only when FAILED)."""
PG_URL = os.environ.get("CHARACTERS_TEST_DATABASE_URL", "")

# Every server, CLI and engine of a test run shares one folder of assembled models (650 MB), so
# each test data dir does not assemble its own; tests of assembly itself pass their own folder.
os.environ.setdefault(
    "CHARACTERS_MODELS_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "characters-test-models")
)


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the run without the interpreter's finalisation once LiveKit's native client (the
    ``livekit`` package's Rust FFI) has run in this process: its tokio threads are still up
    then, and one panicked while Python tore down ("panic in a function that cannot unwind"),
    aborting a PostgreSQL pass whose 204 tests had all passed (exit 134). Everything pytest
    writes is written by now (this hook runs last)."""
    if "livekit.rtc" in sys.modules and _EXIT_STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])


def uninstalled_model(
    model_id: str, kind: Kind, package: str, version: str, *, folder: str = "", file: str = "m.bin"
) -> Model:
    """A registry record (:class:`characters.models.Model`) whose one package, ``package==version``
    (module ``package`` with ``_``), is not installed; register it with
    ``monkeypatch.setitem(MODELS, record.id, record)``."""
    module = package.replace("-", "_")
    return Model(
        id=model_id,
        kind=kind,
        title="not installed",
        packages=(Package(package, version, module),),
        home=Part(module, folder),
        files=(ModelFile(file, 10),),
        entry=file,
        licence="-",
        upstream="-",
        provenance="-",
        used_by="-",
        default=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def png_bytes(
    size: tuple[int, int] = (640, 480), color: tuple[int, int, int] = (180, 140, 110)
) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


@functools.cache
def face_png(
    size: tuple[int, int] = (640, 480), color: tuple[int, int, int] = (180, 140, 110)
) -> bytes:
    """A portrait that face analysis accepts: Grace Hopper's photo (matplotlib sample data),
    scaled to the height of ``size`` and centred on a plain ``color`` background (so different
    colours give different images; the corners show the colour)."""
    from PIL import Image

    from tests.face_assets import hopper_bytes

    face = Image.open(io.BytesIO(hopper_bytes())).convert("RGB")
    scale = min(size[0] / face.width, size[1] / face.height)
    face = face.resize((round(face.width * scale), round(face.height * scale)))
    img = Image.new("RGB", size, color)
    img.paste(face, ((size[0] - face.width) // 2, (size[1] - face.height) // 2))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@dataclass
class PgDatabase:
    """A throwaway PostgreSQL database on the server named by CHARACTERS_TEST_DATABASE_URL."""

    admin_url: str
    name: str = field(default_factory=lambda: "characters_test_" + uuid.uuid4().hex[:12])

    @property
    def url(self) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{self.name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> None:
        self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class Server:
    """A `characters serve` process on loopback, with its own data dir and database."""

    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the `characters` CLI against this server's data dir and database; with ``check``
        a failure names the command and carries its stderr (CI shows nothing else)."""
        done = subprocess.run(
            [sys.executable, "-m", "characters", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode:
            raise AssertionError(
                f"`characters {' '.join(args)}` exited {done.returncode}:\n{done.stderr[-4000:]}"
            )
        return done

    def create_key(self, name: str = "test", *extra: str) -> str:
        out = self.cli("keys", "create", "--name", name, *extra)
        return out.stdout.strip().splitlines()[-1]

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"X-Runway-Version": API_VERSION}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def sdk(self, key: str, **kwargs: Any) -> Any:
        import runwayml

        return runwayml.RunwayML(api_key=key, base_url=self.base_url, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    tmp: Path, env_overrides: dict[str, str] | None = None
) -> tuple[Server, PgDatabase | None]:
    pg = PgDatabase(PG_URL) if PG_URL else None
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHARACTERS_", "RUNWAYML_"))}
    env.update(
        CHARACTERS_DATA_DIR=str(tmp / "data"),
        CHARACTERS_PORT=str(port),
        CHARACTERS_HOST="127.0.0.1",
        CHARACTERS_LOG_LEVEL="warning",
        CHARACTERS_SWEEP_INTERVAL_S="0.2",
        CHARACTERS_MODELS_DIR=os.environ["CHARACTERS_MODELS_DIR"],
        # Most tests make no calls: no 4 s of model loading per server (call tests turn it on),
        # and the machine's call capacity does not queue the sessions of admission tests.
        CHARACTERS_PRELOAD_MODELS="false",
        CHARACTERS_MAX_CALLS="100",
    )
    if pg is not None:
        pg.create()
        env["CHARACTERS_DATABASE_URL"] = pg.url
    env.update(env_overrides or {})
    tmp.mkdir(parents=True, exist_ok=True)
    log_path = tmp / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "characters", "serve"],
        env=env,
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,  # noqa: SIM115
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base_url + "/v1/organization", timeout=1).status_code == 401:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start:\n" + log_path.read_text(errors="replace"))
        time.sleep(0.1)
    return Server(base_url, tmp / "data", env, proc, log_path), pg


def stop_server(server: Server, pg: PgDatabase | None) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if pg is not None:
        pg.drop()


ServerFactory = Callable[..., Server]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers with extra ``CHARACTERS_*`` settings: ``server_factory(SESSION_READY_TTL_S="1")``."""
    started: list[tuple[Server, PgDatabase | None]] = []

    def make(**settings: str) -> Server:
        env = {f"CHARACTERS_{k.upper()}": str(v) for k, v in settings.items()}
        srv, pg = start_server(tmp_path / f"srv{len(started)}", env)
        started.append((srv, pg))
        return srv

    yield make
    for srv, pg in started:
        stop_server(srv, pg)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by a test module (default settings)."""
    srv, pg = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    stop_server(srv, pg)


@pytest.fixture
def api_key(server: Server) -> str:
    """A fresh organisation (and key) per test, so tests never see each other's data."""
    return server.create_key("test", "--tier", "2")


@pytest.fixture
def client(server: Server, api_key: str) -> Any:
    return server.sdk(api_key, max_retries=0)


@pytest.fixture
def image_uri() -> str:
    """A reference image that processes to READY (a face; flat images now fail: no face)."""
    return data_uri(face_png())


def wait_for(predicate: Callable[[], Any], timeout: float = 10, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


def ready_avatar(client: Any, uri: str, **kwargs: Any) -> Any:
    """Create an avatar and wait until it leaves PROCESSING."""
    avatar = client.avatars.create(
        name=kwargs.pop("name", "Ada"),
        personality=kwargs.pop("personality", "A friendly guide."),
        reference_image=uri,
        voice={"type": "runway-live-preset", "presetId": "clara"},
        **kwargs,
    )
    return wait_for(lambda: (a := client.avatars.retrieve(avatar.id)).status != "PROCESSING" and a)


# Live calls (tests/calls.py has the helpers)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the real conversation models loaded, for a module's live calls."""
    from tests.calls import LIVE_SETTINGS, models_ready

    env = {f"CHARACTERS_{k}": v for k, v in LIVE_SETTINGS.items()}
    srv, pg = start_server(tmp_path_factory.mktemp("live"), env)
    models_ready(srv)
    yield srv
    stop_server(srv, pg)


@pytest.fixture(scope="module")
def key(live: Server) -> str:
    """A tier-3 key on the ``live`` server (modules may define their own ``key``)."""
    return live.create_key("calls", "--tier", "3")


@pytest.fixture(scope="module")
def avatar(live: Server, key: str) -> str:
    """The museum guide of ``tests/calls.py`` on the ``live`` server."""
    from tests.calls import live_avatar

    return live_avatar(live, key)
