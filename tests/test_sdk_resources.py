"""End-to-end: the official ``runwayml`` SDK against a real server — uploads, documents, voices,
organization and its usage."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import runwayml

from tests.conftest import face_png, png_bytes, ready_avatar

pytestmark = [pytest.mark.store, pytest.mark.slow]

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
DOCUMENT_KEYS = {"id", "name", "type", "content", "createdAt", "updatedAt", "usedBy"}
VOICE = {"type": "runway-live-preset", "presetId": "clara"}


@pytest.fixture(scope="module")
def shared(server):
    """One organisation for the tests that do not depend on what else it holds (keys cost a
    CLI run each)."""
    return server.sdk(server.create_key("shared", "--tier", "2"), max_retries=0)


# Uploads


def test_upload_returns_a_runway_uri_usable_for_avatars(server, shared):
    with server.http(shared.api_key) as http:
        resp = http.post("/v1/uploads", json={"filename": "face.png", "type": "ephemeral"})
    assert resp.status_code == 200
    started = resp.json()
    assert set(started) == {"uploadUrl", "fields", "runwayUri"}
    assert started["runwayUri"].startswith("runway://")
    assert all(isinstance(v, str) for v in started["fields"].values())

    # The storage POST is what the SDK does: the form fields, then the file; no API key.
    data = face_png()
    resp = httpx.post(
        started["uploadUrl"], data=started["fields"], files={"file": ("face.png", data)}
    )
    assert 200 <= resp.status_code < 300
    avatar = ready_avatar(shared, started["runwayUri"])
    assert avatar.status == "READY"

    # The storage endpoint accepts the bytes once, and only with the right token.
    again = httpx.post(
        started["uploadUrl"], data=started["fields"], files={"file": ("f.png", data)}
    )
    assert again.status_code == 400
    wrong = dict(started["fields"], token="nope")
    assert (
        httpx.post(started["uploadUrl"], data=wrong, files={"file": ("f.png", data)}).status_code
        == 401
    )


def test_sdk_upload_with_metadata(shared):
    up = shared.uploads.create_ephemeral(
        file=("face.webp", face_png(), "image/png"), file_metadata='{"source": "test"}'
    )
    assert re.match(r"^runway://\S{8,}$", up.uri)
    # A .webp name on PNG bytes is fine: the image itself is checked when it is used.
    assert ready_avatar(shared, up.uri).status == "READY"


def test_upload_with_a_bad_extension_is_400(shared):
    for filename in ["notes.exe", "archive.tar.gz", "noext", "ab"]:
        with pytest.raises(runwayml.BadRequestError) as exc:
            shared.uploads.create_ephemeral(file=(filename, b"0123456789" * 60))
        body = exc.value.body
        assert body["issues"][0]["path"] == ["filename"], filename
        assert "filename" in body["error"]


def test_upload_requests_are_validated(server, shared):
    with server.http(shared.api_key) as http:
        missing = http.post("/v1/uploads", json={"filename": "face.png"})
        wrong_type = http.post("/v1/uploads", json={"filename": "face.png", "type": "permanent"})
    assert missing.status_code == 400
    assert missing.json()["issues"][0]["path"] == ["type"]
    assert wrong_type.status_code == 400
    assert wrong_type.json()["issues"][0]["code"] == "invalid_enum_value"


def test_upload_of_another_organisation_is_unusable(shared, client):
    up = shared.uploads.create_ephemeral(file=("face.png", png_bytes()))
    with pytest.raises(runwayml.BadRequestError) as exc:
        client.avatars.create(name="X", personality="Y", reference_image=up.uri, voice=VOICE)
    assert "not found" in exc.value.body["error"]


def test_text_upload_becomes_a_file_document(shared):
    up = shared.uploads.create_ephemeral(file=("faq.md", b"# FAQ\n\nWe open at nine.\n"))
    # Extension: documents may be made from an upload (``file``), typed "file".
    doc = shared.documents.create(name="FAQ", content=None, extra_body={"file": up.uri})  # type: ignore[arg-type]
    assert doc.type == "file"
    assert shared.documents.retrieve(doc.id).content == "# FAQ\n\nWe open at nine."


# Documents


def test_document_create_retrieve_shapes(shared):
    raw = shared.documents.with_raw_response.create(name="Menu", content="Soup: tomato.")
    assert raw.status_code == 200
    body = raw.json()
    assert set(body) == DOCUMENT_KEYS
    assert body["type"] == "text" and body["usedBy"] == [] and body["content"] == "Soup: tomato."
    assert ISO_Z.match(body["createdAt"]) and body["createdAt"] == body["updatedAt"]
    doc = raw.parse()
    got = shared.documents.with_raw_response.retrieve(doc.id).json()
    assert got == body
    assert shared.documents.retrieve(doc.id).name == "Menu"


def test_document_update_is_204(shared):
    doc = shared.documents.create(name="Menu", content="Soup: tomato.")
    time.sleep(0.01)
    raw = shared.documents.with_raw_response.update(doc.id, name="Menu v2")
    assert raw.status_code == 204 and raw.http_response.content == b""
    assert raw.parse() is None
    assert shared.documents.update(doc.id, content="Soup: leek.") is None
    got = shared.documents.retrieve(doc.id)
    assert (got.name, got.content) == ("Menu v2", "Soup: leek.")
    assert got.updated_at > got.created_at
    with pytest.raises(runwayml.BadRequestError):
        shared.documents.update(doc.id)
    with pytest.raises(runwayml.BadRequestError):
        shared.documents.update(doc.id, content="")


def test_document_list_sort_order_and_pages(client):
    docs = []
    for i in range(3):
        docs.append(client.documents.create(name=f"D{i}", content=f"Content {i}."))
        time.sleep(0.01)
    d0, d1, d2 = (d.id for d in docs)
    client.documents.update(d0, content="Touched last.")

    def ids(**kw):
        return [d.id for d in client.documents.list(limit=2, **kw)]

    assert ids(sort="createdAt", order="desc") == [d2, d1, d0]
    assert ids(sort="createdAt", order="asc") == [d0, d1, d2]
    assert ids(sort="updatedAt", order="desc") == [d0, d2, d1]
    assert ids(sort="updatedAt", order="asc") == [d1, d2, d0]

    raw = client.documents.with_raw_response.list(limit=2, sort="createdAt", order="desc")
    body = raw.json()
    assert set(body) == {"data", "hasMore", "nextCursor"} and body["hasMore"] is True
    for item in body["data"]:
        assert set(item) == DOCUMENT_KEYS - {"content"}  # list items omit content
    with pytest.raises(runwayml.BadRequestError) as exc:
        client.documents.list(limit=2, sort="name", order="desc")  # type: ignore[arg-type]
    assert exc.value.body["issues"][0]["path"] == ["sort"]


def test_document_used_by_and_delete_detaches(client, image_uri):
    d1 = client.documents.create(name="One", content="First.")
    d2 = client.documents.create(name="Two", content="Second.")
    a1 = client.avatars.create(
        name="Ada", personality="P", reference_image=image_uri, voice=VOICE, document_ids=[d1.id]
    )
    a2 = client.avatars.create(
        name="Bea",
        personality="P",
        reference_image=image_uri,
        voice=VOICE,
        document_ids=[d1.id, d2.id],
    )
    body = client.documents.with_raw_response.retrieve(d1.id).json()
    assert [u["id"] for u in body["usedBy"]] == [a1.id, a2.id]
    assert all(set(u) == {"id", "name", "imageUrl"} for u in body["usedBy"])
    assert [u.name for u in client.documents.retrieve(d1.id).used_by] == ["Ada", "Bea"]
    listed = {d.id: d for d in client.documents.list(limit=10, sort="createdAt", order="asc")}
    assert [u.id for u in listed[d2.id].used_by] == [a2.id]

    # Re-attaching through the avatar changes usedBy.
    client.avatars.update(a1.id, document_ids=[d2.id])
    assert [u.id for u in client.documents.retrieve(d1.id).used_by] == [a2.id]

    raw = client.documents.with_raw_response.delete(d2.id)
    assert raw.status_code == 204
    assert client.avatars.retrieve(a1.id).document_ids == []
    assert client.avatars.retrieve(a2.id).document_ids == [d1.id]
    with pytest.raises(runwayml.NotFoundError):
        client.documents.retrieve(d2.id)
    with pytest.raises(runwayml.NotFoundError):
        client.documents.delete(d2.id)
    with pytest.raises(runwayml.NotFoundError):
        client.documents.update(d2.id, name="Back")

    # Deleting an avatar removes it from usedBy.
    client.avatars.delete(a2.id)
    assert client.documents.retrieve(d1.id).used_by == []


def test_document_validation(shared):
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.documents.create(name="", content="x")
    assert exc.value.body["issues"][0]["path"] == ["name"]
    with pytest.raises(runwayml.BadRequestError):
        shared.documents.create(name="Big", content="x" * 200_001)
    assert shared.documents.create(name="Max", content="x" * 200_000).name == "Max"


# Voices


def test_voices_list_shows_the_presets(shared):
    """No custom voices exist; the list holds the 30 presets, paged like any list."""
    first = shared.voices.list(limit=10)
    assert len(first.data) == 10 and first.has_next_page()
    ids = [v.id for page in shared.voices.list(limit=10).iter_pages() for v in page.data]
    assert len(ids) == 30 and {"clara", "victoria", "vincent"} <= set(ids)
    assert all(v.status == "READY" for v in first.data)


def test_voice_creation_is_a_clear_400(shared):
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.voices.create(
            name="Narrator",
            from_={
                "type": "text",
                "prompt": "A warm, calm narrator with a slight rasp.",
                "model": "eleven_ttv_v3",
            },
        )
    message = exc.value.body["error"]
    assert "not available" in message and "preset" in message
    with pytest.raises(runwayml.BadRequestError):
        shared.voices.create(
            name="Clone", from_={"type": "audio", "audio": "runway://uploads/whatever"}
        )
    with pytest.raises(runwayml.BadRequestError):
        shared.voices.preview(
            prompt="A warm, calm narrator with a slight rasp.", model="eleven_ttv_v3"
        )
    missing = "550e8400-e29b-41d4-a716-446655440000"
    with pytest.raises(runwayml.NotFoundError):
        shared.voices.retrieve(missing)
    with pytest.raises(runwayml.NotFoundError):
        shared.voices.update(missing, name="New")
    with pytest.raises(runwayml.NotFoundError):
        shared.voices.delete(missing)


# Organization


def test_organization_retrieve(server, client, api_key, image_uri):
    raw = client.organization.with_raw_response.retrieve()
    body = raw.json()
    assert set(body) == {"creditBalance", "tier", "usage"}
    assert body["creditBalance"] == 10_000
    assert body["tier"] == {
        "maxMonthlyCreditSpend": 100_000,
        "models": {"gwm1_avatars": {"maxConcurrentGenerations": 2, "maxDailyGenerations": 200}},
    }
    assert body["usage"] == {"models": {"gwm1_avatars": {"dailyGenerations": 0}}}

    avatar = ready_avatar(client, image_uri)
    session = client.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar.id}
    )
    client.realtime_sessions.delete(session.id)
    org = client.organization.retrieve()
    assert org.usage.models["gwm1_avatars"].daily_generations == 1
    assert org.tier.models["gwm1_avatars"].max_concurrent_generations == 2
    assert org.credit_balance == 10_000  # nothing ran, nothing charged

    tier1 = server.sdk(server.create_key("t1", "--tier", "1", "--credits", "7"), max_retries=0)
    org = tier1.organization.retrieve()
    assert org.credit_balance == 7
    assert org.tier.models["gwm1_avatars"].max_concurrent_generations == 1
    assert org.tier.models["gwm1_avatars"].max_daily_generations == 50


def test_organization_usage(shared):
    raw = shared.organization.with_raw_response.retrieve_usage()
    body = raw.json()
    assert set(body) >= {"results", "models"}
    assert set(body) <= {"results", "models", "apiKeys", "resultsByApiKey"}
    assert body["results"] == [] and body["models"] == []

    today = datetime.now(UTC).date()
    usage = shared.organization.retrieve_usage(
        start_date=today - timedelta(days=7), before_date=today + timedelta(days=1)
    )
    assert usage.results == [] and usage.models == []
    with pytest.raises(runwayml.BadRequestError):
        shared.organization.retrieve_usage(start_date=today, before_date=today)
    with pytest.raises(runwayml.BadRequestError):
        shared.organization.retrieve_usage(
            start_date=date(2026, 1, 1), before_date=date(2026, 6, 1)
        )
