"""LiveKit mode end to end: a real livekit-server on loopback, the real server with its models,
and a real LiveKit client (the Python SDK) joining with what ``consume`` returned, as Runway's
React SDK does.

Checked at the client: the credentials' grants, one visible participant publishing CAMERA video
and MICROPHONE audio, the start script and an answer that uses a persona fact (in the data
messages and in the received voice), the frame rate; END_CALL and an API cancel end the session
and disconnect the client (the room is deleted); what the API stores. And the failure of a
LiveKit server that cannot be reached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from livekit import api, rtc

from characters.realtime.livekit_client import RoomClient
from tests.calls import (
    START,
    assistant_text,
    audio_between,
    create_session,
    is_state,
    live_avatar,
    models_ready,
    spoken,
    transcribe,
)
from tests.conftest import Server, wait_for
from tests.livekit import LiveKit, start_live_server, start_livekit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

TICKET = "How much does a ticket cost?"


@pytest.fixture(scope="module")
def livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKit]:
    yield from start_livekit(tmp_path_factory.mktemp("livekit"))


@pytest.fixture(scope="module")
def live(livekit: LiveKit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real server in LiveKit mode, its models loaded."""
    # greedy decoding: the action test's question is answered with its tool every run
    yield from start_live_server(
        livekit, tmp_path_factory.mktemp("lk-server"), {"LLM_TEMPERATURE": "0"}
    )


@pytest.fixture(scope="module")
def speech() -> dict[str, tuple[np.ndarray, int]]:
    return {TICKET: spoken(TICKET)}


def consume(server: Server, session_id: str, session_key: str) -> dict[str, str]:
    response = httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {session_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def join(server: Server, key: str, avatar: str) -> tuple[str, RoomClient]:
    session_id, session_key = create_session(server, key, avatar)
    creds = await asyncio.to_thread(consume, server, session_id, session_key)
    client = RoomClient(creds["url"], creds["token"], timeout_s=20)
    await client.connect()
    return session_id, client


def status_of(server: Server, key: str, session_id: str) -> str:
    return str(server.sdk(key, max_retries=0).realtime_sessions.retrieve(session_id).status)


async def wait_status(
    server: Server, key: str, session_id: str, want: str, within_s: float
) -> None:
    deadline = time.monotonic() + within_s
    while (got := await asyncio.to_thread(status_of, server, key, session_id)) != want:
        assert time.monotonic() < deadline, f"session {session_id} is {got}, not {want}"
        await asyncio.sleep(0.2)


def test_consume_returns_a_room_token_with_the_grants_runways_sdk_needs(
    live: Server, livekit: LiveKit, key: str, avatar: str
) -> None:
    session_id, session_key = create_session(live, key, avatar)
    creds = consume(live, session_id, session_key)
    assert creds["url"] == livekit.url and creds["roomName"] == session_id
    claims = api.TokenVerifier(livekit.key, livekit.secret).verify(creds["token"])
    grants = claims.video
    assert grants is not None
    assert grants.room == session_id and grants.room_join
    assert grants.can_subscribe and grants.can_publish and grants.can_publish_data
    assert set(grants.can_publish_sources or []) == {
        "microphone",
        "camera",
        "screen_share",
        "screen_share_audio",
    }
    assert not grants.room_admin and not grants.room_create
    # Consumed once, as in the embedded mode; the session is cancelled to free its slot.
    again = httpx.post(
        f"{live.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {session_key}"},
        timeout=30,
    )
    assert again.status_code == 409, again.text
    live.sdk(key, max_retries=0).realtime_sessions.delete(session_id)


async def test_a_call_in_a_livekit_room(
    live: Server, key: str, avatar: str, speech: dict[str, tuple[np.ndarray, int]]
) -> None:
    session_id, client = await join(live, key, avatar)
    try:
        await wait_status(live, key, session_id, "RUNNING", 30)
        # The start script, then the character listens.
        await client.wait_event(is_state("speaking"), 30)
        spoke = client.event_time(is_state("speaking")) or 0
        await client.wait_event(is_state("listening"), 30, after=spoke)
        assert assistant_text(client, 0) == START
        # The character is the one visible participant: CAMERA video, MICROPHONE voice.
        assert client.participants == ["worker:character"]
        assert client.sources == {
            "audio": rtc.TrackSource.SOURCE_MICROPHONE,
            "video": rtc.TrackSource.SOURCE_CAMERA,
        }

        utterance = client.play(*speech[TICKET])
        await utterance.done.wait()
        asked = utterance.started_at or time.monotonic()
        user = await client.wait_event(
            lambda e: e.get("type") == "transcription" and e.get("role") == "user", 20
        )
        assert "ticket" in user["text"].lower(), user["text"]
        start = await client.wait_event(is_state("speaking"), 30, after=asked)
        assert start
        answer_start = client.event_time(is_state("speaking"), after=asked) or 0
        await client.wait_event(is_state("listening"), 40, after=answer_start)
        answer_end = client.event_time(is_state("listening"), after=answer_start) or 0
        words = assistant_text(client, 1)
        assert "12" in words or "twelve" in words.lower(), words
        heard = await asyncio.to_thread(
            transcribe, audio_between(client, answer_start, answer_end + 0.3)
        )
        assert "12" in heard or "twelve" in heard, (heard, words)
        first = client.first_voice(utterance.speech_end_at or 0)
        assert first is not None

        arrivals = client.video.arrivals
        fps = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
        assert fps >= 20, fps

        # END_CALL: COMPLETED, and the room is deleted, so the client is disconnected.
        client.send({"type": "END_CALL"})
        await asyncio.wait_for(client.closed.wait(), 10)
        await wait_status(live, key, session_id, "COMPLETED", 10)
    finally:
        await client.close()
    sdk = live.sdk(key, max_retries=0)
    conv = wait_for(
        lambda: (c := sdk.avatar_conversations.retrieve(session_id)).recording_url and c
    )
    roles = [(t.role, t.content) for t in conv.transcript]
    assert roles[0] == ("assistant", START)
    assert roles[1] == ("user", user["text"])
    assert roles[2] == ("assistant", words)


CHECK_ORDER = {
    "type": "backend_rpc",
    "name": "check_order",
    "description": "Look up the status of a ticket order by its order number.",
    "timeoutSeconds": 3,
    "parameters": [{"type": "integer", "name": "order_number", "description": "The order number"}],
}
ORDER = {"status": "shipped", "arrives": "Thursday"}


async def test_a_backend_in_the_room_answers_backend_rpc_tools(
    live: Server, key: str, avatar: str
) -> None:
    import json

    session_id, session_key = create_session(live, key, avatar, tools=[CHECK_ORDER])
    answer = await asyncio.to_thread(
        live.http(key).post, f"/v1/realtime_sessions/{session_id}/connect_backend"
    )
    assert answer.status_code == 200, answer.text
    creds = answer.json()
    assert creds["roomName"] == session_id
    calls: list[tuple[str, dict[str, object]]] = []
    backend = rtc.Room()

    async def check_order(data: rtc.RpcInvocationData) -> str:
        calls.append((data.caller_identity, json.loads(data.payload)))
        return json.dumps(ORDER)

    client: RoomClient | None = None
    try:
        await backend.connect(creds["url"], creds["token"])
        backend.local_participant.register_rpc_method("check_order", check_order)
        user = await asyncio.to_thread(consume, live, session_id, session_key)
        client = RoomClient(user["url"], user["token"], timeout_s=20)
        await client.connect()
        await client.wait_event(is_state("speaking"), 30)
        spoke = client.event_time(is_state("speaking")) or 0
        await client.wait_event(is_state("listening"), 30, after=spoke)
        asked = time.monotonic()
        client.send({"type": "user_message", "text": "What's the status of my ticket order 4417?"})
        await client.wait_event(is_state("speaking"), 40, after=asked)
        spoke = client.event_time(is_state("speaking"), after=asked) or asked
        await client.wait_event(is_state("listening"), 40, after=spoke)
        said = assistant_text(client, 1)
        assert "thursday" in said.lower(), said
        ((caller, payload),) = calls
        assert caller == "worker:character"
        assert payload == {
            "args": {"order_number": 4417},
            "id": payload["id"],
            "tool": "check_order",
            "sessionId": session_id,
        }
        assert client.participants == ["worker:character"]  # the backend is hidden
        client.send({"type": "END_CALL"})
        await asyncio.wait_for(client.closed.wait(), 10)
    finally:
        if client is not None:
            await client.close()
        await backend.disconnect()
    sdk = live.sdk(key, max_retries=0)
    conv = wait_for(
        lambda: (c := sdk.avatar_conversations.retrieve(session_id)).recording_url and c
    )
    (entry,) = [t for t in conv.transcript if t.tool_results]
    assert entry.tool_results[0].result == ORDER


async def test_cancelling_the_session_disconnects_the_client(
    live: Server, key: str, avatar: str
) -> None:
    session_id, client = await join(live, key, avatar)
    try:
        await wait_status(live, key, session_id, "RUNNING", 30)
        await client.wait_event(is_state("speaking"), 30)
        await asyncio.to_thread(live.sdk(key, max_retries=0).realtime_sessions.delete, session_id)
        await asyncio.wait_for(client.closed.wait(), 10)
        assert await asyncio.to_thread(status_of, live, key, session_id) == "CANCELLED"
    finally:
        await client.close()


def test_characters_call_joins_the_room_from_the_terminal(
    live: Server, key: str, avatar: str, tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys

    import av

    out, log = tmp_path / "call.mp4", tmp_path / "events.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "characters",
            "call",
            avatar,
            "--base-url",
            live.base_url,
            "-t",
            TICKET,
            "-o",
            str(out),
            "--events",
            str(log),
            "--hang-up",
            "end-call",
        ],
        env={**live.env, "CHARACTERS_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "character: " + START in done.stdout
    assert "12" in done.stdout or "twelve" in done.stdout.lower(), done.stdout
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[-1]["type"] == "session" and lines[-1]["status"] == "COMPLETED", lines[-1]
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 100


def test_an_unreachable_livekit_server_fails_the_session(
    server_factory: object, tmp_path: Path
) -> None:
    closed = f"ws://127.0.0.1:{_closed_port()}"
    srv = server_factory(  # type: ignore[operator]
        LIVEKIT_URL=closed,
        LIVEKIT_API_KEY="k",
        LIVEKIT_API_SECRET="s" * 32,
        PRELOAD_MODELS="true",
    )
    models_ready(srv)
    key = srv.create_key("lk", "--tier", "2")
    avatar = live_avatar(srv, key)
    session_id, session_key = create_session(srv, key, avatar)
    response = httpx.post(
        f"{srv.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {session_key}"},
        timeout=30,
    )
    assert response.status_code == 503, response.text
    assert "LiveKit" in response.json()["error"] and closed in response.json()["error"]
    failed = srv.sdk(key, max_retries=0).realtime_sessions.retrieve(session_id)
    assert failed.status == "FAILED", failed
    assert failed.failure_code == "MEDIA_SERVER_UNAVAILABLE", failed
    assert "LiveKit" in failed.failure and closed in failed.failure, failed.failure


def _closed_port() -> int:
    from tests.conftest import free_port

    return free_port()


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"CHARACTERS_LIVEKIT_URL": "ws://127.0.0.1:7880"}, "needs all three"),
        (
            {
                "CHARACTERS_LIVEKIT_URL": "http://127.0.0.1:7880",
                "CHARACTERS_LIVEKIT_API_KEY": "k",
                "CHARACTERS_LIVEKIT_API_SECRET": "s" * 32,
            },
            "must start with ws:// or wss://",
        ),
        (
            {
                "CHARACTERS_LIVEKIT_URL": "ws://127.0.0.1:7880",
                "CHARACTERS_LIVEKIT_API_KEY": "k",
                "CHARACTERS_LIVEKIT_API_SECRET": "short",
            },
            "at least 32 characters",
        ),
    ],
)
def test_incomplete_livekit_settings_are_refused_in_one_line(
    env: dict[str, str], words: str, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHARACTERS_")}
    done = subprocess.run(
        [sys.executable, "-m", "characters", "serve", "--data-dir", str(tmp_path)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert words in done.stderr and "Traceback" not in done.stderr, done.stderr
