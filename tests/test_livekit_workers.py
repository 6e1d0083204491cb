"""LiveKit mode on several processes: two API servers on one PostgreSQL database, two
``characters worker`` processes, one livekit-server that assigns each session's room to a worker.

Checked: twenty sessions, made through both API servers, are run by both workers (each takes one
call at a time) and each ends COMPLETED; a worker sent SIGTERM mid-call drains: its call goes on
(video, an answer) while a new session goes to the other worker, then it exits with 0 once the
call is COMPLETED, and the other API server serves its recording (shared storage, a playable
MP4); a worker killed mid-call ends its session FAILED with a reason and its user is
disconnected, while the other worker's call goes on and answers; credits and the stored
transcript are right. Runs in the PostgreSQL pass (``-m store``): several
processes on one SQLite file is not a deployment this supports.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from characters.realtime.livekit_client import RoomClient
from tests.calls import LIVE_SETTINGS, assistant_text, is_state, live_avatar
from tests.conftest import PG_URL, PgDatabase, Server, start_server, stop_server, wait_for
from tests.livekit import LiveKit, start_livekit

pytestmark = [
    pytest.mark.slow,
    pytest.mark.store,
    pytest.mark.timeout(420),
    pytest.mark.skipif(not PG_URL, reason="two servers and two workers share PostgreSQL"),
]

SESSIONS = 20


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Deployment:
    apis: list[Server]
    workers: list[Worker]
    database_url: str
    key: str
    avatar: str


def _env(livekit: LiveKit, database_url: str, data_dir: Path, name: str) -> dict[str, str]:
    settings = {
        **LIVE_SETTINGS,
        **livekit.settings(),
        "LIVEKIT_WORKERS": "true",
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "NODE_NAME": name,
        "MAX_CALLS": "100",
        # a worker's heartbeats may stall for seconds on 2 loaded cores; a killed one is
        # noticed after this
        "SESSION_PEER_GRACE_S": "6",
    }
    return {f"CHARACTERS_{k}": v for k, v in settings.items()}


def start_worker(env: dict[str, str], name: str, folder: Path, *, tries: int = 2) -> Worker:
    """A registered ``characters worker``. One that exits before LiveKit registered it (it
    exits 1 after 45 s when never registered) or hangs is started again, as its supervisor
    would; what each try did is in the error of the last. (Its "registered worker" line was
    once lost now and then: llama-cpp-python silenced the whole process while loading the
    model; see ``llm._KeepOutput``.)"""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHARACTERS_")}
    clean.update(env, CHARACTERS_MODELS_DIR=os.environ["CHARACTERS_MODELS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"{name}.log"
    failures = []
    for attempt in range(1, tries + 1):
        process = subprocess.Popen(
            [sys.executable, "-m", "characters", "worker", "--calls", "1"],
            env=clean,
            stdout=open(log_path, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        worker = Worker(name, process, log_path, env)
        started, deadline = time.monotonic(), time.monotonic() + 90
        while "registered worker" not in worker.log():
            gone = process.poll() is not None
            if gone or time.monotonic() > deadline:
                process.kill()
                process.wait(10)
                how = f"exit code {process.returncode}" if gone else "still running"
                failures.append(f"try {attempt}: {how} after {time.monotonic() - started:.0f} s")
                break
            time.sleep(0.2)
        else:
            return worker
    raise RuntimeError(
        f"worker {name} did not register ({'; '.join(failures)}):\n{worker.log()[-3000:]}"
    )


def stop_worker(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(10)


@pytest.fixture(scope="module")
def livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKit]:
    yield from start_livekit(tmp_path_factory.mktemp("livekit"))


@pytest.fixture(scope="module")
def deployment(livekit: LiveKit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("deployment")
    shared = tmp / "shared-data"  # the "shared storage": blobs, recordings, the signing secret
    pg = PgDatabase(PG_URL)
    pg.create()
    apis: list[tuple[Server, PgDatabase | None]] = []
    workers: list[Worker] = []
    try:
        for name in ("api-a", "api-b"):
            env = _env(livekit, pg.url, shared, name)
            env["CHARACTERS_PRELOAD_MODELS"] = "false"  # API servers run no calls
            apis.append(start_server(tmp / name, env))
        for name in ("worker-a", "worker-b"):
            try:
                workers.append(start_worker(_env(livekit, pg.url, shared, name), name, tmp))
            except RuntimeError as e:
                tail = livekit.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{e}\nthe LiveKit server's log ends:\n{tail}") from None
        first = apis[0][0]
        key = first.create_key("scale", "--tier", "5", "--credits", "100000")
        yield Deployment([s for s, _ in apis], workers, pg.url, key, live_avatar(first, key))
    finally:
        for worker in workers:
            stop_worker(worker)
        for server, own in apis:
            stop_server(server, own)
        pg.drop()


def node_of(database_url: str, session_id: str) -> str | None:
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT node FROM realtime_sessions WHERE id = %s", (session_id,)
        ).fetchone()
    return None if row is None else row[0]


def wait_heartbeat(database_url: str, session_id: str, within_s: float) -> None:
    """Until a heartbeat of the session's worker is stored after its start (a worker killed
    before one leaves no RUNNING time to bill, and the billing check below would not hold)."""
    import psycopg

    deadline = time.monotonic() + within_s
    while True:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT started_at, last_seen_at FROM realtime_sessions WHERE id = %s",
                (session_id,),
            ).fetchone()
        if row is not None and row[0] is not None and row[1] is not None and row[1] > row[0]:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no heartbeat of session {session_id} in {within_s} s: {row}")
        time.sleep(0.2)


def charges_since(database_url: str, since: int) -> list[tuple[str | None, int, str]]:
    """The credit charges stored after the charge with id ``since``: (session, amount, how it
    ended), to name the session when a balance falls by more than the test's own."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT c.session_id, c.amount, coalesce(("
            "  SELECT t.to_status || ': ' || coalesce(t.reason, '') FROM session_transitions t"
            "  WHERE t.session_id = c.session_id ORDER BY t.id DESC LIMIT 1), '')"
            " FROM credit_charges c WHERE c.id > %s ORDER BY c.id",
            (since,),
        ).fetchall()
    return [(str(r[0]) if r[0] else None, int(r[1]), str(r[2])) for r in rows]


def last_charge(database_url: str) -> int:
    """The id of the last credit charge stored (0: none)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM credit_charges").fetchone()
    return int(row[0]) if row else 0


def running_time(database_url: str, session_id: str) -> tuple[float, int]:
    """(seconds RUNNING, credits charged) of a session, as stored."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT started_at, ended_at, credits_charged FROM realtime_sessions WHERE id = %s",
            (session_id,),
        ).fetchone()
    assert row is not None and row[0] is not None and row[1] is not None, row
    return (row[1] - row[0]).total_seconds(), int(row[2])


async def open_call(api: Server, key: str, avatar: str) -> tuple[str, RoomClient]:
    from tests.calls import consume, create_session

    session_id, session_key = await asyncio.to_thread(create_session, api, key, avatar)
    creds = await asyncio.to_thread(consume, api, session_id, session_key)
    client = RoomClient(creds["url"], creds["token"], timeout_s=30)
    await client.connect()
    await client.wait_event(is_state("speaking"), 60)  # the character is in and talking
    return session_id, client


async def wait_status(api: Server, key: str, session_id: str, want: str, within_s: float) -> object:
    sdk = api.sdk(key, max_retries=0)
    deadline = time.monotonic() + within_s
    while True:
        session = await asyncio.to_thread(sdk.realtime_sessions.retrieve, session_id)
        if session.status == want:
            return session
        assert time.monotonic() < deadline, f"{session_id} is {session.status}, not {want}"
        await asyncio.sleep(0.3)


async def test_sessions_spread_over_the_workers(deployment: Deployment) -> None:
    d = deployment
    done: list[str] = []
    for start in range(0, SESSIONS, 2):
        pairs = await asyncio.gather(
            *(open_call(d.apis[(start + i) % 2], d.key, d.avatar) for i in range(2))
        )
        for _, client in pairs:
            client.send({"type": "END_CALL"})
        for session_id, client in pairs:
            await asyncio.wait_for(client.closed.wait(), 15)
            await client.close()
            await wait_status(d.apis[0], d.key, session_id, "COMPLETED", 15)
            done.append(session_id)
    nodes = [await asyncio.to_thread(node_of, d.database_url, s) for s in done]
    counts = {w.name: nodes.count(w.name) for w in d.workers}
    assert sum(counts.values()) == SESSIONS, nodes
    assert min(counts.values()) >= SESSIONS // 4, counts  # both took a fair share


async def ask_ticket_price(client: RoomClient) -> None:
    """Ask the persona's ticket price; its answer (12) is the call's latest assistant line."""
    asked = time.monotonic()
    client.send({"type": "user_message", "text": "How much does a ticket cost?"})
    await client.wait_event(is_state("speaking"), 60, after=asked)
    spoke = client.event_time(is_state("speaking"), after=asked) or asked
    await client.wait_event(is_state("listening"), 60, after=spoke)
    answer = assistant_text(client, 1)
    assert "12" in answer or "twelve" in answer.lower(), answer


def mp4_video_frames(data: bytes) -> int:
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_a_draining_worker_finishes_its_call_then_exits(deployment: Deployment) -> None:
    d = deployment
    a_id, a = await open_call(d.apis[0], d.key, d.avatar)
    node_a = await asyncio.to_thread(node_of, d.database_url, a_id)
    draining = next(w for w in d.workers if w.name == node_a)
    other = next(w for w in d.workers if w is not draining)
    b: RoomClient | None = None
    try:
        draining.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while "draining worker" not in draining.log():  # livekit-agents: the worker is FULL
            assert time.monotonic() < deadline, draining.log()[-3000:]
            await asyncio.sleep(0.1)
        frames_at_term = len(a.video.arrivals)

        # No new room goes to it: a session started now is run by the other worker.
        b_id, b = await open_call(d.apis[1], d.key, d.avatar)
        assert await asyncio.to_thread(node_of, d.database_url, b_id) == other.name

        # Its call goes on: video keeps coming and a question is answered.
        await ask_ticket_price(a)
        assert draining.process.poll() is None, draining.log()[-3000:]
        since = a.video.arrivals[frames_at_term:]
        assert len(since) > 50 and time.monotonic() - since[-1] < 1, (len(since), frames_at_term)

        # The call ends normally, and then the drained worker exits by itself, with 0.
        a.send({"type": "END_CALL"})
        await asyncio.wait_for(a.closed.wait(), 15)
        await wait_status(d.apis[0], d.key, a_id, "COMPLETED", 15)
        completed = time.monotonic()
        code = await asyncio.to_thread(draining.process.wait, 15)
        exited_s = time.monotonic() - completed
        assert code == 0, (code, draining.log()[-3000:])
        assert exited_s < 10, exited_s

        # Its recording is on the shared storage: the other API server serves it.
        sdk = d.apis[1].sdk(d.key, max_retries=0)
        conv = await asyncio.to_thread(
            wait_for, lambda: (c := sdk.avatar_conversations.retrieve(a_id)).recording_url and c
        )
        assert conv.recording_url.startswith(d.apis[1].base_url), conv.recording_url
        recording = await asyncio.to_thread(httpx.get, conv.recording_url, timeout=30)
        assert recording.status_code == 200, recording.text[:300]
        assert recording.headers["content-type"] == "video/mp4", recording.headers
        frames = await asyncio.to_thread(mp4_video_frames, recording.content)
        assert frames > 50, frames

        # The other worker's call was not disturbed.
        b.send({"type": "END_CALL"})
        await asyncio.wait_for(b.closed.wait(), 15)
        await wait_status(d.apis[1], d.key, b_id, "COMPLETED", 15)
    finally:
        await a.close()
        if b is not None:
            await b.close()
        # The next test wants two workers again: the drained one comes back under its name.
        stop_worker(draining)
        draining.log_path.rename(draining.log_path.with_suffix(".drained.log"))
        d.workers[d.workers.index(draining)] = start_worker(
            draining.env, draining.name, draining.log_path.parent
        )


async def test_a_killed_worker_fails_its_call_and_the_other_goes_on(
    deployment: Deployment,
) -> None:
    d = deployment
    sdk = d.apis[1].sdk(d.key, max_retries=0)
    credits_before = (await asyncio.to_thread(sdk.organization.retrieve)).credit_balance
    charged_before = await asyncio.to_thread(last_charge, d.database_url)
    (a_id, a), (b_id, b) = await asyncio.gather(
        open_call(d.apis[0], d.key, d.avatar), open_call(d.apis[1], d.key, d.avatar)
    )
    node_a = await asyncio.to_thread(node_of, d.database_url, a_id)
    node_b = await asyncio.to_thread(node_of, d.database_url, b_id)
    assert {node_a, node_b} == {"worker-a", "worker-b"}
    victim = next(w for w in d.workers if w.name == node_a)
    await asyncio.to_thread(wait_heartbeat, d.database_url, a_id, 15)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)

    # The killed worker's call: FAILED with a reason, and its user is disconnected.
    failed = await wait_status(d.apis[0], d.key, a_id, "FAILED", 30)
    assert failed.failure_code == "SERVER_STOPPED" and node_a in failed.failure, failed
    await asyncio.wait_for(a.closed.wait(), 15)
    await a.close()

    # The other call goes on: a question is answered, then it ends normally.
    await ask_ticket_price(b)
    b.send({"type": "END_CALL"})
    await asyncio.wait_for(b.closed.wait(), 15)
    await b.close()
    await wait_status(d.apis[1], d.key, b_id, "COMPLETED", 15)

    # Credits: 2 per started 6 s of RUNNING (to the last heartbeat for the killed call), for
    # both, and the organisation's balance fell by exactly that; the survivor's transcript is
    # whole.
    runs = [await asyncio.to_thread(running_time, d.database_url, s) for s in (a_id, b_id)]
    for seconds, charged in runs:
        assert seconds > 0 and charged == 2 * math.ceil(seconds / 6), runs
    credits_after = (await asyncio.to_thread(sdk.organization.retrieve)).credit_balance
    # On a mismatch: every charge since the test began, with how its session ended.
    charges = await asyncio.to_thread(charges_since, d.database_url, charged_before)
    assert credits_before - credits_after == sum(c for _, c in runs), (
        credits_after,
        runs,
        (a_id, b_id),
        charges,
    )
    conversation = await asyncio.to_thread(sdk.avatar_conversations.retrieve, b_id)
    said = [(t.role, t.content or "") for t in conversation.transcript]
    assert ("user", "How much does a ticket cost?") in said, said
    assert any(r == "assistant" and ("12" in c or "twelve" in c.lower()) for r, c in said), said
