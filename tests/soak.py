"""Many short calls against one server, then a look at what the server process still holds.

Used by ``tests/test_realtime_soak.py`` (a short run in CI) and ``bench/realtime.py --soak N``
(the full 1,000). The calls take turns among the ways a call ends:

* ``delete``: a few frames, then ``DELETE`` on the call's address;
* ``end_call``: a few frames, then ``END_CALL`` on the events channel;
* ``abandon``: a few frames, then the client closes its connection without a word;
* ``vanish``: a few frames, then the client stops sending (no microphone), found out by the
  server's grace timer (it goes on in the background while the next calls run);
* ``unused``: credentials consumed but never used (the session expires);
* ``no_connect``: the offer is answered but the media never connects.

Before and after (once every session has ended) it reads the server process's threads, open
files and memory (``/proc``) and its asyncio task count (``/healthz``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from characters.realtime.client import CallClient
from tests.calls import consume, create_session, is_session
from tests.conftest import Server

KINDS = ("delete", "end_call", "abandon", "delete", "vanish", "end_call", "unused", "no_connect")
SOAK_SETTINGS = {
    "PRELOAD_MODELS": "true",
    "MAX_CALLS": "6",
    "SESSION_READY_TTL_S": "3",
    "SESSION_PEER_GRACE_S": "2",
    "CALL_CONNECT_TIMEOUT_S": "3",
    "LOG_LEVEL": "warning",
}


@dataclass
class Usage:
    """What the server process holds at one moment."""

    threads: int
    open_files: int
    rss_mb: float
    tasks: int
    live_calls: int


@dataclass
class SoakResult:
    calls: int
    seconds: float
    kinds: dict[str, int]
    before: Usage
    after: Usage
    statuses: dict[str, int]
    errors: list[str] = field(default_factory=list)
    halfway: Usage | None = None
    """After half the calls (and their settling): growth from here to the end is a leak."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def usage(server: Server) -> Usage:
    pid = server.process.pid
    status = open(f"/proc/{pid}/status").read()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    health = httpx.get(server.base_url + "/healthz", timeout=10).json()
    return Usage(
        threads=int(fields["Threads"].strip()),
        open_files=len(os.listdir(f"/proc/{pid}/fd")),
        rss_mb=int(fields["VmRSS"].split()[0]) / 1024,
        tasks=int(health["tasks"]),
        live_calls=int(health["liveCalls"]),
    )


async def one_call(server: Server, key: str, avatar: str, kind: str) -> str:
    """One short call that ends as ``kind`` says; its session id."""
    session_id, session_key = await asyncio.to_thread(create_session, server, key, avatar)
    creds = await asyncio.to_thread(consume, server, session_id, session_key)
    if kind == "unused":
        return session_id
    client = CallClient(creds["url"], creds["token"], timeout_s=30)
    try:
        if kind == "no_connect":
            offer = await client.make_offer()
            response = await asyncio.to_thread(
                httpx.post,
                creds["url"],
                content=offer.encode(),
                headers={
                    "Content-Type": "application/sdp",
                    "Authorization": f"Bearer {creds['token']}",
                },
                timeout=30,
            )
            assert response.status_code == 201, response.text
            return session_id  # and never connect
        await client.connect()
        for _ in range(200):  # a few frames
            if len(client.video.arrivals) >= 5:
                break
            await asyncio.sleep(0.02)
        if kind == "delete":
            assert await client.hang_up() == 200
        elif kind == "end_call":
            client.send({"type": "END_CALL"})
            await client.wait_event(is_session("COMPLETED"), 10)
        elif kind == "vanish":
            client.mic.stop()
            await asyncio.sleep(0.1)
            return session_id  # the client object is dropped with its connection open
        return session_id
    finally:
        if kind != "vanish":
            await client.close()
        else:
            asyncio.get_running_loop().call_later(6, lambda: asyncio.ensure_future(client.close()))


async def soak(
    server: Server,
    key: str,
    avatar: str,
    calls: int,
    *,
    concurrency: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> SoakResult:
    """``calls`` short calls (``concurrency`` at a time), with usage before and after."""
    # Warm up with a round of every kind of call: thread pools, caches and the allocator's
    # arenas reach their working size (the baseline is the server at work, not fresh).
    await _run(server, key, avatar, len(KINDS) * 2, concurrency, [], [], Counter())
    await settle(server)
    await asyncio.sleep(2)
    before = await asyncio.to_thread(usage, server)
    done: Counter[str] = Counter()
    session_ids: list[str] = []
    errors: list[str] = []
    started = time.monotonic()
    half = calls // 2
    await _run(server, key, avatar, half, concurrency, session_ids, errors, done, progress)
    await settle(server, session_ids, key)
    await asyncio.sleep(2)
    halfway = await asyncio.to_thread(usage, server)
    await _run(
        server,
        key,
        avatar,
        calls - half,
        concurrency,
        session_ids,
        errors,
        done,
        None if progress is None else (lambda n, total: progress(half + n, calls)),
    )
    seconds = time.monotonic() - started
    await settle(server, session_ids, key)
    await asyncio.sleep(2)  # threads that were told to stop have stopped
    after = await asyncio.to_thread(usage, server)
    statuses = await asyncio.to_thread(_statuses, server, key, session_ids)
    return SoakResult(calls, seconds, dict(done), before, after, statuses, errors, halfway)


async def _run(
    server: Server,
    key: str,
    avatar: str,
    calls: int,
    concurrency: int,
    session_ids: list[str],
    errors: list[str],
    done: Counter[str],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    kinds = itertools.cycle(KINDS)
    pending: set[asyncio.Task[str]] = set()
    for n in range(calls):
        kind = next(kinds)
        task = asyncio.ensure_future(one_call(server, key, avatar, kind))
        task.add_done_callback(lambda t, k=kind: done.update([k]) if not t.exception() else None)
        pending.add(task)
        if len(pending) >= concurrency:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in finished:
                _collect(t, session_ids, errors)
        if progress is not None:
            progress(n + 1, calls)
    for result in await asyncio.gather(*pending, return_exceptions=True):
        if isinstance(result, BaseException):
            errors.append(repr(result))
        else:
            session_ids.append(result)


def _collect(task: asyncio.Task[str], ids: list[str], errors: list[str]) -> None:
    if task.exception() is not None:
        errors.append(repr(task.exception()))
    else:
        ids.append(task.result())


async def settle(server: Server, session_ids: list[str] | None = None, key: str = "") -> None:
    """Wait until no call is live and every given session has ended (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = (
            await asyncio.to_thread(httpx.get, server.base_url + "/healthz", timeout=10)
        ).json()
        active = 0
        if session_ids:
            statuses = await asyncio.to_thread(_statuses, server, key, session_ids[-20:])
            active = sum(n for s, n in statuses.items() if s in ("NOT_READY", "READY", "RUNNING"))
        if health["liveCalls"] == 0 and active == 0:
            return
        await asyncio.sleep(0.5)


def _statuses(server: Server, key: str, session_ids: list[str]) -> dict[str, int]:
    sdk = server.sdk(key, max_retries=2)
    return dict(Counter(sdk.realtime_sessions.retrieve(s).status for s in session_ids))
