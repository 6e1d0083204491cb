"""End-to-end: error statuses, bodies and SDK exception classes against a real server —
authentication, versioning, validation, not-found, rate limits and organisation isolation."""

from __future__ import annotations

import json

import httpx
import pytest
import runwayml

from tests.conftest import API_VERSION, data_uri, face_png, ready_avatar

pytestmark = [pytest.mark.store, pytest.mark.slow]

MISSING = "550e8400-e29b-41d4-a716-446655440000"
VOICE = {"type": "runway-live-preset", "presetId": "clara"}
# Every route with an {id} in its path, as (method, path template, JSON body or None).
ID_ROUTES = [
    ("GET", "/v1/avatars/{}", None),
    ("PATCH", "/v1/avatars/{}", {"name": "X"}),
    ("DELETE", "/v1/avatars/{}", None),
    ("GET", "/v1/documents/{}", None),
    ("PATCH", "/v1/documents/{}", {"name": "X"}),
    ("DELETE", "/v1/documents/{}", None),
    ("GET", "/v1/realtime_sessions/{}", None),
    ("DELETE", "/v1/realtime_sessions/{}", None),
    ("GET", "/v1/avatar_conversations/{}", None),
    ("DELETE", "/v1/avatar_conversations/{}", None),
    ("GET", "/v1/voices/{}", None),
    ("PATCH", "/v1/voices/{}", {"name": "X"}),
    ("DELETE", "/v1/voices/{}", None),
]


@pytest.fixture(scope="module")
def key(server):
    """One organisation for the tests that do not depend on what else it holds."""
    return server.create_key("errors", "--tier", "5")


@pytest.fixture(scope="module")
def shared(server, key):
    return server.sdk(key, max_retries=0)


def assert_error_body(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body.get("error"), str) and body["error"]
    assert set(body) <= {"error", "issues", "docUrl"}
    return body


# 401


def test_unknown_and_malformed_keys_are_401(server):
    for bad in ["key_" + "0" * 128, "key_short", "sk-live-123", "KEY_" + "A" * 128]:
        client = server.sdk(bad, max_retries=0)
        with pytest.raises(runwayml.AuthenticationError) as exc:
            client.organization.retrieve()
        assert exc.value.status_code == 401
        assert set(exc.value.body) == {"error"}
    with server.http() as http:
        assert_error_body(http.get("/v1/avatars", params={"limit": 5}), 401)
        assert_error_body(http.get("/v1/avatars", headers={"Authorization": "Basic abc"}), 401)
        assert_error_body(http.get("/v1/avatars", headers={"Authorization": "Bearer"}), 401)


def test_revoked_key_is_401(server):
    out = server.cli("keys", "create", "--name", "to-revoke").stdout.splitlines()
    key_id = next(line.split(":", 1)[1].strip() for line in out if line.startswith("key id:"))
    client = server.sdk(out[-1], max_retries=0)
    assert client.avatars.list(limit=1).data == []
    server.cli("keys", "revoke", key_id)
    with pytest.raises(runwayml.AuthenticationError) as exc:
        client.avatars.list(limit=1)
    assert "revoked" in exc.value.body["error"]


def test_key_is_checked_before_the_version_and_the_body(server):
    with httpx.Client(base_url=server.base_url) as http:
        resp = http.post("/v1/avatars", content=b"{not json")
    assert_error_body(resp, 401)


# X-Runway-Version


def test_version_header_is_required(server, key):
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as http:
        missing = assert_error_body(http.get("/v1/organization"), 400)
        assert API_VERSION in missing["error"]
        wrong = http.get("/v1/organization", headers={"X-Runway-Version": "2023-09-06"})
        assert API_VERSION in assert_error_body(wrong, 400)["error"]
        ok = http.get("/v1/organization", headers={"X-Runway-Version": API_VERSION})
        assert ok.status_code == 200

    client = server.sdk(key, max_retries=0, runway_version="2023-09-06")
    with pytest.raises(runwayml.BadRequestError) as exc:
        client.avatars.list(limit=1)
    assert API_VERSION in exc.value.body["error"]


# 404


def test_not_found_for_every_resource(shared):
    calls = [
        lambda: shared.avatars.retrieve(MISSING),
        lambda: shared.avatars.update(MISSING, name="X"),
        lambda: shared.avatars.delete(MISSING),
        lambda: shared.documents.retrieve(MISSING),
        lambda: shared.documents.update(MISSING, name="X"),
        lambda: shared.documents.delete(MISSING),
        lambda: shared.realtime_sessions.retrieve(MISSING),
        lambda: shared.realtime_sessions.delete(MISSING),
        lambda: shared.avatar_conversations.retrieve(MISSING),
        lambda: shared.avatar_conversations.delete(MISSING),
        lambda: shared.voices.retrieve(MISSING),
    ]
    for call in calls:
        with pytest.raises(runwayml.NotFoundError) as exc:
            call()
        assert exc.value.status_code == 404
        assert set(exc.value.body) == {"error"} and exc.value.body["error"]


def test_unknown_paths_and_methods(server, key):
    with server.http(key) as http:
        assert_error_body(http.get("/v1/nothing-here"), 404)
        assert_error_body(http.get("/nothing-here"), 404)
        assert_error_body(http.put("/v1/avatars", json={}), 405)
        assert_error_body(http.post(f"/v1/avatars/{MISSING}", json={}), 405)


@pytest.mark.parametrize(
    "bad_id", ["not-a-uuid", "123", "550e8400-e29b-41d4-a716-44665544000g", "%20", "a" * 300]
)
def test_malformed_ids_in_paths_are_400_or_404_never_500(server, key, bad_id):
    with server.http(key) as http:
        for method, template, body in ID_ROUTES:
            resp = http.request(method, template.format(bad_id), json=body)
            assert resp.status_code in (400, 404), (method, template, resp.status_code, resp.text)
            assert_error_body(resp, resp.status_code)
    resp = httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{bad_id}/consume",
        headers={"Authorization": "Bearer whatever"},
    )
    assert resp.status_code in (400, 401, 404), resp.text
    assert_error_body(resp, resp.status_code)


def test_malformed_id_through_the_sdk(shared):
    with pytest.raises((runwayml.BadRequestError, runwayml.NotFoundError)) as exc:
        shared.avatars.retrieve("not-a-uuid")
    assert exc.value.body["error"]


# 400: validation issues


def test_missing_fields_are_listed_in_issues(server, key):
    with server.http(key) as http:
        body = assert_error_body(http.post("/v1/avatars", json={}), 400)
    by_path = {tuple(i["path"]): i for i in body["issues"]}
    assert set(by_path) == {("name",), ("referenceImage",), ("personality",), ("voice",)}
    for issue in by_path.values():
        assert issue["code"] == "invalid_type" and issue["message"] == "Required"


def test_bad_enum_is_400_with_issue(shared, image_uri):
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.avatars.create(
            name="Ada",
            personality="P",
            reference_image=image_uri,
            voice={"type": "runway-live-preset", "presetId": "nobody"},  # type: ignore[typeddict-item]
        )
    [issue] = exc.value.body["issues"]
    assert issue["path"] == ["voice", "presetId"]
    assert issue["code"] == "invalid_enum_value"

    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.avatars.create(
            name="Ada",
            personality="P",
            reference_image=image_uri,
            voice=VOICE,
            image_processing="sharpen",  # type: ignore[arg-type]
        )
    assert exc.value.body["issues"][0]["path"] == ["imageProcessing"]

    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.avatars.create(
            name="Ada",
            personality="P",
            reference_image=image_uri,
            voice={"type": "robot", "presetId": "clara"},  # type: ignore[typeddict-item]
        )
    assert exc.value.body["issues"][0]["path"] == ["voice"]
    assert exc.value.body["issues"][0]["code"] == "invalid_union_discriminator"


def test_unknown_fields_are_400(shared, image_uri):
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.avatars.create(
            name="Ada",
            personality="P",
            reference_image=image_uri,
            voice=VOICE,
            extra_body={"colour": "red"},
        )
    [issue] = exc.value.body["issues"]
    assert issue["code"] == "unrecognized_keys"
    assert issue["keys"] == ["colour"] and issue["path"] == []
    assert "colour" in exc.value.body["error"]

    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.documents.create(name="D", content="C", extra_body={"avatarId": MISSING})
    assert exc.value.body["issues"][0]["keys"] == ["avatarId"]

    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.avatars.create(
            name="Ada",
            personality="P",
            reference_image=image_uri,
            voice={**VOICE, "speed": 2},  # type: ignore[typeddict-unknown-key]
        )
    assert exc.value.body["issues"][0]["path"] == ["voice"]


def test_bad_json_and_query_parameters(server, key):
    with server.http(key) as http:
        body = assert_error_body(
            http.post(
                "/v1/documents", content=b"{nope", headers={"Content-Type": "application/json"}
            ),
            400,
        )
        assert body["issues"][0]["code"] == "invalid_json"
        assert_error_body(http.post("/v1/documents", json=["a", "list"]), 400)
        for params in ({"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "garbage!!"}):
            body = assert_error_body(http.get("/v1/avatars", params=params), 400)
            assert body["issues"][0]["path"] == [next(iter(params))]
        body = assert_error_body(http.get("/v1/avatar_conversations", params={"avatar": "x"}), 400)
        assert body["issues"][0]["path"] == ["avatar"]
        body = assert_error_body(http.get("/v1/avatar_usage"), 400)
        assert {tuple(i["path"]) for i in body["issues"]} == {("startDate",), ("endDate",)}


def test_extreme_dates_are_answered_not_500(server, key):
    """Dates at the edges of the calendar once overflowed into 500s."""
    with server.http(key) as http:
        for start, end in [
            ("0001-01-01T00:00:00+14:00", "0001-01-02T00:00:00Z"),
            ("9999-12-30T00:00:00Z", "9999-12-31T23:59:59-14:00"),
        ]:
            resp = http.get("/v1/avatar_usage", params={"startDate": start, "endDate": end})
            assert_error_body(resp, 400)
        resp = http.get(
            "/v1/avatar_usage",
            params={"startDate": "9999-12-30T00:00:00Z", "endDate": "9999-12-31T23:59:59Z"},
        )
        assert resp.status_code == 200
        assert [d["date"] for d in resp.json()["byDay"]] == ["9999-12-30", "9999-12-31"]
        for params in (
            {"startDate": "0001-01-01T00:00:00+14:00"},
            {"endDate": "9999-12-31T23:59:59-14:00"},
        ):
            assert http.get("/v1/avatar_conversations", params=params).status_code in (200, 400)
        resp = http.post("/v1/organization/usage", json={"startDate": "9999-12-31"})
        assert_error_body(resp, 400)
        resp = http.post(
            "/v1/organization/usage", json={"startDate": "0001-01-01", "beforeDate": "0001-01-02"}
        )
        assert resp.status_code == 200


def test_sdk_exposes_the_parsed_body(shared):
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.documents.create(name="", content="")
    err = exc.value
    assert err.status_code == 400
    assert err.response.headers["content-type"].startswith("application/json")
    assert json.loads(err.response.text) == err.body
    assert {tuple(i["path"]) for i in err.body["issues"]} == {("name",), ("content",)}
    assert "Error code: 400" in str(err)


# 429


def test_concurrency_and_queue_exhausted_is_429(server):
    client = server.sdk(server.create_key("tier1", "--tier", "1"), max_retries=0)
    avatar = ready_avatar(client, data_uri(face_png()))
    sessions = [
        client.realtime_sessions.create(
            model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar.id}
        )
        for _ in range(3)  # 1 active + 2 queued
    ]
    with pytest.raises(runwayml.RateLimitError) as exc:
        client.realtime_sessions.create(
            model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar.id}
        )
    err = exc.value
    assert err.status_code == 429
    assert set(err.body) == {"error"} and "Concurrency" in err.body["error"]
    assert int(err.response.headers["retry-after"]) >= 1
    # A freed slot makes room again.
    client.realtime_sessions.delete(sessions[2].id)
    client.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar.id}
    )


# Isolation between organisations


def test_other_organisations_resources_are_404(server, image_uri):
    alice = server.sdk(server.create_key("alice"), max_retries=0)
    bob = server.sdk(server.create_key("bob"), max_retries=0)
    avatar = ready_avatar(alice, image_uri)
    doc = alice.documents.create(name="Secret", content="Alice only.")
    session = alice.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar.id}
    )
    session_key = alice.realtime_sessions.retrieve(session.id).session_key

    for call in [
        lambda: bob.avatars.retrieve(avatar.id),
        lambda: bob.avatars.update(avatar.id, name="Mine"),
        lambda: bob.avatars.delete(avatar.id),
        lambda: bob.documents.retrieve(doc.id),
        lambda: bob.documents.update(doc.id, name="Mine"),
        lambda: bob.documents.delete(doc.id),
        lambda: bob.realtime_sessions.retrieve(session.id),
        lambda: bob.realtime_sessions.delete(session.id),
        lambda: bob.avatar_conversations.retrieve(session.id),
        lambda: bob.avatar_conversations.delete(session.id),
    ]:
        with pytest.raises(runwayml.NotFoundError):
            call()

    assert bob.avatars.list(limit=10).data == []
    assert bob.documents.list(limit=10, sort="createdAt", order="desc").data == []
    assert bob.avatar_conversations.list(limit=10).data == []
    assert bob.avatar_conversations.list(limit=10, avatar=avatar.id).data == []

    # Bob cannot use Alice's avatar or documents by id either.
    with pytest.raises(runwayml.BadRequestError):
        bob.realtime_sessions.create(
            model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar.id}
        )
    with pytest.raises(runwayml.BadRequestError):
        bob.avatars.create(
            name="B", personality="P", reference_image=image_uri, voice=VOICE, document_ids=[doc.id]
        )

    # Nothing of Alice's changed, and her session is still consumable once.
    assert alice.avatars.retrieve(avatar.id).name == "Ada"
    assert alice.documents.retrieve(doc.id).name == "Secret"
    assert alice.realtime_sessions.retrieve(session.id).status == "READY"
    resp = httpx.post(
        f"{server.base_url}/v1/realtime_sessions/{session.id}/consume",
        headers={"Authorization": f"Bearer {session_key}"},
    )
    assert resp.status_code == 200
