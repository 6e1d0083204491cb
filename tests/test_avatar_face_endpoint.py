"""``GET /v1/avatars/{id}/face`` (extension): the analysed face as keypoints, in pixels of the
reference image as the user sent it, through a real server and real face analysis."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.conftest import Server, data_uri, face_png, wait_for
from tests.face_assets import (
    CARTOON_SIZE,
    cartoon_keypoints,
    cartoon_negative_rgb,
    hopper_bytes,
    png,
)
from tests.test_avatar_faces import hopper_analysis, jpeg, keypoints_from

pytestmark = [pytest.mark.store, pytest.mark.slow]

VOICE = {"type": "runway-live-preset", "presetId": "clara"}
EYE_KEYS = {"center", "left", "right", "top", "bottom"}


def create(http: Any, image: str, **extra: Any) -> str:
    body = {"name": "Ada", "personality": "A guide.", "referenceImage": image, "voice": VOICE}
    response = http.post("/v1/avatars", json=body | extra)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def settled(http: Any, avatar_id: str) -> dict[str, Any]:
    def done() -> Any:
        avatar = http.get(f"/v1/avatars/{avatar_id}").json()
        return avatar["status"] != "PROCESSING" and avatar

    return dict(wait_for(done, timeout=30))


def face(http: Any, avatar_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/avatars/{avatar_id}/face")
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_near(got: dict[str, Any], want: dict[str, Any], tolerance: float) -> None:
    """Eye centres and corners, mouth corners and chin within ``tolerance`` pixels."""
    pairs = [
        (got["leftEye"]["center"], want["leftEye"]["center"]),
        (got["rightEye"]["center"], want["rightEye"]["center"]),
        (got["leftEye"]["left"], want["leftEye"]["left"]),
        (got["rightEye"]["right"], want["rightEye"]["right"]),
        (got["mouthLeft"], want["mouthLeft"]),
        (got["mouthRight"], want["mouthRight"]),
        (got["chin"], want["chin"]),
    ]
    for a, b in pairs:
        assert np.hypot(a[0] - b[0], a[1] - b[1]) <= tolerance, (a, b)


@pytest.fixture
def http(server: Server, api_key: str) -> Any:
    with server.http(api_key) as client:
        yield client


def test_detected_face_is_in_pixels_of_the_image_as_sent(http: Any) -> None:
    """A 3000x2000 photo is analysed at 2048x1365; its face comes back in 3000x2000 pixels."""
    canvas = Image.new("RGB", (3000, 2000), (90, 120, 150))
    hopper = Image.open(io.BytesIO(hopper_bytes())).convert("RGB")
    scale, offset = 3.2, (700, 40)
    canvas.paste(hopper.resize((round(512 * scale), round(600 * scale))), offset)
    avatar_id = create(http, data_uri(jpeg(canvas), "image/jpeg"))
    assert settled(http, avatar_id)["status"] == "READY"

    body = face(http, avatar_id)
    assert set(body) == {"source", "keypoints", "imageWidth", "imageHeight"}
    assert body["source"] == "detected"
    assert (body["imageWidth"], body["imageHeight"]) == (3000, 2000)
    kp = body["keypoints"]
    assert set(kp["leftEye"]) == set(kp["rightEye"]) == EYE_KEYS
    assert len(kp["faceOutline"]) == 36
    # Where detection on the photo at its own size puts the face, scaled and moved onto the canvas
    # (the inter-ocular distance is about 300 pixels here).
    assert_near(kp, keypoints_from(hopper_analysis(), scale=scale, offset=offset), 15)

    # The detected keypoints are valid faceKeypoints: sent back, the avatar is READY again and
    # answers with them as its manual keypoints.
    patched = http.patch(f"/v1/avatars/{avatar_id}", json={"faceKeypoints": kp})
    assert patched.status_code == 200, patched.text
    assert settled(http, avatar_id)["status"] == "READY"
    manual = face(http, avatar_id)
    assert manual["source"] == "manual" and manual["keypoints"] == patched.json()["faceKeypoints"]
    assert_near(manual["keypoints"], kp, 0.1)


def test_an_exif_rotated_photo_answers_in_its_upright_frame(http: Any) -> None:
    upright = Image.open(io.BytesIO(hopper_bytes())).convert("RGB")  # 512x600
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = jpeg(upright.transpose(Image.Transpose.ROTATE_90), exif=exif)  # stored 600x512
    avatar_id = create(http, data_uri(sideways, "image/jpeg"), imageProcessing="none")
    assert settled(http, avatar_id)["status"] == "READY"
    body = face(http, avatar_id)
    assert (body["imageWidth"], body["imageHeight"]) == (512, 600)
    assert_near(body["keypoints"], keypoints_from(hopper_analysis()), 6)


def test_a_drawn_face_has_no_analysis_until_keypoints_are_placed(http: Any) -> None:
    avatar_id = create(http, data_uri(png(cartoon_negative_rgb())))
    failed = settled(http, avatar_id)
    assert failed["status"] == "FAILED"
    missing = http.get(f"/v1/avatars/{avatar_id}/face")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error"}
    message = missing.json()["error"]
    assert "has no face analysis because processing failed: No face found" in message

    kp = cartoon_keypoints()
    assert http.patch(f"/v1/avatars/{avatar_id}", json={"faceKeypoints": kp}).status_code == 200
    assert settled(http, avatar_id)["status"] == "READY"
    body = face(http, avatar_id)
    assert body == {
        "source": "manual",
        "keypoints": kp,
        "imageWidth": CARTOON_SIZE[0],
        "imageHeight": CARTOON_SIZE[1],
    }


def test_unknown_processing_and_foreign_avatars_are_404(server: Server, http: Any) -> None:
    unknown = http.get("/v1/avatars/550e8400-e29b-41d4-a716-446655440000/face")
    assert unknown.status_code == 404 and "not found" in unknown.json()["error"]

    avatar_id = create(http, data_uri(face_png()))
    processing = http.get(f"/v1/avatars/{avatar_id}/face")
    if processing.status_code == 404:  # unless processing was already done
        assert "still processing" in processing.json()["error"]
    assert settled(http, avatar_id)["status"] == "READY"
    assert face(http, avatar_id)["source"] == "detected"

    with server.http(server.create_key("other")) as other:
        foreign = other.get(f"/v1/avatars/{avatar_id}/face")
        assert foreign.status_code == 404
        assert foreign.json() == unknown.json() | {"error": f"Avatar {avatar_id} not found."}
    with server.http() as anonymous:
        assert anonymous.get(f"/v1/avatars/{avatar_id}/face").status_code == 401
