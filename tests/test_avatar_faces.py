"""End-to-end: face analysis of avatars and manual ``faceKeypoints``, through the real server and
the official SDK (which sends the extension field with ``extra_body``).

What the analysis stored is read from the database (``avatars.face``): the wire shape of an
avatar stays Runway's, plus ``faceKeypoints`` when the avatar has them.
"""

from __future__ import annotations

import io
import json
from functools import cache
from typing import Any

import httpx
import numpy as np
import pytest
import runwayml
from PIL import Image
from sqlalchemy import create_engine, text

from characters.config import async_url, sync_url
from characters.face import analyse
from characters.face.topology import FACE_OVAL
from tests.conftest import AVATAR_KEYS, Server, data_uri, face_png, png_bytes, wait_for
from tests.face_assets import (
    CARTOON_SIZE,
    astronaut_rgb,
    cartoon_keypoints,
    cartoon_rgb,
    hopper_bytes,
    no_face_rgb,
    png,
    two_faces_rgb,
)

pytestmark = [pytest.mark.store, pytest.mark.slow]

VOICE = {"type": "runway-live-preset", "presetId": "clara"}


def create(client: Any, uri: str, keypoints: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    extra = {"extra_body": {"faceKeypoints": keypoints}} if keypoints is not None else {}
    return client.avatars.create(
        name="Ada",
        personality="A friendly guide.",
        reference_image=uri,
        voice=VOICE,
        **extra,
        **kwargs,
    )


def settled(client: Any, avatar_id: str) -> Any:
    return wait_for(
        lambda: (a := client.avatars.retrieve(avatar_id)).status != "PROCESSING" and a, timeout=20
    )


def raw(client: Any, avatar_id: str) -> dict[str, Any]:
    return dict(client.avatars.with_raw_response.retrieve(avatar_id).json())


def stored_face(server: Server, avatar_id: str) -> dict[str, Any] | None:
    url = server.env.get("CHARACTERS_DATABASE_URL") or f"sqlite:///{server.data_dir}/characters.db"
    engine = create_engine(sync_url(async_url(url)))
    try:
        with engine.connect() as conn:
            value = conn.execute(
                text("SELECT face FROM avatars WHERE id = :id"), {"id": avatar_id}
            ).scalar()
    finally:
        engine.dispose()
    return json.loads(value) if isinstance(value, str) else value


def jpeg(rgb: np.ndarray | Image.Image, **kwargs: Any) -> bytes:
    img = rgb if isinstance(rgb, Image.Image) else Image.fromarray(rgb)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


@cache
def hopper_analysis() -> dict[str, Any]:
    return analyse(hopper_bytes())


def keypoints_from(
    face: dict[str, Any], scale: float = 1.0, offset: tuple[float, float] = (0, 0)
) -> dict[str, Any]:
    """Keypoints read off a detected mesh, mapped by ``scale`` then ``offset`` (image pixels)."""
    v = np.array(face["mesh"]["vertices"])[:, :2] * scale + np.array(offset)

    def p(i: int) -> list[float]:
        return [round(float(v[i, 0]), 1), round(float(v[i, 1]), 1)]

    return {
        "leftEye": {"center": p(468), "left": p(33), "right": p(133)},
        "rightEye": {"center": p(473), "left": p(362), "right": p(263)},
        "mouthLeft": p(61),
        "mouthRight": p(291),
        "upperLip": p(0),
        "lowerLip": p(17),
        "chin": p(152),
        "faceOutline": [p(i) for i in FACE_OVAL],
    }


def assert_lands_on(face: dict[str, Any], keypoints: dict[str, Any], scale: float) -> None:
    """The stored (processed-frame) mesh has its eye centres and mouth corners where the
    keypoints, scaled from the original image to the processed one, put them."""
    v = np.array(face["mesh"]["vertices"])[:, :2]
    for index, point in (
        (468, keypoints["leftEye"]["center"]),
        (473, keypoints["rightEye"]["center"]),
        (61, keypoints["mouthLeft"]),
        (291, keypoints["mouthRight"]),
    ):
        assert np.allclose(v[index], np.array(point) * scale, atol=5.0), (index, v[index], point)


# Photos: analysed once, stored, wire shape unchanged


@pytest.mark.parametrize(
    ("name", "image", "size"),
    [
        ("astronaut", lambda: data_uri(png(astronaut_rgb())), (512, 512)),
        ("grace_hopper", lambda: data_uri(hopper_bytes(), "image/jpeg"), (512, 600)),
    ],
)
def test_photos_become_ready_with_their_face_stored(
    server: Server, client: Any, name: str, image: Any, size: tuple[int, int]
) -> None:
    avatar = settled(client, create(client, image()).id)
    assert avatar.status == "READY", avatar
    body = raw(client, avatar.id)
    assert set(body) == AVATAR_KEYS  # no extension field without keypoints
    face = stored_face(server, avatar.id)
    assert face is not None and face["source"] == "mediapipe"
    assert face["image"] == {"width": size[0], "height": size[1]}
    v = np.array(face["mesh"]["vertices"])
    assert len(v) >= 478 and v[468, 1] < v[13, 1] < v[152, 1]  # eyes above mouth above chin
    x, y, w, h = face["faceBox"]
    assert 0 <= x and x + w <= size[0] and h >= 64


# No face: FAILED with guidance, then fixed with keypoints


def test_no_face_fails_with_guidance_and_keypoints_fix_it(server: Server, client: Any) -> None:
    coffee = no_face_rgb()  # 600x400, a cup of coffee
    avatar = settled(client, create(client, data_uri(png(coffee))).id)
    assert avatar.status == "FAILED"
    reason = avatar.failure_reason
    assert reason.startswith("No face found")
    assert "PATCH the avatar with faceKeypoints (see docs/face-keypoints.md)" in reason
    # The image itself was fine: its previews are there, e.g. to place keypoints on.
    assert httpx.get(avatar.reference_image_uri, timeout=10).status_code == 200
    assert stored_face(server, avatar.id) is None

    # A "face" on the cup: the cartoon's keypoints, scaled into the 600x400 image.
    kp = keypoints_from_cartoon(scale=0.5, offset=(140, 0))
    updated = client.avatars.with_raw_response.update(
        avatar.id, extra_body={"faceKeypoints": kp}
    ).json()
    assert updated["status"] == "PROCESSING" and "failureReason" not in updated
    assert updated["faceKeypoints"] == kp
    ready = settled(client, avatar.id)
    assert ready.status == "READY", ready
    face = stored_face(server, avatar.id)
    assert face is not None and face["source"] == "keypoints"
    assert_lands_on(face, kp, 1.0)
    assert raw(client, avatar.id)["faceKeypoints"] == kp

    # null removes them: detection again, so FAILED again.
    assert (
        "faceKeypoints"
        not in client.avatars.with_raw_response.update(
            avatar.id, extra_body={"faceKeypoints": None}
        ).json()
    )
    assert settled(client, avatar.id).status == "FAILED"


def keypoints_from_cartoon(scale: float, offset: tuple[float, float]) -> dict[str, Any]:
    def move(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: move(x) for k, x in v.items()}
        if isinstance(v[0], list):
            return [move(x) for x in v]
        return [round(v[0] * scale + offset[0], 1), round(v[1] * scale + offset[1], 1)]

    return {k: move(v) for k, v in cartoon_keypoints().items()}


def test_a_flat_image_fails_with_the_same_guidance(client: Any) -> None:
    avatar = settled(client, create(client, data_uri(png_bytes())).id)
    assert avatar.status == "FAILED" and "faceKeypoints" in avatar.failure_reason


def test_cartoon_with_keypoints_at_creation_is_ready(server: Server, client: Any) -> None:
    kp = cartoon_keypoints()
    created = create(client, data_uri(png(cartoon_rgb())), kp)
    assert created.status == "PROCESSING"
    avatar = settled(client, created.id)
    assert avatar.status == "READY", avatar
    body = raw(client, avatar.id)
    assert set(body) == AVATAR_KEYS | {"faceKeypoints"}
    assert body["faceKeypoints"] == kp  # the canonical form of what was sent
    face = stored_face(server, avatar.id)
    assert face is not None and face["source"] == "keypoints"  # keypoints win over detection
    assert face["image"] == {"width": CARTOON_SIZE[0], "height": CARTOON_SIZE[1]}
    assert_lands_on(face, kp, 1.0)
    # Other spellings are accepted and stored in canonical form.
    snake = dict(kp, mouth_left={"x": kp["mouthLeft"][0], "y": kp["mouthLeft"][1]})
    del snake["mouthLeft"]
    other = create(client, data_uri(png(cartoon_rgb())), snake)
    assert raw(client, other.id)["faceKeypoints"] == kp

    # A new reference image drops keypoints placed on the old one.
    changed = client.avatars.with_raw_response.update(
        avatar.id, reference_image=data_uri(face_png())
    ).json()
    assert "faceKeypoints" not in changed
    assert settled(client, avatar.id).status == "READY"
    assert stored_face(server, avatar.id)["source"] == "mediapipe"  # type: ignore[index]


def test_two_faces_fail_and_keypoints_pick_one(server: Server, client: Any) -> None:
    avatar = settled(client, create(client, data_uri(png(two_faces_rgb()))).id)
    assert avatar.status == "FAILED"
    assert "shows 2 faces" in avatar.failure_reason
    assert "exactly one" in avatar.failure_reason and "faceKeypoints" in avatar.failure_reason
    # Hopper is on the left, scaled from 512x600 to 427x500.
    kp = keypoints_from(hopper_analysis(), scale=500 / 600)
    client.avatars.update(avatar.id, extra_body={"faceKeypoints": kp})
    assert settled(client, avatar.id).status == "READY"
    face = stored_face(server, avatar.id)
    assert face is not None and face["source"] == "keypoints"
    assert_lands_on(face, kp, 1.0)


# Coordinates: pixels of the image as sent (upright), whatever processing does to it


def test_keypoints_on_a_large_image_land_on_the_face_after_downscaling(
    server: Server, client: Any
) -> None:
    """A 3000x2000 image is stored at 2048x1365; keypoints are given in its own pixels."""
    canvas = Image.new("RGB", (3000, 2000), (90, 120, 150))
    hopper = Image.open(io.BytesIO(hopper_bytes())).convert("RGB")
    scale, offset = 3.2, (700, 40)
    canvas.paste(hopper.resize((round(512 * scale), round(600 * scale))), offset)
    kp = keypoints_from(hopper_analysis(), scale=scale, offset=offset)
    avatar = settled(client, create(client, data_uri(jpeg(canvas), "image/jpeg"), kp).id)
    assert avatar.status == "READY", avatar
    face = stored_face(server, avatar.id)
    assert face is not None and face["image"] == {"width": 2048, "height": 1365}
    assert_lands_on(face, kp, 2048 / 3000)

    # The same keypoints on the image kept at full size (imageProcessing: none).
    full = settled(client, create(client, data_uri(jpeg(canvas), "image/jpeg"), kp,
                                   image_processing="none").id)  # fmt: skip
    assert full.status == "READY", full
    assert_lands_on(stored_face(server, full.id) or {}, kp, 1.0)


def test_keypoints_are_in_the_upright_frame_of_an_exif_rotated_photo(
    server: Server, client: Any
) -> None:
    """A photo stored sideways with EXIF orientation 6 is shown upright by every viewer; the
    keypoints are placed on that upright view, and analysis sees it upright too."""
    upright = Image.open(io.BytesIO(hopper_bytes())).convert("RGB")  # 512x600
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = jpeg(upright.transpose(Image.Transpose.ROTATE_90), exif=exif)
    kp = keypoints_from(hopper_analysis())
    for mode in ("optimize", "none"):
        avatar = settled(
            client, create(client, data_uri(sideways, "image/jpeg"), kp, image_processing=mode).id
        )
        assert avatar.status == "READY", avatar
        face = stored_face(server, avatar.id)
        assert face is not None and face["image"] == {"width": 512, "height": 600}
        assert_lands_on(face, kp, 1.0)
    # Without keypoints, detection also sees the upright face.
    detected = settled(client, create(client, data_uri(sideways, "image/jpeg")).id)
    assert detected.status == "READY", detected


# Bad keypoints: 400 with issues under faceKeypoints, nothing stored or changed


def _bad(edit: Any) -> dict[str, Any]:
    kp = cartoon_keypoints()
    edit(kp)
    return kp


BAD = [
    (_bad(lambda k: k.pop("chin")), ["faceKeypoints", "chin"], "chin is missing"),
    (
        _bad(lambda k: k.update(chin=[320, 900])),
        ["faceKeypoints", "chin"],
        "outside the 640x720 image",
    ),
    (
        _bad(lambda k: k.update(leftEye=k["rightEye"], rightEye=k["leftEye"])),
        ["faceKeypoints", "leftEye"],
        "swapped",
    ),
    (_bad(lambda k: k.update(chin=[320, 480])), ["faceKeypoints", "chin"], "below the mouth"),
    (
        _bad(lambda k: k.update(faceOutline=k["faceOutline"][:3])),
        ["faceKeypoints", "faceOutline"],
        "between 5 and 200",
    ),
    (_bad(lambda k: k.update(nose=[320, 420])), ["faceKeypoints", "nose"], "not a known key"),
    (
        _bad(lambda k: k["leftEye"].update(pupil=[250, 360])),
        ["faceKeypoints", "leftEye", "pupil"],
        "not a known key",
    ),
    (
        _bad(lambda k: k.update(imageSize=[640, 720])),
        ["faceKeypoints", "imageSize"],
        "not a known key",
    ),
    (_bad(lambda k: k.update(mouthLeft="left")), ["faceKeypoints", "mouthLeft"], "a point"),
]


def test_bad_keypoints_are_400_with_issues(client: Any) -> None:
    uri = data_uri(png(cartoon_rgb()))
    for kp, path, fragment in BAD:
        with pytest.raises(runwayml.BadRequestError) as exc:
            create(client, uri, kp)
        body = exc.value.body
        assert fragment in body["error"], (path, body)
        assert body["issues"][0]["path"] == path, body
    with pytest.raises(runwayml.BadRequestError) as exc:
        create(client, uri, [1, 2])  # type: ignore[arg-type]
    assert exc.value.body["issues"][0]["path"] == ["faceKeypoints"]
    assert list(client.avatars.list(limit=10)) == []  # nothing was created

    # On PATCH: refused the same way, and the avatar is left as it was.
    avatar = settled(client, create(client, data_uri(face_png())).id)
    before = raw(client, avatar.id)
    for kp, path, fragment in BAD:
        if fragment == "not a known key":  # checked before the points, so on any image
            with pytest.raises(runwayml.BadRequestError) as exc:
                client.avatars.update(avatar.id, extra_body={"faceKeypoints": kp})
            assert exc.value.body["issues"][0]["path"] == path
    # Checked against the stored image: the cartoon's points fall outside the 640x480 portrait.
    with pytest.raises(runwayml.BadRequestError) as exc:
        client.avatars.update(avatar.id, extra_body={"faceKeypoints": cartoon_keypoints()})
    assert "outside the 640x480 image" in exc.value.body["error"]
    assert raw(client, avatar.id) | {"referenceImageUri": None, "processedImageUri": None} == (
        before | {"referenceImageUri": None, "processedImageUri": None}
    )


def test_keypoints_cannot_change_while_processing(server: Server, client: Any) -> None:
    big = Image.linear_gradient("L").resize((6000, 6000)).convert("RGB")
    buf = io.BytesIO()
    big.save(buf, "PNG")
    avatar = create(client, data_uri(buf.getvalue()))
    with pytest.raises(runwayml.ConflictError) as exc:
        client.avatars.update(avatar.id, extra_body={"faceKeypoints": cartoon_keypoints()})
    assert "while the avatar is processing" in exc.value.body["error"]
    assert exc.value.response.headers["x-should-retry"] == "false"
    assert settled(client, avatar.id).status == "FAILED"  # a gradient: no face


def test_output_framing_follows_the_image_unless_configured(server_factory) -> None:
    """auto: a portrait photo frames 704×1088; CHARACTERS_FACE_ORIENTATION=landscape forces
    1088×704 for the same photo."""
    uri = data_uri(face_png(size=(480, 640)))  # a portrait photo
    for setting, expected in (("auto", (704, 1088)), ("landscape", (1088, 704))):
        srv = server_factory(FACE_ORIENTATION=setting)
        client = srv.sdk(srv.create_key("framing"), max_retries=0)
        avatar = settled(client, create(client, uri).id)
        assert avatar.status == "READY", avatar
        framing = stored_face(srv, avatar.id)["framing"]  # type: ignore[index]
        assert (framing["width"], framing["height"]) == expected, setting
