"""Webhooks and tools through the API, on a real server without live calls: avatars' tools
and backend RPC URL, the organisation's webhooks, and session events delivered to a real HTTP
server on loopback (signed, retried, recorded, and kept across a restart)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    PG_URL,
    Server,
    ServerFactory,
    data_uri,
    face_png,
    free_port,
    ready_avatar,
    start_server,
    stop_server,
    wait_for,
)
from tests.webhooks import receiver

pytestmark = pytest.mark.timeout(180)

TOOLS = [
    {
        "type": "client_event",
        "name": "show_map",
        "description": "Show the map.",
        "parameters": [{"type": "string", "name": "room", "description": "Room."}],
    },
    {
        "type": "backend_rpc",
        "name": "check_order",
        "description": "Look up an order.",
        "timeoutSeconds": 3,
        "parameters": [{"type": "integer", "name": "order_number", "description": "Number."}],
    },
]
LOOPBACK = {"WEBHOOK_ALLOW_HTTP_LOOPBACK": "true", "WEBHOOK_BACKOFF_S": "0.3"}


def org_of(server: Server, key: str) -> str:
    keys = json.loads(server.cli("keys", "list", "--json").stdout)
    (org,) = {k["organizationId"] for k in keys if key.startswith(k["prefix"])}
    return str(org)


def start(client: Any, avatar_id: str, **extra: Any) -> str:
    session = client.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar_id}, **extra
    )
    return str(session.id)


def test_avatars_carry_tools_and_a_backend_url_into_their_sessions(server: Server) -> None:
    key = server.create_key("tools", "--tier", "5")
    http = server.http(key)
    body = {
        "name": "Ada",
        "personality": "A guide.",
        "referenceImage": data_uri(face_png()),
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
        "tools": TOOLS,
        "backendRpcUrl": "https://hooks.example.com/rpc",
    }
    created = http.post("/v1/avatars", json=body)
    assert created.status_code == 200, created.text
    avatar = created.json()
    assert avatar["tools"][1] == {
        **TOOLS[1],
        "parameters": [{**TOOLS[1]["parameters"][0], "required": True}],
    }
    assert avatar["backendRpcUrl"] == "https://hooks.example.com/rpc"
    config = http.get("/v1/organization/webhooks").json()
    assert config["secret"].startswith("whsec_"), "the avatar's calls are signed"

    # refused: duplicate names, a bad parameter, plain http
    for bad, path in (
        ({"tools": [TOOLS[0], TOOLS[0]]}, None),
        (
            {
                "tools": [
                    {**TOOLS[0], "parameters": [{"type": "date", "name": "d", "description": "d"}]}
                ]
            },
            "tools",
        ),
        ({"backendRpcUrl": "http://hooks.example.com/rpc"}, "backendRpcUrl"),
    ):
        answer = http.patch(f"/v1/avatars/{avatar['id']}", json=bad)
        assert answer.status_code == 400, answer.text
        if path:
            assert path in json.dumps(answer.json()), answer.json()

    sdk = server.sdk(key, max_retries=0)
    wait_for(lambda: sdk.avatars.retrieve(avatar["id"]).status == "READY", timeout=60)
    mine = {"type": "client_event", "name": "show_map", "description": "My own map."}
    session_id = start(sdk, avatar["id"], tools=[mine])
    conversation = http.get(f"/v1/avatar_conversations/{session_id}").json()
    assert conversation["hasTools"] is True
    assert conversation["tools"] == [
        {"type": "backend_rpc", "name": "check_order", "description": "Look up an order."},
        {"type": "client_event", "name": "show_map", "description": "My own map."},
    ]

    # removed with null; GET no longer shows them
    cleared = http.patch(f"/v1/avatars/{avatar['id']}", json={"tools": None, "backendRpcUrl": None})
    assert cleared.status_code == 200, cleared.text
    assert "tools" not in cleared.json() and "backendRpcUrl" not in cleared.json()
    plain = start(sdk, avatar["id"])
    assert http.get(f"/v1/avatar_conversations/{plain}").json()["tools"] == []


def test_the_organisations_webhooks_by_api_and_cli(server: Server) -> None:
    key = server.create_key("hooks")
    http = server.http(key)
    assert http.get("/v1/organization/webhooks").json() == {
        "url": None,
        "backendRpcUrl": None,
        "secret": None,
        "events": ["session.cancelled", "session.completed", "session.failed", "session.started"],
    }
    put = http.put("/v1/organization/webhooks", json={"url": "https://hooks.example.com/events"})
    assert put.status_code == 200, put.text
    first = put.json()
    assert first["url"] == "https://hooks.example.com/events" and first["secret"].startswith(
        "whsec_"
    )
    same = http.put("/v1/organization/webhooks", json={"backendRpcUrl": "https://x.example/rpc"})
    assert same.json()["secret"] == first["secret"] and same.json()["url"] == first["url"]
    rotated = http.put("/v1/organization/webhooks", json={"rotateSecret": True}).json()
    assert (
        rotated["secret"] != first["secret"] and rotated["backendRpcUrl"] == "https://x.example/rpc"
    )
    refused = http.put("/v1/organization/webhooks", json={"url": "http://127.0.0.1:9/x"})
    assert refused.status_code == 400 and "https://" in refused.json()["error"]
    assert http.get("/v1/organization/webhooks").json() == rotated

    org = org_of(server, key)
    shown = json.loads(server.cli("orgs", "webhooks", org, "--json").stdout)
    assert shown == rotated
    server.cli("orgs", "webhooks", org, "--url", "")
    assert http.get("/v1/organization/webhooks").json()["url"] is None
    bad = server.cli("orgs", "webhooks", org, "--url", "ftp://x", check=False)
    assert bad.returncode == 1 and "https://" in bad.stderr


def test_session_events_are_signed_retried_and_recorded(server_factory: ServerFactory) -> None:
    srv = server_factory(SESSION_READY_TTL_S="1.5", **LOOPBACK)
    key = srv.create_key("events", "--tier", "5")
    http = srv.http(key)
    sdk = srv.sdk(key, max_retries=0)
    avatar = ready_avatar(sdk, data_uri(face_png()))
    with receiver() as backend:
        config = http.put("/v1/organization/webhooks", json={"url": backend.url + "/events"})
        backend.secret = config.json()["secret"]
        backend.events = [500]  # the first attempt fails: retried after webhook_backoff_s

        cancelled = start(sdk, avatar.id)
        sdk.realtime_sessions.delete(cancelled)
        expired = start(sdk, avatar.id)  # nobody joins: FAILED, SESSION_EXPIRED
        backend.wait(lambda: len(backend.event_types()) >= 3, timeout=30)
        events = [r.json for r in backend.of("/events") if r.verified]
        assert all(r.verified for r in backend.received)
        first, retry = events[0], events[1]
        assert first == retry, "a retry is the same message (same webhook-id)"
        assert backend.of("/events")[0].headers["webhook-id"] == first["id"]
        assert first["type"] == "session.cancelled"
        session = first["data"]["session"]
        assert session["id"] == cancelled and session["status"] == "CANCELLED"
        assert session["avatar"] == {"type": "custom", "id": avatar.id, "name": "Ada"}
        assert first["data"]["transcript"] == [] and first["data"]["recordingUrl"] is None
        assert first["data"]["links"]["conversation"].endswith(
            f"/v1/avatar_conversations/{cancelled}"
        )
        failed = events[2]
        assert failed["type"] == "session.failed"
        assert failed["data"]["session"]["failureCode"] == "SESSION_EXPIRED"
        assert failed["data"]["session"]["id"] == expired

        listed = http.get("/v1/organization/webhook_deliveries", params={"sessionId": cancelled})
        (delivery,) = listed.json()["data"]
        assert delivery["status"] == "delivered" and delivery["attempts"] == 2
        assert delivery["responseStatus"] == 204 and delivery["payload"] == first
    other = srv.http(srv.create_key("other"))
    assert other.get("/v1/organization/webhook_deliveries").json()["data"] == []


def test_failing_deliveries_end_as_failed(server_factory: ServerFactory) -> None:
    srv = server_factory(WEBHOOK_MAX_ATTEMPTS="2", **LOOPBACK)
    key = srv.create_key("failing", "--tier", "5")
    http = srv.http(key)
    sdk = srv.sdk(key, max_retries=0)
    avatar = ready_avatar(sdk, data_uri(face_png()))
    with receiver() as backend:
        backend.secret = "whsec_" + "A" * 44  # not the organisation's: every request is refused
        http.put("/v1/organization/webhooks", json={"url": backend.url + "/events"})
        session = start(sdk, avatar.id)
        sdk.realtime_sessions.delete(session)
        delivery = wait_for(
            lambda: [
                d
                for d in http.get("/v1/organization/webhook_deliveries").json()["data"]
                if d["status"] == "failed"
            ],
            timeout=30,
        )[0]
        assert delivery["attempts"] == 2 and delivery["responseStatus"] == 401
        assert "signature" in delivery["lastError"]
        assert len(backend.received) == 2 and not any(r.verified for r in backend.received)


@pytest.mark.skipif(bool(PG_URL), reason="restarts on one SQLite data dir")
def test_pending_deliveries_survive_a_restart(tmp_path: Path) -> None:
    env = {f"CHARACTERS_{k}": v for k, v in LOOPBACK.items()}
    env["CHARACTERS_WEBHOOK_BACKOFF_S"] = "1"
    srv, pg = start_server(tmp_path, env)
    port = free_port()
    try:
        key = srv.create_key("restart", "--tier", "5")
        http = srv.http(key)
        sdk = srv.sdk(key, max_retries=0)
        avatar = ready_avatar(sdk, data_uri(face_png()))
        secret = http.put(
            "/v1/organization/webhooks", json={"url": f"http://127.0.0.1:{port}/events"}
        ).json()["secret"]
        session = start(sdk, avatar.id)
        sdk.realtime_sessions.delete(session)  # nobody listens yet: the attempt fails
        wait_for(
            lambda: http.get("/v1/organization/webhook_deliveries").json()["data"][0]["attempts"],
            timeout=15,
        )
    finally:
        stop_server(srv, pg)
    with receiver(port) as backend:
        backend.secret = secret
        srv, pg = start_server(tmp_path, env)  # the same data dir
        try:
            backend.wait(lambda: backend.event_types() == ["session.cancelled"], timeout=30)
            (delivery,) = srv.http(key).get("/v1/organization/webhook_deliveries").json()["data"]
            assert delivery["status"] == "delivered" and delivery["attempts"] >= 2
        finally:
            stop_server(srv, pg)
