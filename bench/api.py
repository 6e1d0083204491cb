"""API benchmark: avatar create → READY latency and CRUD throughput against a real server.

Starts ``python -m characters serve`` on a free loopback port with a throwaway data dir (SQLite by
default; ``--database-url postgresql://…`` targets PostgreSQL, in a throwaway database created on
that server and dropped afterwards unless ``--use-database-as-is``), creates a tier-5 key, then:

(a) avatars: ``--avatars`` sequential creates with a 1088x704 JPEG portrait data URI (so each
    goes through face analysis), each polled with GET every 10 ms until READY; reports
    p50/p95/max of create → READY (target p95 ≤ 300 ms).
(b) CRUD: ``--clients`` concurrent clients (one ``httpx.AsyncClient`` each) for ``--duration``
    seconds, each looping over GET avatar, POST document, GET avatars?limit=20, PATCH document,
    GET document, DELETE document; reports requests/s, p50/p95/p99 per operation and overall,
    and errors (target 0).

Prints a table and writes JSON (default ``bench/results/api.json``)::

    .venv/bin/python bench/api.py
    .venv/bin/python bench/api.py --database-url postgresql://characters:characters@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
API_VERSION = "2024-11-06"
DEFAULT_OUT = ROOT / "bench" / "results" / "api.json"
AVATAR_P95_TARGET_MS = 300.0
POLL_INTERVAL_S = 0.010
IMAGE_SIZE = (1088, 704)
OPS = [
    "get_avatar",
    "create_document",
    "list_avatars",
    "update_document",
    "get_document",
    "delete_document",
]
OP_LABELS = {
    "get_avatar": "GET /v1/avatars/{id}",
    "list_avatars": "GET /v1/avatars?limit=20",
    "create_document": "POST /v1/documents",
    "update_document": "PATCH /v1/documents/{id}",
    "get_document": "GET /v1/documents/{id}",
    "delete_document": "DELETE /v1/documents/{id}",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A failure that ends the benchmark with a clear message (no traceback)."""


# Statistics


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize_ms(values_s: list[float]) -> dict[str, Any]:
    ms = sorted(v * 1000 for v in values_s)
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "min_ms": round(ms[0], 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2),
    }


# The server under test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process in bytes (Linux /proc; empty elsewhere)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a process has used (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def own_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@dataclass
class PgThrowaway:
    """A database created for this run on the PostgreSQL server of ``admin_url``."""

    admin_url: str
    name: str = field(default_factory=lambda: "characters_bench_" + uuid.uuid4().hex[:12])

    @property
    def url(self) -> str:
        base, _, _ = self.admin_url.partition("?")[0].rpartition("/")
        return f"{base}/{self.name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        url = self.admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self) -> None:
        self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class ServerProcess:
    """``python -m characters serve`` in a temp data dir; always stopped by ``stop()``."""

    def __init__(self, database_url: str | None, log_level: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="characters-bench-"))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.tmp / "server.log"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("CHARACTERS_", "RUNWAYML_"))
        }
        self.env.update(
            CHARACTERS_DATA_DIR=str(self.tmp / "data"),
            CHARACTERS_HOST="127.0.0.1",
            CHARACTERS_PORT=str(self.port),
            CHARACTERS_LOG_LEVEL=log_level,
        )
        if database_url:
            self.env["CHARACTERS_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[bytes] | None = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"

    def start(self, timeout_s: float = 60) -> None:
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "characters", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            code = self.process.poll()
            if code is not None:
                raise BenchError(
                    f"the server exited with status {code} while starting. Its log:\n"
                    + self.log_tail()
                )
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the server did not answer /healthz within {timeout_s:g} s. Its log:\n"
                    + self.log_tail()
                )
            time.sleep(0.1)

    def create_key(self, name: str = "bench", tier: int = 5) -> str:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "characters",
                "keys",
                "create",
                "--name",
                name,
                "--tier",
                str(tier),
            ],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise BenchError(f"`characters keys create` failed:\n{out.stderr or out.stdout}")
        lines = out.stdout.strip().splitlines()
        if not lines or not lines[-1].startswith("key_"):
            raise BenchError(f"`characters keys create` printed no key:\n{out.stdout}")
        return lines[-1]

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> int | None:
        """Terminate (then kill) the server; returns its exit status. Removes the temp dir."""
        code = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log("the server did not stop within 15 s of SIGTERM; killing it")
                self.process.kill()
                code = self.process.wait()
        elif self.process is not None:
            code = self.process.returncode
        shutil.rmtree(self.tmp, ignore_errors=True)
        return code


# Workload


def reference_jpeg(size: tuple[int, int] = IMAGE_SIZE) -> bytes:
    """A 1088x704 JPEG portrait: scikit-image's astronaut (Eileen Collins) scaled to the full
    height and centred on a photo-like background of gradients plus grain. Face analysis runs on
    every avatar, so the image must show a face (a flat image now ends FAILED, "no face")."""
    from PIL import Image, ImageFilter

    w, h = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.effect_noise(size, 48).filter(ImageFilter.GaussianBlur(1.2))
    img = Image.merge("RGB", (red, green, blue))
    try:
        from skimage import data

        face = Image.fromarray(data.astronaut())
    except ImportError:  # scikit-image is a test dependency; matplotlib ships Grace Hopper
        import matplotlib

        face = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    scale = h / face.height
    face = face.convert("RGB").resize((round(face.width * scale), h), Image.Resampling.LANCZOS)
    img.paste(face, ((w - face.width) // 2, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    assert img.size == (w, h)
    return buf.getvalue()


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Runway-Version": API_VERSION}


async def bench_avatars(base_url: str, key: str, count: int, timeout_s: float) -> dict[str, Any]:
    image = reference_jpeg()
    uri = "data:image/jpeg;base64," + base64.b64encode(image).decode()
    log(
        f"avatars: {count} sequential creates, reference image {len(image) / 1024:.0f} KiB JPEG "
        f"{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}"
    )
    ready_s: list[float] = []
    post_s: list[float] = []
    polls: list[int] = []
    errors: list[str] = []
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers(key), timeout=30) as http:
        for i in range(count):
            body = {
                "name": f"Bench {i}",
                "personality": "A calm, helpful guide used by the benchmark.",
                "referenceImage": uri,
                "voice": {"type": "runway-live-preset", "presetId": "clara"},
            }
            t0 = time.perf_counter()
            try:
                resp = await http.post("/v1/avatars", json=body)
            except httpx.HTTPError as e:
                errors.append(f"create {i}: {type(e).__name__}: {e}")
                continue
            t_post = time.perf_counter() - t0
            if resp.status_code != 200:
                errors.append(f"create {i}: HTTP {resp.status_code} {resp.text[:200]}")
                continue
            avatar = resp.json()
            avatar_id = avatar["id"]
            n_polls = 0
            status = avatar["status"]
            while status == "PROCESSING":
                if time.perf_counter() - t0 > timeout_s:
                    break
                await asyncio.sleep(POLL_INTERVAL_S)
                n_polls += 1
                try:
                    got = await http.get(f"/v1/avatars/{avatar_id}")
                except httpx.HTTPError as e:
                    errors.append(f"poll {i}: {type(e).__name__}: {e}")
                    break
                if got.status_code != 200:
                    errors.append(f"poll {i}: HTTP {got.status_code} {got.text[:200]}")
                    break
                avatar = got.json()
                status = avatar["status"]
            elapsed = time.perf_counter() - t0
            if status != "READY":
                reason = avatar.get("failureReason") or f"still {status} after {elapsed:.1f} s"
                errors.append(f"avatar {i} ({avatar_id}): {status}: {reason}")
                continue
            ids.append(avatar_id)
            ready_s.append(elapsed)
            post_s.append(t_post)
            polls.append(n_polls)
            if (i + 1) % 10 == 0 or i + 1 == count:
                recent = sorted(ready_s[-10:])
                log(
                    f"avatars: {i + 1}/{count} READY, last 10 p50 "
                    f"{percentile(recent, 50) * 1000:.0f} ms"
                )
    summary = summarize_ms(ready_s)
    return {
        "count_requested": count,
        "image_bytes": len(image),
        "image_size": list(IMAGE_SIZE),
        "poll_interval_ms": POLL_INTERVAL_S * 1000,
        "create_to_ready": summary,
        "create_request": summarize_ms(post_s),
        "mean_polls": round(sum(polls) / len(polls), 2) if polls else None,
        "target_p95_ms": AVATAR_P95_TARGET_MS,
        "meets_target": bool(ready_s) and not errors and summary["p95_ms"] <= AVATAR_P95_TARGET_MS,
        "errors": len(errors),
        "error_samples": errors[:10],
        "avatar_ids": ids,
    }


@dataclass
class CrudStats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


async def crud_client(
    n: int,
    base_url: str,
    key: str,
    avatar_ids: list[str],
    stop_at: float,
    measure_from: float,
    stats: CrudStats,
) -> None:
    rng = random.Random(n)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers(key), timeout=30, limits=limits
    ) as http:

        async def call(
            op: str, method: str, url: str, expect: int, **kw: Any
        ) -> httpx.Response | None:
            t0 = time.perf_counter()
            resp: httpx.Response | None = None
            failure: str | None = None
            try:
                resp = await http.request(method, url, **kw)
            except httpx.HTTPError as e:
                failure = f"{type(e).__name__}: {e}"
            else:
                if resp.status_code != expect:
                    failure = f"HTTP {resp.status_code} {resp.text[:200]}"
            t1 = time.perf_counter()
            if t0 >= measure_from:  # warm-up calls are made but not counted
                if failure is None:
                    stats.latencies[op].append(t1 - t0)
                else:
                    stats.errors[op] += 1
                    if len(stats.error_samples) < 20:
                        stats.error_samples.append(f"{op} ({method} {url}): {failure}")
            return resp if failure is None else None

        i = 0
        while time.perf_counter() < stop_at:
            i += 1
            await call("get_avatar", "GET", f"/v1/avatars/{rng.choice(avatar_ids)}", 200)
            if time.perf_counter() >= stop_at:
                break
            created = await call(
                "create_document",
                "POST",
                "/v1/documents",
                200,
                json={
                    "name": f"doc {n}-{i}",
                    "content": f"Knowledge for client {n}, round {i}. " * 20,
                },
            )
            if time.perf_counter() >= stop_at:
                break
            await call("list_avatars", "GET", "/v1/avatars", 200, params={"limit": 20})
            if created is None:
                continue
            doc_id = created.json()["id"]
            await call(
                "update_document",
                "PATCH",
                f"/v1/documents/{doc_id}",
                204,
                json={"name": f"doc {n}-{i} (edited)", "content": f"Edited knowledge {i}. " * 20},
            )
            await call("get_document", "GET", f"/v1/documents/{doc_id}", 200)
            await call("delete_document", "DELETE", f"/v1/documents/{doc_id}", 204)


async def bench_crud(
    base_url: str,
    key: str,
    avatar_ids: list[str],
    clients: int,
    duration_s: float,
    warmup_s: float,
    server_pid: int | None,
) -> dict[str, Any]:
    stats = CrudStats()
    start = time.perf_counter()
    measure_from = start + warmup_s
    stop_at = measure_from + duration_s
    log(f"crud: {clients} clients, {warmup_s:g} s warm-up + {duration_s:g} s measured")
    server_cpu0: float | None = None
    client_cpu0 = 0.0

    async def progress() -> None:
        nonlocal server_cpu0, client_cpu0
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        server_cpu0 = proc_cpu_s(server_pid) if server_pid else None
        client_cpu0 = own_cpu_s()
        while True:
            await asyncio.sleep(min(5.0, max(0.5, duration_s / 3)))
            elapsed = time.perf_counter() - measure_from
            if elapsed >= duration_s:
                return
            log(
                f"crud: {elapsed:4.1f}/{duration_s:g} s, {stats.total} requests "
                f"({stats.total / elapsed:.0f}/s), {stats.error_count} errors"
            )

    reporter = asyncio.create_task(progress())
    tasks = [
        asyncio.create_task(crud_client(n, base_url, key, avatar_ids, stop_at, measure_from, stats))
        for n in range(clients)
    ]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    finished = time.perf_counter()
    reporter.cancel()
    for r in results:
        if isinstance(r, BaseException):
            stats.errors["client_crash"] += 1
            stats.error_samples.append(f"client crashed: {type(r).__name__}: {r}")
    # Requests in flight at stop_at finish after it; count the span they actually took.
    elapsed = max(finished - measure_from, 1e-9)
    server_cpu1 = proc_cpu_s(server_pid) if server_pid else None
    per_op = {op: summarize_ms(stats.latencies.get(op, [])) for op in OPS}
    for op in OPS:
        per_op[op]["errors"] = stats.errors.get(op, 0)
        per_op[op]["label"] = OP_LABELS[op]
    all_lat = [v for op in OPS for v in stats.latencies.get(op, [])]
    cpu = {
        "server_cpu_s": round(server_cpu1 - server_cpu0, 2)
        if server_cpu0 is not None and server_cpu1 is not None
        else None,
        "bench_client_cpu_s": round(own_cpu_s() - client_cpu0, 2),
    }
    return {
        "clients": clients,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "elapsed_s": round(elapsed, 3),
        "requests": len(all_lat),
        "requests_per_s": round(len(all_lat) / elapsed, 1),
        "overall": summarize_ms(all_lat),
        "operations": per_op,
        "errors": stats.error_count,
        "error_samples": stats.error_samples,
        "cpu": cpu,
    }


# Machine facts and report


def database_facts(database_url: str | None) -> dict[str, Any]:
    if not database_url or database_url.startswith("sqlite"):
        import sqlite3

        return {"kind": "sqlite", "version": sqlite3.sqlite_version}
    facts: dict[str, Any] = {"kind": "postgresql"}
    try:
        import psycopg

        url = database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            facts["version"] = row[0] if row else None
    except Exception as e:  # facts are best effort
        facts["version_error"] = str(e).splitlines()[0]
    return facts


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }
    if hasattr(os, "sched_getaffinity"):
        facts["cpus_usable"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        facts["load_avg_at_start"] = [round(v, 2) for v in os.getloadavg()]
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["memory_bytes"] = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    return facts


def render(report: dict[str, Any]) -> str:
    out: list[str] = []
    m, db = report["machine"], report["database"]
    out.append(
        f"Characters API benchmark — {db['kind']} {db.get('version', '')}, "
        f"{m['cpu_count']} CPUs, Python {m['python']}"
    )
    if m.get("load_avg_at_start"):
        out.append(
            f"load average at start {m['load_avg_at_start'][0]:.2f}, "
            f"at end {m.get('load_avg_at_end', ['?'])[0]}"
        )
    av = report.get("avatars")
    if av:
        s = av["create_to_ready"]
        out.append("")
        out.append(
            f"(a) avatar create → READY ({av['count_requested']} sequential, "
            f"{av['image_size'][0]}x{av['image_size'][1]} JPEG, "
            f"{av['image_bytes'] / 1024:.0f} KiB, poll {av['poll_interval_ms']:g} ms)"
        )
        if s.get("count"):
            verdict = "meets" if av["meets_target"] else "MISSES"
            out.append(
                f"    p50 {s['p50_ms']:.1f} ms   p95 {s['p95_ms']:.1f} ms   "
                f"max {s['max_ms']:.1f} ms   ({verdict} target p95 ≤ "
                f"{av['target_p95_ms']:g} ms)"
            )
            c = av["create_request"]
            out.append(
                f"    POST alone: p50 {c['p50_ms']:.1f} ms, p95 {c['p95_ms']:.1f} ms; "
                f"mean polls {av['mean_polls']}"
            )
        out.append(f"    errors: {av['errors']}")
        for e in av["error_samples"][:5]:
            out.append(f"      {e}")
    cr = report.get("crud")
    if cr:
        out.append("")
        out.append(
            f"(b) CRUD mix: {cr['clients']} clients, {cr['duration_s']:g} s "
            f"(+{cr['warmup_s']:g} s warm-up): {cr['requests']} requests, "
            f"{cr['requests_per_s']:.0f} req/s, {cr['errors']} errors"
        )
        header = f"    {'operation':<28}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
        out.append(header)
        out.append("    " + "-" * (len(header) - 4))
        rows = [(cr["operations"][op]["label"], cr["operations"][op]) for op in OPS]
        rows.append(("all", dict(cr["overall"], errors=cr["errors"])))
        for label, s in rows:
            if s.get("count"):
                out.append(
                    f"    {label:<28}{s['count']:>8}{s['p50_ms']:>9.1f}{s['p95_ms']:>9.1f}"
                    f"{s['p99_ms']:>9.1f}{s['max_ms']:>9.1f}{s['errors']:>8}"
                )
            else:
                out.append(f"    {label:<28}{0:>8}{'-':>9}{'-':>9}{'-':>9}{'-':>9}{s['errors']:>8}")
        cpu = cr["cpu"]
        if cpu.get("server_cpu_s") is not None:
            out.append(
                f"    CPU during the run: server {cpu['server_cpu_s']:.1f} s, "
                f"bench client {cpu['bench_client_cpu_s']:.1f} s "
                f"(of {cr['elapsed_s'] * (m['cpu_count'] or 1):.0f} CPU·s available)"
            )
        for e in cr["error_samples"][:5]:
            out.append(f"      {e}")
    srv = report.get("server", {})
    if srv.get("rss_bytes"):
        out.append("")
        out.append(
            f"server RSS at end: {srv['rss_bytes'] / 2**20:.0f} MiB "
            f"(peak {srv.get('peak_rss_bytes', 0) / 2**20:.0f} MiB)"
        )
    return "\n".join(out)


async def run(args: argparse.Namespace, server: ServerProcess, report: dict[str, Any]) -> None:
    log(f"starting the server on {server.base_url} (data in {server.tmp})")
    server.start()
    key = server.create_key()
    log("server up; tier-5 key created")
    # Warm the connection path and imports once, outside every measurement.
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers(key)) as http:
        resp = await http.get("/v1/organization")
        if resp.status_code != 200:
            raise BenchError(f"GET /v1/organization answered {resp.status_code}: {resp.text}")
    avatars = await bench_avatars(server.base_url, key, args.avatars, args.avatar_timeout)
    avatar_ids = avatars.pop("avatar_ids")
    report["avatars"] = avatars
    if args.duration > 0 and args.clients > 0:
        if not avatar_ids:
            extra = await bench_avatars(server.base_url, key, 1, args.avatar_timeout)
            avatar_ids = extra["avatar_ids"]
            if not avatar_ids:
                raise BenchError(
                    "could not create an avatar for the CRUD phase: "
                    + "; ".join(extra["error_samples"])
                )
        report["crud"] = await bench_crud(
            server.base_url, key, avatar_ids, args.clients, args.duration, args.warmup, server.pid
        )
    if server.pid:
        st = proc_status(server.pid)
        report["server"] = {
            "pid": server.pid,
            "rss_bytes": st.get("VmRSS"),
            "peak_rss_bytes": st.get("VmHWM"),
        }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--clients", type=int, default=50, help="concurrent CRUD clients [50]")
    p.add_argument("--duration", type=float, default=15.0, help="measured CRUD seconds [15]")
    p.add_argument(
        "--warmup", type=float, default=1.0, help="CRUD warm-up seconds, not counted [1]"
    )
    p.add_argument("--avatars", type=int, default=50, help="sequential avatar creates [50]")
    p.add_argument(
        "--avatar-timeout",
        type=float,
        default=30.0,
        help="seconds one avatar may take to become READY [30]",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="server database (default: SQLite in the temp data dir). A PostgreSQL URL "
        "names the server: a throwaway database is created there and dropped after",
    )
    p.add_argument(
        "--use-database-as-is",
        action="store_true",
        help="use --database-url itself instead of a throwaway database on its server",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"JSON output [{DEFAULT_OUT.relative_to(ROOT)}]",
    )
    p.add_argument(
        "--server-log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
    )
    args = p.parse_args(argv)
    if args.clients < 0 or args.avatars < 0 or args.duration < 0 or args.warmup < 0:
        p.error("counts and durations must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pg: PgThrowaway | None = None
    db_url = args.database_url
    if db_url and db_url.startswith(("postgres://", "postgresql")) and not args.use_database_as_is:
        pg = PgThrowaway(db_url)
        try:
            pg.create()
        except Exception as e:
            print(
                f"error: could not create a throwaway database via {db_url}: "
                f"{str(e).splitlines()[0]}",
                file=sys.stderr,
            )
            return 2
        log(f"created throwaway database {pg.name}")
        db_url = pg.url
    report: dict[str, Any] = {
        "benchmark": "api",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_facts(),
        "database": database_facts(db_url),
        "config": {
            "clients": args.clients,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "avatars": args.avatars,
        },
    }
    load = report["machine"].get("load_avg_at_start")
    if load and load[0] > 0.5 * (os.cpu_count() or 1):
        log(
            f"warning: load average is {load[0]:.1f} on {os.cpu_count()} CPUs; other work on "
            "this machine will skew the figures"
        )
    server = ServerProcess(db_url, args.server_log_level)
    status = 0
    try:
        asyncio.run(run(args, server, report))
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    finally:
        if status == 0 and server.process is not None and server.process.poll() is not None:
            print(
                "error: the server died during the run. Its log:\n" + server.log_tail(),
                file=sys.stderr,
            )
            status = 2
        elif status == 0:
            tail = server.log_tail(200)
            if "Traceback" in tail or "ERROR" in tail:
                report["server_log_tail"] = tail.splitlines()[-40:]
        log("stopping the server")
        server.stop()
        if pg is not None:
            try:
                pg.drop()
                log(f"dropped throwaway database {pg.name}")
            except Exception as e:
                log(f"could not drop throwaway database {pg.name}: {e}")
    if status != 0:
        return status
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if hasattr(os, "getloadavg"):
        report["machine"]["load_avg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(render(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    failed = []
    if report.get("avatars", {}).get("errors") or report.get("crud", {}).get("errors"):
        failed.append("errors occurred")
    av = report.get("avatars", {})
    if av.get("create_to_ready", {}).get("count") and not av.get("meets_target"):
        failed.append(f"avatar p95 above {AVATAR_P95_TARGET_MS:g} ms")
    if failed:
        print("targets missed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
