"""Live calls when things go wrong: bad offers and tokens, engine errors, a server that dies,
a full machine, junk on the events channel. In every case the server stays healthy and the next
call works."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from characters.realtime.client import CallClient
from tests.calls import (
    LIVE_SETTINGS,
    consume,
    create_session,
    http,
    is_session,
    is_state,
    live_avatar,
    models_ready,
    open_call,
)
from tests.conftest import Server, start_server, stop_server, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SDP_NO_AUDIO = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
t=0 0
m=video 9 UDP/TLS/RTP/SAVPF 96
c=IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF
a=setup:actpass
a=mid:0
a=recvonly
a=rtpmap:96 VP8/90000
"""


def post_offer(
    url: str, token: str | None, body: bytes, content_type: str = "application/sdp"
) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(url, content=body, headers=headers, timeout=30)


async def a_real_offer() -> str:
    """A real client's offer (what a browser sends), made by aiortc."""
    client = CallClient("http://unused", "unused")
    sdp = await client.make_offer()
    await client.close()
    return sdp


async def test_bad_offers_and_tokens_are_refused_without_using_up_the_token(
    live: Server, key: str, avatar: str
) -> None:
    session_id, session_key = create_session(live, key, avatar)
    creds = consume(live, session_id, session_key)
    url, token = creds["url"], creds["token"]
    # A second consume is refused (and says why).
    again = await http(
        "POST",
        f"{live.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {session_key}"},
    )
    assert again.status_code == 409 and "already consumed" in again.json()["error"]
    # CORS for browsers on another origin.
    preflight = await http(
        "OPTIONS",
        url,
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "location" in preflight.headers["access-control-expose-headers"]

    offer = (await a_real_offer()).encode()
    cases = [
        (None, offer, "application/sdp", 401, "Missing media token"),
        ("not-the-token", offer, "application/sdp", 401, "Invalid media token"),
        (token, offer, "application/json", 400, "application/sdp"),
        (token, b"hello", "application/sdp", 400, "not an SDP offer"),
        (token, b"v=0\r\nm=audio banana\r\n", "application/sdp", 400, "could not be parsed"),
        (token, SDP_NO_AUDIO.encode(), "application/sdp", 400, "no audio m-line"),
        (token, b"v=0\r\n" + b"a" * 70_000, "application/sdp", 400, "larger than"),
    ]
    for bearer, body, content_type, status, words in cases:
        response = await asyncio.to_thread(post_offer, url, bearer, body, content_type)
        assert response.status_code == status, (words, response.text)
        assert words in response.json()["error"], response.json()
        assert set(response.json()) <= {"error", "issues"}
    sdk = live.sdk(key, max_retries=0)
    assert sdk.realtime_sessions.retrieve(session_id).status == "READY"

    # The token still works after all that.
    client = CallClient(url, token)
    await client.connect()
    await client.wait_event(is_state("speaking"), 20)
    assert sdk.realtime_sessions.retrieve(session_id).status == "RUNNING"
    # ... once.
    reused = await asyncio.to_thread(post_offer, url, token, offer)
    assert reused.status_code == 401 and "already used" in reused.json()["error"]
    # The hang-up address needs the token too.
    assert client.location is not None
    wrong = await http("DELETE", client.location, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    missing = await http(
        "DELETE",
        client.location.rsplit("/", 1)[0] + "/nope",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert missing.status_code == 404
    assert await client.hang_up() == 200
    final = await client.wait_event(is_session("COMPLETED", "FAILED", "CANCELLED"), 10)
    assert final["status"] == "COMPLETED" and "DELETE" in final["reason"]
    await client.close()


async def test_an_offer_for_a_session_that_is_not_ready_is_a_conflict(
    live: Server, key: str, avatar: str
) -> None:
    session_id, session_key = create_session(live, key, avatar)
    creds = consume(live, session_id, session_key)
    live.sdk(key, max_retries=0).realtime_sessions.delete(session_id)
    response = await asyncio.to_thread(
        post_offer, creds["url"], creds["token"], (await a_real_offer()).encode()
    )
    assert response.status_code == 409 and "CANCELLED" in response.json()["error"]


async def test_junk_on_the_events_channel_is_ignored(live: Server, key: str, avatar: str) -> None:
    call = await open_call(live, key, avatar)
    client = call.client
    for junk in [
        "not json",
        "[1, 2]",
        '{"type": "dance"}',
        '{"type": "user_message"}',
        "{" * 20_000,
    ]:
        client.send(junk)
    client.send({"type": "user_message", "text": "How much is a ticket?"})
    answer = await client.wait_event(
        lambda e: (
            e.get("type") == "transcription" and e.get("role") == "assistant" and e.get("turn") == 1
        ),
        40,
    )
    assert answer["text"]
    assert "ignored a message" in live.log()
    await client.hang_up()
    await client.close()


class _FlakyLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint whose next ``failures`` answers fail (HTTP 500)."""

    failures = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._json(200, {"data": [{"id": "flaky"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if type(self).failures > 0:
            type(self).failures -= 1
            self._json(500, {"error": {"message": "the model crashed"}})
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for word in ["A ticket ", "costs ", "12 dollars."]:
            chunk = {"choices": [{"delta": {"content": word}, "index": 0}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


async def test_engine_errors_are_told_the_character_apologises_and_repeated_ones_fail(
    server_factory: Any,
) -> None:
    """One failed answer: an error event (not fatal), a spoken apology, and the call goes on.
    Answers failing twice in a row: the client is told, then the session is FAILED."""
    llm = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyLLM)
    threading.Thread(target=llm.serve_forever, daemon=True).start()
    try:
        srv = server_factory(
            **LIVE_SETTINGS,
            LLM_URL=f"http://127.0.0.1:{llm.server_address[1]}/v1",
            LLM_MODEL="flaky",
        )
        models_ready(srv)
        key = srv.create_key("engine", "--tier", "3")
        avatar = live_avatar(srv, key)
        call = await open_call(srv, key, avatar)
        client = call.client
        await client.wait_event(is_state("listening"), 20, after=time.monotonic() + 0.5)

        def assistant_words(turn: int) -> Callable[[dict[str, Any]], bool]:
            return lambda e: (
                e.get("type") == "transcription"
                and e.get("role") == "assistant"
                and e.get("turn") == turn
            )

        _FlakyLLM.failures = 1
        client.send({"type": "user_message", "text": "How much is a ticket?"})
        error = await client.wait_event(lambda e: e.get("type") == "error", 30)
        assert error["code"] == "ENGINE_ERROR" and error["fatal"] is False, error
        assert "500" in error["message"] and "answer" in error["message"]
        apology = await client.wait_event(assistant_words(1), 30)
        assert apology["text"] == "Sorry,", apology
        await client.wait_event(is_state("listening"), 30, after=time.monotonic())
        client.send({"type": "user_message", "text": "How much is a ticket?"})
        words = await client.wait_event(assistant_words(2), 30)
        assert words["text"] == "A"

        _FlakyLLM.failures = 2
        await client.wait_event(is_state("listening"), 30, after=time.monotonic())
        client.send({"type": "user_message", "text": "And for children?"})
        await client.wait_event(assistant_words(3), 30)  # the apology
        await client.wait_event(is_state("listening"), 30, after=time.monotonic())
        client.send({"type": "user_message", "text": "And for children?"})
        final = await client.wait_event(is_session("COMPLETED", "FAILED", "CANCELLED"), 30)
        errors = [e for _, e in client.events if e.get("type") == "error"]
        assert [e["fatal"] for e in errors] == [False, False, True], errors
        kinds = [e.get("type") for _, e in client.events]
        last_error = max(i for i, kind in enumerate(kinds) if kind == "error")
        assert last_error < len(kinds) - 1  # told before the end
        assert final["status"] == "FAILED" and final["failureCode"] == "ENGINE_ERROR"
        await asyncio.wait_for(client.closed.wait(), 10)
        await client.close()
        session = srv.sdk(key, max_retries=0).realtime_sessions.retrieve(call.session_id)
        assert session.status == "FAILED" and session.failure_code == "ENGINE_ERROR"
        assert "500" in session.failure and "answer" in session.failure
        # The next call works (the endpoint answers now).
        call2 = await open_call(srv, key, avatar)
        await call2.client.wait_event(is_state("listening"), 20, after=time.monotonic() + 0.5)
        call2.client.send({"type": "user_message", "text": "How much is a ticket?"})
        words = await call2.client.wait_event(assistant_words(1), 30)
        assert words["text"] == "A"
        await call2.client.hang_up()
        await call2.client.close()
    finally:
        llm.shutdown()


async def test_a_server_that_dies_mid_call_fails_the_session_at_its_restart(
    tmp_path: Path,
) -> None:
    env = {f"CHARACTERS_{k}": v for k, v in LIVE_SETTINGS.items()}
    env["CHARACTERS_NODE_NAME"] = "node-a"
    srv, pg = start_server(tmp_path / "srv", env)
    if pg is not None:
        stop_server(srv, pg)
        pytest.skip("a restart keeps the database only with SQLite here")
    restarted = None
    try:
        models_ready(srv)
        key = srv.create_key("restart", "--tier", "3")
        avatar = live_avatar(srv, key)
        call = await open_call(srv, key, avatar)
        await call.client.wait_event(is_state("speaking"), 20)
        await call.client.wait_event(is_state("listening"), 20, after=time.monotonic() + 0.2)
        call.client.send({"type": "user_message", "text": "Tell me about the museum."})
        await call.client.wait_event(is_state("speaking"), 30, after=time.monotonic())
        await asyncio.sleep(1.0)  # killed mid-answer, with a few fragments of recording
        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait(10)
        await call.client.close()
        restarted, _ = start_server(tmp_path / "srv", env)
        sdk = restarted.sdk(key, max_retries=0)
        session = sdk.realtime_sessions.retrieve(call.session_id)
        assert session.status == "FAILED" and session.failure_code == "SERVER_STOPPED"
        assert "restarted" in session.failure
        conv = wait_for(
            lambda: (c := sdk.avatar_conversations.retrieve(call.session_id)).recording_url and c
        )
        assert conv.transcript and conv.transcript[0].role == "assistant"
        data = (await http("GET", conv.recording_url)).content
        import io

        with av.open(io.BytesIO(data)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames >= 25  # at least a second survived the crash
        models_ready(restarted)
        call2 = await open_call(restarted, key, avatar)
        await call2.client.wait_event(is_state("speaking"), 20)
        await call2.client.hang_up()
        await call2.client.close()
    finally:
        if restarted is not None:
            stop_server(restarted, None)


async def test_sessions_beyond_the_machine_capacity_wait_queued(server_factory: Any) -> None:
    srv = server_factory(**{**LIVE_SETTINGS, "MAX_CALLS": "1"})
    models_ready(srv)
    key = srv.create_key("capacity", "--tier", "3")
    avatar = live_avatar(srv, key)
    call = await open_call(srv, key, avatar)
    sdk = srv.sdk(key, max_retries=0)
    second = sdk.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar}
    )
    waiting = sdk.realtime_sessions.retrieve(second.id)
    assert waiting.status == "NOT_READY" and waiting.queued is True
    await call.client.hang_up()
    await call.client.close()
    ready = wait_for(
        lambda: (s := sdk.realtime_sessions.retrieve(second.id)).status != "NOT_READY" and s
    )
    assert ready.status == "READY"


async def test_a_client_whose_media_never_connects_fails_the_session(
    server_factory: Any,
) -> None:
    srv = server_factory(**LIVE_SETTINGS, CALL_CONNECT_TIMEOUT_S="3")
    models_ready(srv)
    key = srv.create_key("noconnect", "--tier", "3")
    avatar = live_avatar(srv, key)
    session_id, session_key = create_session(srv, key, avatar)
    creds = consume(srv, session_id, session_key)
    response = await asyncio.to_thread(
        post_offer, creds["url"], creds["token"], (await a_real_offer()).encode()
    )
    assert response.status_code == 201  # answered, but this client is gone: no ICE, no DTLS
    sdk = srv.sdk(key, max_retries=0)
    session = wait_for(
        lambda: (s := sdk.realtime_sessions.retrieve(session_id)).status != "READY" and s,
        timeout=15,
    )
    assert session.status == "FAILED" and session.failure_code == "CONNECTION_FAILED"


async def test_configured_ice_servers_are_handed_out_with_the_credentials(
    server_factory: Any,
) -> None:
    import json as _json

    servers = [{"urls": "turn:127.0.0.1:3478", "username": "u", "credential": "p"}]
    srv = server_factory(ICE_SERVERS=_json.dumps(servers))
    key = srv.create_key("ice", "--tier", "3")
    avatar = live_avatar(srv, key)
    session_id, session_key = create_session(srv, key, avatar)
    creds = consume(srv, session_id, session_key)
    assert creds["iceServers"] == servers
    bad = subprocess_serve_error({"CHARACTERS_ICE_SERVERS": '[{"urls": "http://x"}]'})
    assert "ice_servers" in bad and "stun:, turn: or turns:" in bad


def subprocess_serve_error(env: dict[str, str]) -> str:
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "characters", "serve", "--port", "1"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    return done.stderr.strip()
