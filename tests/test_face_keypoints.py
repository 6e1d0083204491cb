"""Manual keypoints: validation errors, and a drawn cartoon animated through that path."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from characters.face import FaceParams, InvalidKeypoints, WarpRenderer, analyse
from characters.face.keypoints import parse_keypoints
from tests.face_assets import CARTOON_SIZE, cartoon_keypoints, cartoon_rgb


def _invalid(raw, fragment: str, path_part: str | None = None) -> None:
    with pytest.raises(InvalidKeypoints) as info:
        parse_keypoints(raw, CARTOON_SIZE)
    assert fragment in info.value.message
    assert info.value.path[0] == "faceKeypoints"
    if path_part is not None:
        assert path_part in info.value.path


def test_valid_keypoints_parse_and_accept_snake_case_and_objects() -> None:
    kp = cartoon_keypoints()
    parse_keypoints(kp, CARTOON_SIZE)
    snake = {("mouth_left" if k == "mouthLeft" else k): v for k, v in kp.items()}
    snake["chin"] = {"x": 320, "y": 592}
    parse_keypoints(snake, CARTOON_SIZE)


@pytest.mark.parametrize(
    ("edit", "fragment", "path"),
    [
        (lambda k: k.pop("chin"), "chin is missing", "chin"),
        (lambda k: k.update(chin=[320, 9999]), "outside the 640x720 image", "chin"),
        (lambda k: k.update(chin="here"), "must be a point", "chin"),
        (lambda k: k.update(leftEye=k["rightEye"], rightEye=k["leftEye"]), "swapped", "leftEye"),
        (lambda k: k.update(faceOutline=k["faceOutline"][:4]), "between 5 and 200", None),
        (lambda k: k.update(mouthLeft=[264, 300], mouthRight=[376, 300]), "below the eyes", None),
        (lambda k: k.update(upperLip=[320, 530]), "upperLip must be above lowerLip", None),
        (lambda k: k.update(chin=[320, 480]), "chin must be below the mouth", "chin"),
        (lambda k: k["leftEye"].update(center=[300, 360]), "between the left and right", None),
        (lambda k: k.update(innerUpperLip=[320, 490]), "go together", None),
        (
            lambda k: k.update(
                faceOutline=[[200, 200], [440, 200], [200, 600], [440, 600], [320, 650]]
            ),
            "crosses itself",
            "faceOutline",
        ),
        (
            lambda k: k.update(
                faceOutline=[[300, 320], [340, 320], [345, 340], [320, 350], [295, 340]]
            ),
            "pixels tall",
            "faceOutline",
        ),
    ],
)
def test_bad_keypoints_have_clear_errors(edit, fragment, path) -> None:
    kp = copy.deepcopy(cartoon_keypoints())
    edit(kp)
    _invalid(kp, fragment, path)


def test_not_an_object() -> None:
    _invalid([1, 2, 3], "must be an object")


def test_keypoints_with_image_size_are_rescaled() -> None:
    kp = cartoon_keypoints()
    doubled = {"imageSize": [1280, 1440]}
    for key, value in kp.items():
        if isinstance(value, dict):
            doubled[key] = {k: [2 * v[0], 2 * v[1]] for k, v in value.items()}
        elif key == "faceOutline":
            doubled[key] = [[2 * x, 2 * y] for x, y in value]
        else:
            doubled[key] = [2 * value[0], 2 * value[1]]
    a = analyse(cartoon_rgb(), kp)
    b = analyse(cartoon_rgb(), doubled)
    va, vb = np.array(a["mesh"]["vertices"]), np.array(b["mesh"]["vertices"])
    assert np.abs(va - vb).max() < 1.0


@pytest.fixture(scope="module")
def cartoon() -> tuple[np.ndarray, dict]:
    img = cartoon_rgb()
    return img, analyse(img, cartoon_keypoints())


def test_cartoon_analysis_uses_keypoints(cartoon) -> None:
    _, data = cartoon
    assert data["source"] == "keypoints"
    v = np.array(data["mesh"]["vertices"])
    kp = cartoon_keypoints()
    assert np.hypot(*(v[468, :2] - kp["leftEye"]["center"])) < 3
    assert np.hypot(*(v[61, :2] - kp["mouthLeft"])) < 3
    assert np.hypot(*(v[152, :2] - kp["chin"])) < 3
    assert abs(v[0, 1] - kp["upperLip"][1]) < 3 and abs(v[17, 1] - kp["lowerLip"][1]) < 3


def _mouth_box(renderer: WarpRenderer) -> tuple[slice, slice]:
    v = renderer.deformer.rest
    lips = list(range(0, 0))  # placeholder to keep the type checker quiet
    lips = [61, 291, 0, 17]
    x0, y0 = v[lips].min(axis=0).astype(int) - 10
    x1, y1 = v[lips].max(axis=0).astype(int) + 40
    return slice(y0, y1), slice(x0, x1)


def test_cartoon_animates(cartoon, tmp_path) -> None:
    img, data = cartoon
    r = WarpRenderer(img, data)
    rest = r.render(FaceParams())
    assert np.array_equal(rest, r.still)
    ys, xs = _mouth_box(r)
    open_ = r.render(FaceParams(open=0.9))
    diff = np.abs(open_.astype(int) - rest.astype(int)).sum(axis=2)
    assert (diff[ys, xs] > 60).sum() > 500  # the mouth opened
    # the opened mouth shows a dark cavity
    assert (open_[ys, xs].sum(axis=2) < 200).sum() > 200
    # outside the face nothing moved (the background corner)
    assert np.array_equal(open_[:40, :40], rest[:40, :40])
    blink = r.render(FaceParams(blink_left=1, blink_right=1))
    ey = int(r.deformer.rest[468, 1])
    ex = int(r.deformer.rest[468, 0])
    patch = blink[ey - 25 : ey + 25, ex - 40 : ex + 40]
    white = (patch.min(axis=2) > 235).sum()
    rest_white = (rest[ey - 25 : ey + 25, ex - 40 : ex + 40].min(axis=2) > 235).sum()
    assert white < 0.1 * rest_white  # the white of the eye is covered by the lid
