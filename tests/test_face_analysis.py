"""Face analysis on real photos (real mediapipe), and every bad input giving a clear error."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from characters.errors import InvalidImage
from characters.face import analyse, analyse_for_avatar
from characters.face.framing import Framing
from characters.face.topology import N_LANDMARKS
from tests.face_assets import (
    astronaut_rgb,
    hopper_bytes,
    hopper_rgb,
    huge_png_header,
    no_face_rgb,
    png,
    two_faces_rgb,
)


@pytest.fixture(scope="module")
def hopper() -> dict:
    return analyse(hopper_bytes())


def test_photo_analysis_is_json_and_complete(hopper: dict) -> None:
    data = json.loads(json.dumps(hopper))
    assert data == hopper
    assert data["source"] == "mediapipe"
    assert data["image"] == {"width": 512, "height": 600}
    assert (data["framing"]["width"], data["framing"]["height"]) == (704, 1088)
    mesh = data["mesh"]
    assert len(mesh["vertices"]) > N_LANDMARKS
    assert len(mesh["triangles"]) > 1000
    tris = np.array(mesh["triangles"])
    assert tris.min() >= 0 and tris.max() < len(mesh["vertices"])
    for region in ("lipsUpperInner", "lipsLowerInner", "eyeLeftUpper", "faceOval"):
        assert mesh["regions"][region]
    assert data["mouth"]["openAtRest"] is False
    assert set(data["palette"]) == {"lip", "skin", "teeth", "cavity", "lash"}
    # the landmarks sit on the face: eyes above the mouth, inside the detected face box
    v = np.array(mesh["vertices"])
    x, y, w, h = data["faceBox"]
    assert v[468, 1] < v[13, 1] < v[152, 1]
    assert x < v[1, 0] < x + w and y < v[1, 1] < y + h
    assert 150 < h < 260


def test_astronaut_mouth_open_at_rest_and_array_input() -> None:
    data = analyse(astronaut_rgb())
    assert data["mouth"]["openAtRest"] is True
    assert data["image"] == {"width": 512, "height": 512}


def test_orientation_from_image_and_forced() -> None:
    wide = np.zeros((500, 900, 3), np.uint8)
    wide[:, 250:750] = np.asarray(Image.fromarray(hopper_rgb()).resize((500, 500)))
    assert (analyse(wide)["framing"]["width"], analyse(wide)["framing"]["height"]) == (1088, 704)
    forced = analyse(hopper_bytes(), orientation="landscape")["framing"]
    assert (forced["width"], forced["height"]) == (1088, 704)
    small = analyse(hopper_bytes(), size=(320, 480))["framing"]
    assert (small["width"], small["height"]) == (320, 480)


def test_framing_keeps_the_face_in_frame(hopper: dict) -> None:
    fr = Framing.from_dict(hopper["framing"])
    v = fr.to_output(np.array(hopper["mesh"]["vertices"])[:N_LANDMARKS])
    assert v[:, 0].min() > 0 and v[:, 0].max() < fr.width
    assert v[:, 1].min() > 0 and v[:, 1].max() < fr.height


@dataclass
class _Processed:
    data: bytes
    width: int
    height: int


def test_avatar_hook_signature() -> None:
    out = analyse_for_avatar(_Processed(hopper_bytes(), 512, 600), None)
    assert out["source"] == "mediapipe"


def _error(image, keypoints=None) -> str:
    with pytest.raises(InvalidImage) as info:
        analyse(image, keypoints)
    return info.value.message


def test_no_face_suggests_keypoints() -> None:
    msg = _error(png(no_face_rgb()))
    assert "No face was found" in msg and "faceKeypoints" in msg


def test_two_faces() -> None:
    assert "2 faces" in _error(png(two_faces_rgb()))


def test_tiny_image() -> None:
    assert "at least 64 pixels" in _error(png(np.full((40, 40, 3), 128, np.uint8)))


def test_huge_image_is_refused_before_decoding() -> None:
    msg = _error(huge_png_header())
    assert "too large" in msg and "downscale" in msg


def test_not_an_image() -> None:
    assert "could not be read as an image" in _error(b"%PDF-1.4 this is not a picture")
    assert "empty" in _error(b"")


def test_face_too_small() -> None:
    canvas = np.full((900, 900, 3), 235, np.uint8)
    canvas[400:520, 420:522] = np.asarray(Image.fromarray(hopper_rgb()).resize((102, 120)))
    msg = _error(png(canvas))  # found (in an enlarged tile), but only ~40 pixels tall
    assert "pixels tall; it must be at least 64" in msg


def test_bad_array() -> None:
    assert "uint8" in _error(np.zeros((100, 100, 3), np.float32))
