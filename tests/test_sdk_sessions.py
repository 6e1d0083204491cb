"""End-to-end: the official ``runwayml`` SDK against a real server — realtime sessions (create,
retrieve, cancel, consume over plain HTTP) and avatar conversations.

RUNNING and COMPLETED need a media peer, which the embedded WebRTC endpoint serves; their wire
shapes are covered by the media tests, not here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import runwayml

from tests.conftest import API_VERSION, data_uri, face_png, ready_avatar, wait_for

pytestmark = [pytest.mark.store, pytest.mark.slow]

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# API.md §3.3: the exact keys of each session variant.
SESSION_KEYS = {
    "NOT_READY": {"id", "createdAt", "status", "queued"},
    "READY": {"id", "createdAt", "status", "expiresAt", "sessionKey"},
    "RUNNING": {"id", "createdAt", "status"},
    "COMPLETED": {"id", "createdAt", "status", "duration"},
    "FAILED": {"id", "createdAt", "status", "failure", "failureCode"},
    "CANCELLED": {"id", "createdAt", "status"},
}
SUMMARY_KEYS = {"id", "name", "status", "avatar", "createdAt", "duration", "hasTools"}
DETAIL_KEYS = SUMMARY_KEYS | {"maxDuration", "startedAt", "recordingUrl", "tools", "transcript"}
TOOLS = [
    {
        "type": "client_event",
        "name": "show_menu",
        "description": "Show the menu on screen.",
        "parameters": [
            {"type": "string", "name": "section", "description": "Which part.", "enum": ["a", "b"]}
        ],
    },
    {
        "type": "backend_rpc",
        "name": "lookup_order",
        "description": "Look an order up.",
        "timeoutSeconds": 3,
        "parameters": [
            {"type": "integer", "name": "order", "description": "Order number."},
            {
                "type": "object",
                "name": "filters",
                "description": "Filters.",
                "required": False,
                "properties": [
                    {
                        "type": "array",
                        "name": "tags",
                        "description": "Tags.",
                        "items": {"type": "string"},
                    }
                ],
            },
        ],
    },
]


def start(client, avatar_id: str, **kwargs):
    return client.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar_id}, **kwargs
    )


def raw_session(client, session_id: str) -> dict:
    body = client.realtime_sessions.with_raw_response.retrieve(session_id).json()
    assert set(body) == SESSION_KEYS[body["status"]], body
    assert body["id"] == session_id
    assert ISO_Z.match(body["createdAt"])
    return body


def consume(server, session_id: str, authorization: str | None, **headers: str) -> httpx.Response:
    """POST /consume the way the browser SDK does: no API key, no X-Runway-Version."""
    hdrs = {"Content-Type": "application/json", **headers}
    if authorization is not None:
        hdrs["Authorization"] = authorization
    return httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{session_id}/consume", headers=hdrs, timeout=10
    )


@pytest.fixture(scope="module")
def shared(server):
    """One organisation (tier 5, so concurrency never interferes) for tests that do not depend on
    what else it holds."""
    return server.sdk(server.create_key("shared", "--tier", "5"), max_retries=0)


@pytest.fixture(scope="module")
def avatar(shared):
    return ready_avatar(shared, data_uri(face_png()))


# Create and retrieve


def test_create_returns_only_an_id_and_the_session_is_ready(shared, avatar):
    raw = shared.realtime_sessions.with_raw_response.create(
        model="gwm1_avatars",
        avatar={"type": "custom", "avatarId": avatar.id},
        max_duration=120,
        personality="Speak like a pirate.",
        start_script="Ahoy!",
        tools=TOOLS,
    )
    assert raw.status_code == 200
    assert set(raw.json()) == {"id"}
    session_id = raw.parse().id
    assert UUID4.match(session_id)

    body = raw_session(shared, session_id)
    assert body["status"] == "READY"
    created = datetime.fromisoformat(body["createdAt"])
    expires = datetime.fromisoformat(body["expiresAt"])
    assert timedelta(seconds=50) < expires - created <= timedelta(seconds=61)
    session = shared.realtime_sessions.retrieve(session_id)
    assert type(session).__name__ == "Ready"
    assert session.session_key == body["sessionKey"]
    assert session.expires_at.tzinfo is not None
    shared.realtime_sessions.delete(session_id)


def test_create_validation(shared, avatar, image_uri):
    cases = [
        {"max_duration": 9},
        {"max_duration": 1801},
        {"personality": ""},
        {"start_script": "x" * 2001},
        {"tools": [{"type": "client_event", "name": "bad name", "description": "d"}]},
        {"tools": [{"type": "client_event", "name": "dup", "description": "d"}] * 2},
        {"tools": [{"type": "webhook", "name": "x", "description": "d"}]},
    ]
    for kwargs in cases:
        with pytest.raises(runwayml.BadRequestError) as exc:
            start(shared, avatar.id, **kwargs)
        assert exc.value.body["error"], kwargs
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.realtime_sessions.create(
            model="gwm2", avatar={"type": "custom", "avatarId": avatar.id}
        )  # type: ignore[arg-type]
    assert exc.value.body["issues"][0]["path"] == ["model"]

    # The avatar must exist in this organisation and be READY.
    with pytest.raises(runwayml.BadRequestError) as exc:
        start(shared, "550e8400-e29b-41d4-a716-446655440000")
    assert exc.value.body["issues"][0]["path"] == ["avatar", "avatarId"]
    # A PROCESSING or FAILED avatar is refused too; processing takes ~60 ms here, too short to
    # hit reliably through the API, so test_session_manager.py covers those states directly.


def test_server_decisions_on_presets_integrations_and_duration(shared, avatar):
    # Not installed / not supported on this server: clear 400s (see API.md Part A).
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.realtime_sessions.create(
            model="gwm1_avatars", avatar={"type": "runway-preset", "presetId": "cat-character"}
        )
    assert "custom avatar" in exc.value.body["error"]
    # Bring your own agent needs the agent's identity (tests/test_livekit_agent.py runs one).
    with pytest.raises(runwayml.BadRequestError) as exc:
        start(
            shared,
            avatar.id,
            integration={
                "type": "livekit",
                "url": "wss://lk.example.com",
                "token": "t",
                "roomName": "r",
            },
        )
    assert "agentIdentity" in exc.value.body["error"]
    with pytest.raises(runwayml.BadRequestError) as exc:
        start(
            shared,
            avatar.id,
            livekit={"url": "wss://lk.example.com", "token": "t", "roomName": "r"},
        )
    assert exc.value.body["issues"][0]["path"] == ["livekit", "agentIdentity"]


# Cancel


def test_delete_cancels_and_is_idempotent(shared, avatar):
    session = start(shared, avatar.id)
    raw = shared.realtime_sessions.with_raw_response.delete(session.id)
    assert raw.status_code == 204 and raw.http_response.content == b""
    body = raw_session(shared, session.id)
    assert body["status"] == "CANCELLED"
    assert type(shared.realtime_sessions.retrieve(session.id)).__name__ == "Cancelled"
    # On a terminal session: 204 and no change.
    assert shared.realtime_sessions.delete(session.id) is None
    assert raw_session(shared, session.id)["status"] == "CANCELLED"
    with pytest.raises(runwayml.NotFoundError):
        shared.realtime_sessions.delete("550e8400-e29b-41d4-a716-446655440000")
    with pytest.raises(runwayml.NotFoundError):
        shared.realtime_sessions.retrieve("550e8400-e29b-41d4-a716-446655440000")


# Consume


def test_consume_once_with_the_session_key(server, shared, avatar):
    session = start(shared, avatar.id)
    key = shared.realtime_sessions.retrieve(session.id).session_key

    wrong = consume(server, session.id, "Bearer not-the-key")
    assert wrong.status_code == 401 and wrong.json()["error"]
    missing = consume(server, session.id, None)
    assert missing.status_code == 401
    api_key = consume(server, session.id, f"Bearer {shared.api_key}")
    assert api_key.status_code == 401  # the API key is not the session key

    resp = consume(server, session.id, f"Bearer {key}", Origin="https://app.example.com")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["access-control-allow-origin"] in ("*", "https://app.example.com")
    creds = resp.json()
    assert set(creds) == {"url", "token", "roomName"}
    assert creds["roomName"] == session.id
    assert creds["url"] == f"{server.base_url}/v1/realtime_sessions/{session.id}/webrtc"
    assert creds["token"] and creds["token"] != key

    # Consume does not change the status.
    assert raw_session(shared, session.id)["status"] == "READY"

    again = consume(server, session.id, f"Bearer {key}")
    assert again.status_code == 409
    assert again.headers["x-should-retry"] == "false"
    assert "consumed" in again.json()["error"]

    # With the version header (the skill examples send it) the answer is the same.
    again = consume(server, session.id, f"Bearer {key}", **{"X-Runway-Version": API_VERSION})
    assert again.status_code == 409
    shared.realtime_sessions.delete(session.id)


def test_consume_on_a_cancelled_or_unknown_session(server, shared, avatar):
    session = start(shared, avatar.id)
    key = shared.realtime_sessions.retrieve(session.id).session_key
    shared.realtime_sessions.delete(session.id)
    resp = consume(server, session.id, f"Bearer {key}")
    assert resp.status_code == 409
    assert resp.headers["x-should-retry"] == "false"
    assert "CANCELLED" in resp.json()["error"]

    unknown = consume(server, "550e8400-e29b-41d4-a716-446655440000", "Bearer whatever")
    assert unknown.status_code == 404
    assert set(unknown.json()) == {"error"}


def test_connect_backend_needs_livekit_mode(server, shared, avatar):
    session = start(shared, avatar.id)
    resp = httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{session.id}/connect_backend",
        headers={"Authorization": f"Bearer {shared.api_key}", "X-Runway-Version": API_VERSION},
        timeout=10,
    )
    assert resp.status_code == 409, resp.text
    assert "LiveKit mode" in resp.json()["error"] and "webhooks" in resp.json()["error"]
    unauthenticated = httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{session.id}/connect_backend",
        headers={"X-Runway-Version": API_VERSION},
        timeout=10,
    )
    assert unauthenticated.status_code == 401
    shared.realtime_sessions.delete(session.id)


def test_consume_tolerates_a_double_slash(server, shared, avatar):
    """A base URL with a trailing slash, naively joined, yields '//v1/...'."""
    session = start(shared, avatar.id)
    key = shared.realtime_sessions.retrieve(session.id).session_key
    url = f"{server.base_url}//v1/realtime_sessions/{session.id}/consume"
    resp = httpx.post(url, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200, resp.text
    shared.realtime_sessions.delete(session.id)


def test_consume_answers_cors_preflight(server):
    resp = httpx.options(
        f"{server.base_url}/v1/realtime_sessions/550e8400-e29b-41d4-a716-446655440000/consume",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert resp.status_code in (200, 204)
    assert resp.headers["access-control-allow-origin"] in ("*", "https://app.example.com")
    assert "POST" in resp.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in resp.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed


# Queueing (tier 1: 1 active + 2 queued)


def test_queued_sessions_are_not_ready_and_get_promoted(server):
    client = server.sdk(server.create_key("tier1", "--tier", "1"), max_retries=0)
    avatar = ready_avatar(client, data_uri(face_png()))
    first, second, third = (start(client, avatar.id) for _ in range(3))
    assert raw_session(client, first.id)["status"] == "READY"
    for s in (second, third):
        body = raw_session(client, s.id)
        assert body["status"] == "NOT_READY" and body["queued"] is True
        model = client.realtime_sessions.retrieve(s.id)
        assert type(model).__name__ == "NotReady" and model.queued is True

    with pytest.raises(runwayml.RateLimitError):
        start(client, avatar.id)

    client.realtime_sessions.delete(first.id)
    assert raw_session(client, second.id)["status"] == "READY"  # promoted, oldest first
    assert raw_session(client, third.id)["status"] == "NOT_READY"
    # Cancelling a queued session works too and frees its queue slot.
    client.realtime_sessions.delete(third.id)
    assert raw_session(client, third.id)["status"] == "CANCELLED"
    fourth = start(client, avatar.id)
    body = raw_session(client, fourth.id)
    assert body["status"] == "NOT_READY" and body["queued"] is True
    client.realtime_sessions.delete(second.id)
    wait_for(lambda: client.realtime_sessions.retrieve(fourth.id).status == "READY")


def test_not_enough_credits(server):
    client = server.sdk(server.create_key("poor", "--credits", "0"), max_retries=0)
    avatar = ready_avatar(client, data_uri(face_png()))
    with pytest.raises(runwayml.BadRequestError) as exc:
        start(client, avatar.id)
    assert "credits" in exc.value.body["error"]


# Expiry


def test_unconnected_ready_session_expires_as_failed(server_factory):
    server = server_factory(SESSION_READY_TTL_S="1")
    client = server.sdk(server.create_key("expiry"), max_retries=0)
    avatar = ready_avatar(client, data_uri(face_png()))
    session = start(client, avatar.id)
    key = client.realtime_sessions.retrieve(session.id).session_key
    failed = wait_for(
        lambda: (s := client.realtime_sessions.retrieve(session.id)).status == "FAILED" and s,
        timeout=10,
    )
    assert type(failed).__name__ == "Failed"
    assert failed.failure_code == "SESSION_EXPIRED" and failed.failure
    body = raw_session(client, session.id)
    assert "sessionKey" not in body

    resp = consume(server, session.id, f"Bearer {key}")
    assert resp.status_code == 409

    conv = client.avatar_conversations.with_raw_response.retrieve(session.id).json()
    assert conv["status"] == "failed"
    assert set(conv) == DETAIL_KEYS | {"endedAt", "failure", "failureCode"}
    assert conv["failureCode"] == "SESSION_EXPIRED"
    assert type(client.avatar_conversations.retrieve(session.id)).__name__ == "Failed"
    # Deleting the session afterwards changes nothing.
    client.realtime_sessions.delete(session.id)
    assert client.realtime_sessions.retrieve(session.id).status == "FAILED"


# Conversations


def test_conversations_list_retrieve_delete(server, client, image_uri):
    a1 = ready_avatar(client, image_uri, name="Ada")
    a2 = ready_avatar(client, image_uri, name="Bea")
    s1 = start(client, a1.id, tools=TOOLS, max_duration=60)
    s2 = start(client, a2.id)

    # in_progress detail
    raw = client.avatar_conversations.with_raw_response.retrieve(s1.id)
    body = raw.json()
    assert set(body) == DETAIL_KEYS, set(body) ^ DETAIL_KEYS
    assert body["status"] == "in_progress"
    assert body["id"] == s1.id and body["name"]
    assert body["maxDuration"] == 60
    assert body["duration"] is None and body["startedAt"] is None and body["recordingUrl"] is None
    assert body["hasTools"] is True
    assert body["tools"] == [
        {"type": t["type"], "name": t["name"], "description": t["description"]} for t in TOOLS
    ]
    assert body["transcript"] == []
    assert set(body["avatar"]) == {"type", "id", "name", "imageUrl"}
    assert body["avatar"]["type"] == "custom" and body["avatar"]["id"] == a1.id
    assert body["avatar"]["name"] == "Ada"
    assert httpx.get(body["avatar"]["imageUrl"]).status_code == 200
    conv = raw.parse()
    assert type(conv).__name__ == "InProgress"

    # list, newest first, pages, filter
    page = client.avatar_conversations.list(limit=1)
    assert [c.id for c in page.data] == [s2.id] and page.has_next_page()
    assert [c.id for c in client.avatar_conversations.list(limit=1)] == [s2.id, s1.id]
    raw_list = client.avatar_conversations.with_raw_response.list(limit=20).json()
    assert set(raw_list) == {"data", "hasMore", "nextCursor"}
    for item in raw_list["data"]:
        assert set(item) == SUMMARY_KEYS
        assert set(item["avatar"]) == {"type", "id", "name"}
    assert raw_list["data"][0]["hasTools"] is False and raw_list["data"][1]["hasTools"] is True
    filtered = client.avatar_conversations.list(limit=20, avatar=a1.id)
    assert [c.id for c in filtered] == [s1.id]
    assert filtered.data[0].avatar.name == "Ada"
    now = datetime.now(UTC)
    assert [
        c.id
        for c in client.avatar_conversations.list(
            limit=20, start_date=now - timedelta(minutes=5), end_date=now + timedelta(minutes=5)
        )
    ] == [s2.id, s1.id]
    assert list(client.avatar_conversations.list(limit=20, end_date=now - timedelta(days=1))) == []

    # An in-progress conversation cannot be deleted; an ended one can.
    with pytest.raises(runwayml.ConflictError) as exc:
        client.avatar_conversations.delete(s1.id)
    assert exc.value.response.headers["x-should-retry"] == "false"
    client.realtime_sessions.delete(s1.id)
    ended = client.avatar_conversations.with_raw_response.retrieve(s1.id).json()
    assert ended["status"] == "ended"
    assert set(ended) == DETAIL_KEYS | {"endedAt"}
    assert ISO_Z.match(ended["endedAt"])
    assert type(client.avatar_conversations.retrieve(s1.id)).__name__ == "Ended"

    raw_del = client.avatar_conversations.with_raw_response.delete(s1.id)
    assert raw_del.status_code == 204
    with pytest.raises(runwayml.NotFoundError):
        client.avatar_conversations.retrieve(s1.id)
    with pytest.raises(runwayml.NotFoundError):
        client.avatar_conversations.delete(s1.id)
    assert [c.id for c in client.avatar_conversations.list(limit=20)] == [s2.id]
    # The session itself is still there.
    assert client.realtime_sessions.retrieve(s1.id).status == "CANCELLED"

    # Deleting the avatar keeps its conversations.
    client.realtime_sessions.delete(s2.id)
    client.avatars.delete(a2.id)
    kept = client.avatar_conversations.retrieve(s2.id)
    assert kept.avatar.id == a2.id and kept.avatar.name == "Bea"

    with pytest.raises(runwayml.NotFoundError):
        client.avatar_conversations.retrieve("550e8400-e29b-41d4-a716-446655440000")
