"""End-to-end: the official ``runwayml`` SDK against a real server — avatars and avatar usage.

Every call goes through the SDK; where exact wire keys matter the raw JSON is read with
``client.<resource>.with_raw_response``.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import runwayml
from PIL import Image
from sqlalchemy import create_engine, text

from characters.config import async_url, sync_url
from tests.conftest import AVATAR_KEYS, data_uri, face_png, png_bytes, ready_avatar, wait_for

pytestmark = [pytest.mark.store, pytest.mark.slow]

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
CLARA = {
    "type": "runway-live-preset",
    "presetId": "clara",
    "name": "Clara",
    "description": "Soft, approachable",
}
VOICE = {"type": "runway-live-preset", "presetId": "clara"}


def create(client, uri: str, **kwargs):
    return client.avatars.create(
        name=kwargs.pop("name", "Ada"),
        personality=kwargs.pop("personality", "A friendly guide."),
        reference_image=uri,
        voice=kwargs.pop("voice", VOICE),
        **kwargs,
    )


def raw_avatar(client, avatar_id: str) -> dict:
    raw = client.avatars.with_raw_response.retrieve(avatar_id)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    return raw.json()


def wait_ready(client, avatar_id: str):
    avatar = wait_for(
        lambda: (a := client.avatars.retrieve(avatar_id)).status != "PROCESSING" and a
    )
    assert avatar.status == "READY", avatar
    return avatar


def assert_avatar_wire(body: dict, status: str) -> None:
    expected = AVATAR_KEYS | ({"failureReason"} if status == "FAILED" else set())
    assert set(body) == expected, set(body) ^ expected
    assert body["status"] == status
    assert UUID4.match(body["id"])
    assert ISO_Z.match(body["createdAt"]) and ISO_Z.match(body["updatedAt"])
    assert isinstance(body["documentIds"], list)
    if body["voice"]["type"] == "runway-live-preset":
        assert set(body["voice"]) == {"type", "presetId", "name", "description"}


@pytest.fixture(scope="module")
def shared(server):
    """One organisation for the tests that do not depend on what else it holds (keys cost a
    CLI run each)."""
    return server.sdk(server.create_key("shared", "--tier", "2"), max_retries=0)


@pytest.fixture(scope="module")
def big_image_uri() -> str:
    """A 6000×6000 PNG: small on the wire, but processing it takes a noticeable while."""
    img = Image.linear_gradient("L").resize((6000, 6000)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return data_uri(buf.getvalue())


# Create


def test_create_from_data_uri_is_processing_then_ready(shared, image_uri):
    raw = shared.avatars.with_raw_response.create(
        name="Ada",
        personality="A friendly guide.",
        reference_image=image_uri,
        voice=VOICE,
        start_script="Hello there!",
    )
    assert raw.status_code == 200
    body = raw.json()
    assert_avatar_wire(body, "PROCESSING")
    assert body["voice"] == CLARA
    assert body["name"] == "Ada"
    assert body["personality"] == "A friendly guide."
    assert body["startScript"] == "Hello there!"
    assert body["documentIds"] == []
    assert body["referenceImageUri"] is None and body["processedImageUri"] is None

    created = raw.parse()
    assert type(created).__name__ == "Processing"
    assert created.created_at.tzinfo is not None

    ready = wait_ready(shared, created.id)
    assert type(ready).__name__ == "Ready"
    assert ready.voice.name == "Clara" and ready.voice.description == "Soft, approachable"
    body = raw_avatar(shared, created.id)
    assert_avatar_wire(body, "READY")
    assert "failureReason" not in body
    assert body["createdAt"] == raw.json()["createdAt"]

    # Both previews are signed links served without an API key.
    for key in ("referenceImageUri", "processedImageUri"):
        resp = httpx.get(body[key], timeout=10)
        assert resp.status_code == 200, (key, resp.text)
        assert resp.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(resp.content)) as img:
            assert max(img.size) <= 384


def test_create_from_uploaded_file(shared, tmp_path: Path):
    up = shared.uploads.create_ephemeral(file=("face.png", face_png(color=(20, 120, 200))))
    assert up.uri.startswith("runway://")
    avatar = ready_avatar(shared, up.uri)
    assert avatar.status == "READY"

    # The SDK infers the filename from a path, too.
    path = tmp_path / "portrait.jpg"
    Image.open(io.BytesIO(face_png((512, 512), (90, 60, 30)))).save(path, "JPEG")
    up2 = shared.uploads.create_ephemeral(file=path)
    avatar2 = ready_avatar(shared, up2.uri, name="Bea", image_processing="none")
    assert avatar2.status == "READY"
    body = raw_avatar(shared, avatar2.id)
    assert body["processedImageUri"] and body["referenceImageUri"]


def test_create_with_documents_and_options(shared, image_uri):
    d1 = shared.documents.create(name="Menu", content="Soup of the day: tomato.")
    d2 = shared.documents.create(name="Hours", content="Open 9 to 5.")
    avatar = create(
        shared,
        image_uri,
        document_ids=[d2.id, d1.id],
        image_processing="none",
        start_script="Welcome!",
        voice={"type": "runway-live-preset", "presetId": "victoria"},
    )
    assert avatar.document_ids == [d2.id, d1.id]
    assert avatar.start_script == "Welcome!"
    assert avatar.voice.preset_id == "victoria"
    assert avatar.voice.name == "Victoria"
    assert avatar.voice.description == "Firm, professional"
    assert wait_ready(shared, avatar.id).document_ids == [d2.id, d1.id]


BAD_IMAGES = [
    (data_uri(b"GIF89a" + b"\x00" * 64, "image/gif"), "referenceImage"),
    (data_uri(png_bytes((32, 32))), "at least"),
    (data_uri(b"plain text, not a picture", "text/plain"), "image/"),
    ("https://127.0.0.1/face.png", "private"),
    ("ftp://example.com/face.png", "referenceImage"),
    ("runway://uploads/550e8400-e29b-41d4-a716-446655440000", "not found"),
]


def test_create_rejects_unusable_images(shared):
    for reference, fragment in BAD_IMAGES:
        with pytest.raises(runwayml.BadRequestError) as exc:
            create(shared, reference)
        body = exc.value.body
        assert fragment in body["error"], (reference[:40], body)
        assert body["issues"][0]["path"] == ["referenceImage"]


def test_create_rejects_unknown_documents_and_custom_voices(shared, image_uri):
    with pytest.raises(runwayml.BadRequestError) as exc:
        create(shared, image_uri, document_ids=["550e8400-e29b-41d4-a716-446655440000"])
    assert exc.value.body["issues"][0]["path"] == ["documentIds"]
    with pytest.raises(runwayml.BadRequestError) as exc:
        create(
            shared,
            image_uri,
            voice={"type": "custom", "id": "550e8400-e29b-41d4-a716-446655440000"},
        )
    assert "preset" in exc.value.body["error"]


# Retrieve and list


def test_list_paginates_newest_first_without_gaps(server, client, api_key, image_uri):
    page = client.avatars.list(limit=10)
    assert page.data == [] and not page.has_next_page()
    assert client.avatars.with_raw_response.list(limit=10).json() == {
        "data": [],
        "hasMore": False,
        "nextCursor": None,
    }

    created = [create(client, image_uri, name=f"A{i}").id for i in range(5)]
    newest_first = list(reversed(created))

    seen = [a.id for a in client.avatars.list(limit=2)]  # the SDK follows nextCursor
    assert seen == newest_first
    assert len(set(seen)) == len(seen)

    # Page by page on the wire: 2 + 2 + 1, hasMore/nextCursor consistent.
    pages, cursor = [], None
    while True:
        raw = client.avatars.with_raw_response.list(
            limit=2, **({"cursor": cursor} if cursor else {})
        )
        body = raw.json()
        assert set(body) == {"data", "hasMore", "nextCursor"}
        for item in body["data"]:
            assert_avatar_wire(item, item["status"])
        pages.append([a["id"] for a in body["data"]])
        assert body["hasMore"] == (body["nextCursor"] is not None)
        if not body["hasMore"]:
            break
        cursor = body["nextCursor"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == newest_first

    first = client.avatars.list(limit=2)
    assert first.has_next_page() and first.next_cursor
    assert [a.id for a in first.get_next_page().data] == newest_first[2:4]

    # Without a limit (as the TS SDK sends it) the default page holds them all.
    with server.http(api_key) as http:
        body = http.get("/v1/avatars").json()
    assert [a["id"] for a in body["data"]] == newest_first
    assert body["hasMore"] is False and body["nextCursor"] is None


# Update


def test_update_each_field(shared, image_uri):
    avatar = wait_ready(shared, create(shared, image_uri).id)
    d1 = shared.documents.create(name="One", content="First document.")
    d2 = shared.documents.create(name="Two", content="Second document.")

    updated = shared.avatars.update(avatar.id, name="Grace")
    assert updated.name == "Grace" and updated.status == "READY"
    assert updated.updated_at > avatar.updated_at
    assert shared.avatars.update(avatar.id, personality="Terse.").personality == "Terse."

    updated = shared.avatars.update(
        avatar.id, voice={"type": "runway-live-preset", "presetId": "vincent"}
    )
    assert updated.voice.preset_id == "vincent" and updated.voice.name == "Vincent"
    assert updated.status == "READY"  # a voice change needs no re-processing

    assert shared.avatars.update(avatar.id, start_script="Hi!").start_script == "Hi!"
    raw = shared.avatars.with_raw_response.update(avatar.id, start_script=None)
    assert raw.json()["startScript"] is None
    assert raw.parse().start_script is None

    assert shared.avatars.update(avatar.id, document_ids=[d1.id, d2.id]).document_ids == [
        d1.id,
        d2.id,
    ]
    assert shared.avatars.update(avatar.id, document_ids=[d2.id]).document_ids == [d2.id]
    assert shared.avatars.update(avatar.id, document_ids=[]).document_ids == []

    # Changing how the image is processed re-processes it.
    updated = shared.avatars.update(avatar.id, image_processing="none")
    assert updated.status == "PROCESSING"
    wait_ready(shared, avatar.id)

    # A new reference image re-processes and yields new previews.
    before = raw_avatar(shared, avatar.id)
    other = data_uri(face_png(color=(10, 200, 90)))
    updated = shared.avatars.update(avatar.id, reference_image=other)
    assert updated.status == "PROCESSING"
    assert updated.reference_image_uri is None
    wait_ready(shared, avatar.id)
    after = raw_avatar(shared, avatar.id)
    assert after["referenceImageUri"] != before["referenceImageUri"]
    pixels = Image.open(io.BytesIO(httpx.get(after["referenceImageUri"]).content)).getpixel((5, 5))
    assert abs(pixels[1] - 200) < 10

    # Everything set above is still there.
    final = shared.avatars.retrieve(avatar.id)
    assert (final.name, final.personality, final.voice.preset_id) == ("Grace", "Terse.", "vincent")
    assert final.start_script is None and final.document_ids == []


def test_update_rejects_empty_and_null_fields(shared, image_uri):
    avatar = create(shared, image_uri)
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.avatars.update(avatar.id)
    assert "at least one" in exc.value.body["error"]
    with pytest.raises(runwayml.BadRequestError) as exc:
        shared.avatars.update(avatar.id, name=None)  # type: ignore[arg-type]
    assert exc.value.body["issues"][0]["path"] == ["name"]
    with pytest.raises(runwayml.BadRequestError):
        shared.avatars.update(avatar.id, name="x" * 51)


def test_reference_image_change_while_processing_is_a_final_409(server, shared, big_image_uri):
    requests: list[httpx.Request] = []
    http_client = httpx.Client(event_hooks={"request": [requests.append]})
    client = server.sdk(shared.api_key, http_client=http_client)  # default retries (2) on purpose

    avatar = create(client, big_image_uri)
    assert avatar.status == "PROCESSING"
    requests.clear()
    with pytest.raises(runwayml.ConflictError) as exc:
        client.avatars.update(avatar.id, reference_image=data_uri(png_bytes()))
    err = exc.value
    assert err.status_code == 409
    assert err.body == {
        "error": "The reference image cannot be updated while the avatar is processing."
    }
    assert err.response.headers["x-should-retry"] == "false"
    assert len(requests) == 1, "the SDK retried a final 409"

    # Other fields may change while processing.
    assert client.avatars.update(avatar.id, name="Still processing").name == "Still processing"

    # Once processed (here FAILED: the big image shows no face), the image can change.
    wait_for(lambda: client.avatars.retrieve(avatar.id).status != "PROCESSING", timeout=30)
    assert client.avatars.update(avatar.id, reference_image=data_uri(face_png())).status == (
        "PROCESSING"
    )
    http_client.close()


# Delete


def test_delete_then_404(shared, image_uri):
    keep = create(shared, image_uri, name="Keep")
    gone = create(shared, image_uri, name="Gone")
    raw = shared.avatars.with_raw_response.delete(gone.id)
    assert raw.status_code == 204 and raw.http_response.content == b""
    assert raw.parse() is None
    with pytest.raises(runwayml.NotFoundError) as exc:
        shared.avatars.retrieve(gone.id)
    assert set(exc.value.body) == {"error"}
    with pytest.raises(runwayml.NotFoundError):
        shared.avatars.delete(gone.id)
    with pytest.raises(runwayml.NotFoundError):
        shared.avatars.update(gone.id, name="Back")
    listed = {a.id for a in shared.avatars.list(limit=100)}
    assert keep.id in listed and gone.id not in listed


# FAILED avatars


def _database_url(server) -> str:
    url = server.env.get("CHARACTERS_DATABASE_URL") or f"sqlite:///{server.data_dir}/characters.db"
    return sync_url(async_url(url))


def test_failed_avatar_carries_failure_reason(server_factory):
    """Processing fails when the stored reference image is lost; the server resumes processing
    of PROCESSING avatars on start, so: stop, lose the file, mark PROCESSING, restart."""
    first = server_factory()
    key = first.create_key("failing")
    client = first.sdk(key, max_retries=0)
    image = face_png(color=(123, 45, 67))
    avatar = ready_avatar(client, data_uri(image))
    assert avatar.status == "READY"
    first.process.terminate()
    first.process.wait(timeout=10)

    digest = hashlib.sha256(image).hexdigest()
    (first.data_dir / "blobs" / digest[:2] / digest).unlink()
    engine = create_engine(_database_url(first))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE avatars SET status = 'PROCESSING' WHERE id = :id"), {"id": avatar.id}
        )
    engine.dispose()

    settings = {"DATA_DIR": str(first.data_dir)}
    if "CHARACTERS_DATABASE_URL" in first.env:
        settings["DATABASE_URL"] = first.env["CHARACTERS_DATABASE_URL"]
    second = server_factory(**settings)
    client = second.sdk(key, max_retries=0)
    failed = wait_for(
        lambda: (a := client.avatars.retrieve(avatar.id)).status != "PROCESSING" and a
    )
    assert failed.status == "FAILED"
    assert type(failed).__name__ == "Failed"
    assert isinstance(failed.failure_reason, str) and failed.failure_reason

    body = raw_avatar(client, avatar.id)
    assert_avatar_wire(body, "FAILED")
    listed = client.avatars.with_raw_response.list(limit=10).json()["data"]
    assert listed[0]["failureReason"] == body["failureReason"]

    # A FAILED avatar cannot start sessions ...
    with pytest.raises(runwayml.BadRequestError) as exc:
        client.realtime_sessions.create(
            model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar.id}
        )
    assert "failed" in exc.value.body["error"]
    # ... until a new reference image is processed.
    client.avatars.update(avatar.id, reference_image=data_uri(face_png()))
    recovered = wait_ready(client, avatar.id)
    assert recovered.status == "READY"
    assert "failureReason" not in raw_avatar(client, avatar.id)


# Usage


def test_get_usage(client, image_uri):
    now = datetime.now(UTC)
    start = (now - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=4)
    raw = client.avatars.with_raw_response.get_usage(start_date=start, end_date=end)
    body = raw.json()
    assert set(body) == {"totalSeconds", "totalSessions", "avgDurationSeconds", "byDay"}
    assert body["totalSessions"] == 0 and body["totalSeconds"] == 0
    assert body["avgDurationSeconds"] == 0
    assert [d["date"] for d in body["byDay"]] == [
        (start + timedelta(days=i)).date().isoformat() for i in range(4)
    ]
    assert all(set(d) == {"date", "sessions", "seconds"} for d in body["byDay"])

    avatar = ready_avatar(client, image_uri)
    session = client.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatarId": avatar.id}
    )
    client.realtime_sessions.delete(session.id)
    usage = client.avatars.get_usage(start_date=start, end_date=end)
    assert usage.total_sessions == 1
    today = [d for d in usage.by_day if d.date.isoformat() == now.date().isoformat()]
    assert today[0].sessions == 1 and today[0].seconds == 0

    with pytest.raises(runwayml.BadRequestError):
        client.avatars.get_usage(start_date=start, end_date=start + timedelta(days=91))
    with pytest.raises(runwayml.BadRequestError):
        client.avatars.get_usage(start_date=end, end_date=start)
