"""Manual face keypoints, for faces the detector cannot fit (cartoons, mascots, drawings).

When a reference image is stylised, mediapipe either finds no face or fits a mesh that is
visibly wrong (the mouth on the chin, eyes too small). The caller then gives a few points by
hand (``faceKeypoints`` on the avatar), and the animator bends a neutral 478-point face onto
them, so everything downstream works exactly as for a photo.

The format, with an example, is documented for API users in ``docs/face-keypoints.md``. In
short: JSON, coordinates in pixels of the image they were placed on (origin top-left, x right,
y down); a point is ``[x, y]`` or ``{"x": x, "y": y}``; camelCase keys (snake_case accepted):
``leftEye`` / ``rightEye`` (the eyes on the left and right of the image, each ``center``,
``left``, ``right`` and optional ``top``, ``bottom``), ``mouthLeft``, ``mouthRight``,
``upperLip``, ``lowerLip``, optional ``innerUpperLip`` + ``innerLowerLip`` (a mouth open at
rest), ``chin`` and ``faceOutline`` (5 to 200 points around the face).

Checks, each failing with :class:`InvalidKeypoints` (an :class:`InvalidImage`) that names the
offending key: every point inside the image; the face roughly upright (eyes within 35 degrees of
level); each eye's corners on either side of its centre; ``leftEye`` left of ``rightEye``; the
mouth below the eyes and the chin below the mouth; lip points between the mouth corners; eyes,
mouth and chin inside the outline; the outline a simple polygon at least 64 pixels tall; and the
resulting face free of folds. :func:`check_keypoints` adds the API's checks (no unknown keys,
no folds) and returns the canonical form that avatars store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from characters.errors import InvalidImage
from characters.face.template import template_landmarks
from characters.face.topology import (
    CHIN,
    EYE_LEFT_LOWER,
    EYE_LEFT_UPPER,
    EYE_RIGHT_LOWER,
    EYE_RIGHT_UPPER,
    FACE_OVAL,
    LIPS_LOWER_INNER,
    LIPS_UPPER_INNER,
    face_triangles,
)

MIN_FACE_PX = 64
MAX_OUTLINE_POINTS = 200
MAX_ROLL_DEG = 35.0
_LID_MIDDLES = (159, 145, 386, 374)

Point = tuple[float, float]
FArray = npt.NDArray[np.float64]


class InvalidKeypoints(InvalidImage):
    """Manual face keypoints that are missing, malformed or implausible."""


@dataclass(frozen=True, slots=True)
class Eye:
    """One eye: centre, left and right corners, and optional lid midpoints (image pixels)."""

    center: Point
    left: Point
    right: Point
    top: Point | None = None
    bottom: Point | None = None


@dataclass(frozen=True, slots=True)
class FaceKeypoints:
    """Validated manual keypoints (see the module docstring for their meaning)."""

    left_eye: Eye
    right_eye: Eye
    mouth_left: Point
    mouth_right: Point
    upper_lip: Point
    lower_lip: Point
    chin: Point
    face_outline: tuple[Point, ...]
    inner_upper_lip: Point | None = None
    inner_lower_lip: Point | None = None


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _err(message: str, *path: str | int) -> InvalidKeypoints:
    return InvalidKeypoints(message, ["faceKeypoints", *path])


def _get(obj: Mapping[str, Any], key: str) -> Any:
    snake = _snake(key)
    if key in obj:
        return obj[key]
    return obj.get(snake)


def _point(value: Any, size: tuple[int, int], *path: str | int) -> Point:
    name = ".".join(str(p) for p in path)
    if isinstance(value, Mapping):
        value = [value.get("x"), value.get("y")]
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise _err(f"faceKeypoints.{name} must be a point [x, y] in image pixels.", *path)
    x, y = float(value[0]), float(value[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise _err(f"faceKeypoints.{name} must hold finite numbers.", *path)
    w, h = size
    if not (0 <= x <= w and 0 <= y <= h):
        raise _err(
            f"faceKeypoints.{name} = [{x:g}, {y:g}] lies outside the {w}x{h} image; "
            "keypoints are pixel coordinates of the reference image (origin top-left).",
            *path,
        )
    return x, y


def _required(obj: Mapping[str, Any], key: str) -> Any:
    value = _get(obj, key)
    if value is None:
        raise _err(f"faceKeypoints.{key} is missing (see the face keypoints documentation).", key)
    return value


def _eye(obj: Mapping[str, Any], key: str, size: tuple[int, int]) -> Eye:
    raw = _required(obj, key)
    if not isinstance(raw, Mapping):
        raise _err(
            f"faceKeypoints.{key} must be an object with center, left and right points.", key
        )
    pts = {k: _point(_required_in(raw, key, k), size, key, k) for k in ("center", "left", "right")}
    top = _get(raw, "top")
    bottom = _get(raw, "bottom")
    return Eye(
        pts["center"],
        pts["left"],
        pts["right"],
        _point(top, size, key, "top") if top is not None else None,
        _point(bottom, size, key, "bottom") if bottom is not None else None,
    )


def _required_in(raw: Mapping[str, Any], key: str, sub: str) -> Any:
    value = _get(raw, sub)
    if value is None:
        raise _err(f"faceKeypoints.{key}.{sub} is missing.", key, sub)
    return value


def parse_keypoints(raw: Any, image_size: tuple[int, int]) -> FaceKeypoints:
    """Read and validate manual keypoints for an image of ``image_size`` (width, height).

    Raises:
        InvalidKeypoints: a key is missing or malformed, a point lies outside the image, or the
            geometry is not that of an upright face (the message says which and how to fix it).
    """
    if not isinstance(raw, Mapping):
        raise _err("faceKeypoints must be an object (see the face keypoints documentation).")
    size = image_size
    outline_raw = _required(raw, "faceOutline")
    if not isinstance(outline_raw, Sequence) or isinstance(outline_raw, str):
        raise _err("faceKeypoints.faceOutline must be a list of [x, y] points.", "faceOutline")
    if not 5 <= len(outline_raw) <= MAX_OUTLINE_POINTS:
        raise _err(
            f"faceKeypoints.faceOutline needs between 5 and {MAX_OUTLINE_POINTS} points "
            f"around the face; it has {len(outline_raw)}.",
            "faceOutline",
        )
    inner_up, inner_low = _get(raw, "innerUpperLip"), _get(raw, "innerLowerLip")
    if (inner_up is None) != (inner_low is None):
        raise _err(
            "faceKeypoints.innerUpperLip and innerLowerLip go together: give both or neither.",
            "innerUpperLip" if inner_up is None else "innerLowerLip",
        )
    kp = FaceKeypoints(
        left_eye=_eye(raw, "leftEye", size),
        right_eye=_eye(raw, "rightEye", size),
        mouth_left=_point(_required(raw, "mouthLeft"), size, "mouthLeft"),
        mouth_right=_point(_required(raw, "mouthRight"), size, "mouthRight"),
        upper_lip=_point(_required(raw, "upperLip"), size, "upperLip"),
        lower_lip=_point(_required(raw, "lowerLip"), size, "lowerLip"),
        chin=_point(_required(raw, "chin"), size, "chin"),
        face_outline=tuple(_point(p, size, "faceOutline", i) for i, p in enumerate(outline_raw)),
        inner_upper_lip=_point(inner_up, size, "innerUpperLip") if inner_up is not None else None,
        inner_lower_lip=_point(inner_low, size, "innerLowerLip") if inner_low is not None else None,
    )
    _check_geometry(kp)
    return kp


_EYE_KEYS = ("center", "left", "right", "top", "bottom")
_KEYS = (
    "leftEye",
    "rightEye",
    "mouthLeft",
    "mouthRight",
    "upperLip",
    "lowerLip",
    "innerUpperLip",
    "innerLowerLip",
    "chin",
    "faceOutline",
)


def _check_keys(obj: Mapping[str, Any], known: Sequence[str], *path: str) -> None:
    allowed = set(known) | {_snake(k) for k in known}
    for key in obj:
        if key not in allowed:
            where = ".".join(("faceKeypoints", *path, str(key)))
            raise _err(f"{where} is not a known key; use {', '.join(known)}.", *path, str(key))


def check_keypoints(raw: Any, image_size: tuple[int, int]) -> dict[str, Any]:
    """Validate keypoints as given through the API, in canonical form for storing and echoing.

    On top of :func:`parse_keypoints`, unknown keys are refused (a typo would otherwise be
    silently ignored) and the template is fitted once, so that keypoints that would fold the
    face are refused up front rather than failing the avatar later. The canonical form has
    camelCase keys and ``[x, y]`` points (whole numbers as integers).

    Raises:
        InvalidKeypoints: as :func:`parse_keypoints`, or for an unknown key.
    """
    if isinstance(raw, Mapping):
        _check_keys(raw, _KEYS)
        for key in ("leftEye", "rightEye"):
            given = _get(raw, key)
            if isinstance(given, Mapping):
                _check_keys(given, _EYE_KEYS, key)
    kp = parse_keypoints(raw, image_size)
    fit_template(kp)

    def pt(p: Point) -> list[float | int]:
        return [int(v) if v.is_integer() else round(v, 2) for v in p]

    def eye(e: Eye) -> dict[str, Any]:
        out = {"center": pt(e.center), "left": pt(e.left), "right": pt(e.right)}
        if e.top is not None:
            out["top"] = pt(e.top)
        if e.bottom is not None:
            out["bottom"] = pt(e.bottom)
        return out

    canonical: dict[str, Any] = {
        "leftEye": eye(kp.left_eye),
        "rightEye": eye(kp.right_eye),
        "mouthLeft": pt(kp.mouth_left),
        "mouthRight": pt(kp.mouth_right),
        "upperLip": pt(kp.upper_lip),
        "lowerLip": pt(kp.lower_lip),
    }
    if kp.inner_upper_lip is not None and kp.inner_lower_lip is not None:
        canonical["innerUpperLip"] = pt(kp.inner_upper_lip)
        canonical["innerLowerLip"] = pt(kp.inner_lower_lip)
    canonical["chin"] = pt(kp.chin)
    canonical["faceOutline"] = [pt(p) for p in kp.face_outline]
    return canonical


def _frame(kp: FaceKeypoints) -> tuple[FArray, FArray, FArray, float]:
    """Face frame: origin between the eyes, x along the eye line, y down; unit = pixels."""
    le, re_ = np.array(kp.left_eye.center), np.array(kp.right_eye.center)
    axis = re_ - le
    iod = float(np.hypot(*axis))
    ex = axis / iod if iod > 0 else np.array([1.0, 0.0])
    ey = np.array([-ex[1], ex[0]])
    return (le + re_) / 2, ex, ey, iod


def _check_geometry(kp: FaceKeypoints) -> None:
    le, re_ = kp.left_eye.center, kp.right_eye.center
    if re_[0] <= le[0]:
        raise _err(
            "faceKeypoints.leftEye must be the eye on the LEFT of the image and rightEye the one "
            "on the right; they look swapped.",
            "leftEye",
        )
    origin, ex, ey, iod = _frame(kp)
    roll = math.degrees(math.atan2(ex[1], ex[0]))
    if abs(roll) > MAX_ROLL_DEG:
        raise _err(
            f"The eyes are tilted {roll:.0f} degrees; the face must be roughly upright "
            f"(within {MAX_ROLL_DEG:.0f} degrees). Rotate the image or check the eye points.",
            "leftEye",
        )

    def fx(p: Point) -> float:
        return float((np.array(p) - origin) @ ex)

    def fy(p: Point) -> float:
        return float((np.array(p) - origin) @ ey)

    for key, eye in (("leftEye", kp.left_eye), ("rightEye", kp.right_eye)):
        if not fx(eye.left) < fx(eye.center) < fx(eye.right):
            raise _err(
                f"faceKeypoints.{key}: the centre must lie between the left and right corners.",
                key,
            )
        if fx(eye.right) - fx(eye.left) < 3:
            raise _err(f"faceKeypoints.{key} is less than 3 pixels wide.", key)
        if eye.top is not None and not fy(eye.top) < fy(eye.center):
            raise _err(f"faceKeypoints.{key}.top must be above the eye centre.", key, "top")
        if eye.bottom is not None and not fy(eye.bottom) > fy(eye.center):
            raise _err(f"faceKeypoints.{key}.bottom must be below the eye centre.", key, "bottom")
    if fx(kp.left_eye.right) >= fx(kp.right_eye.left):
        raise _err("faceKeypoints: the two eyes overlap; check the eye corners.", "rightEye")
    mouth_y = (fy(kp.mouth_left) + fy(kp.mouth_right)) / 2
    if fx(kp.mouth_right) - fx(kp.mouth_left) < 6:
        raise _err(
            "faceKeypoints.mouthLeft must be left of mouthRight, at least 6 pixels apart.",
            "mouthLeft",
        )
    if mouth_y < 0.25 * iod:
        raise _err("faceKeypoints: the mouth must be below the eyes.", "mouthLeft")
    for key, lip in (("upperLip", kp.upper_lip), ("lowerLip", kp.lower_lip)):
        if not fx(kp.mouth_left) < fx(lip) < fx(kp.mouth_right):
            raise _err(f"faceKeypoints.{key} must lie between the mouth corners.", key)
    if fy(kp.upper_lip) > fy(kp.lower_lip):
        raise _err("faceKeypoints.upperLip must be above lowerLip.", "upperLip")
    if kp.inner_upper_lip is not None and kp.inner_lower_lip is not None:
        if not fy(kp.upper_lip) <= fy(kp.inner_upper_lip) <= fy(kp.inner_lower_lip):
            raise _err(
                "faceKeypoints.innerUpperLip must lie between upperLip and innerLowerLip.",
                "innerUpperLip",
            )
        if not fy(kp.inner_lower_lip) <= fy(kp.lower_lip):
            raise _err("faceKeypoints.innerLowerLip must lie above lowerLip.", "innerLowerLip")
    if fy(kp.chin) <= max(fy(kp.lower_lip), mouth_y):
        raise _err("faceKeypoints.chin must be below the mouth.", "chin")

    outline = np.array(kp.face_outline)
    if _self_intersects(outline):
        raise _err(
            "faceKeypoints.faceOutline crosses itself; list the points in order around the face.",
            "faceOutline",
        )
    height = float(np.ptp(outline @ ey))
    if height < MIN_FACE_PX:
        raise _err(
            f"The face outline is only {height:.0f} pixels tall; the face must be at least "
            f"{MIN_FACE_PX} pixels tall. Use a larger image.",
            "faceOutline",
        )
    named: list[tuple[str, Point]] = [
        ("leftEye", kp.left_eye.center),
        ("rightEye", kp.right_eye.center),
        ("mouthLeft", kp.mouth_left),
        ("mouthRight", kp.mouth_right),
    ]
    for key, p in named:
        if not _inside(outline, np.array(p)):
            raise _err(f"faceKeypoints.{key} lies outside faceOutline.", key)
    if not _inside(outline, np.array(kp.chin)) and _distance_to(outline, kp.chin) > 0.1 * height:
        raise _err("faceKeypoints.chin must be on or inside faceOutline.", "chin")


def _inside(poly: FArray, p: FArray) -> bool:
    x, y = p
    inside = False
    n = len(poly)
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _distance_to(poly: FArray, p: Point) -> float:
    q = np.array(p)
    a, b = poly, np.roll(poly, -1, axis=0)
    ab = b - a
    t = np.clip(((q - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-9), 0, 1)
    return float(np.min(np.hypot(*(a + ab * t[:, None] - q).T)))


def _self_intersects(poly: FArray) -> bool:
    n = len(poly)

    def cross(o: FArray, a: FArray, b: FArray) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            c, d = poly[j], poly[(j + 1) % n]
            d1, d2 = cross(c, d, a), cross(c, d, b)
            d3, d4 = cross(a, b, c), cross(a, b, d)
            if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 * d2 < 0 and d3 * d4 < 0:
                return True
    return False


# Fitting the template


def _ray_hit(poly: FArray, origin: FArray, direction: FArray) -> FArray:
    """Farthest intersection of the ray origin + t·direction (t > 0) with the polygon."""
    best_t = 0.0
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        e = b - a
        m = np.array([[direction[0], -e[0]], [direction[1], -e[1]]])
        det = np.linalg.det(m)
        if abs(det) < 1e-12:
            continue
        t, s = np.linalg.solve(m, a - origin)
        if t > 0 and -1e-9 <= s <= 1 + 1e-9:
            best_t = max(best_t, float(t))
    return origin + best_t * direction


def _tps(src: FArray, dst: FArray, smoothing: float) -> tuple[FArray, FArray]:
    n = len(src)
    d = np.linalg.norm(src[:, None] - src[None], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(d > 0, d * d * np.log(d), 0.0)
    p = np.hstack([np.ones((n, 1)), src])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n] = k + smoothing * np.eye(n)
    a[:n, n:] = p
    a[n:, :n] = p.T
    b = np.zeros((n + 3, 2))
    b[:n] = dst
    sol = np.asarray(np.linalg.lstsq(a, b, rcond=None)[0], dtype=np.float64)
    return sol[:n], sol[n:]


def _tps_apply(src: FArray, weights: FArray, affine: FArray, pts: FArray) -> FArray:
    d = np.linalg.norm(pts[:, None] - src[None], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(d > 0, d * d * np.log(d), 0.0)
    return np.asarray(k @ weights + np.hstack([np.ones((len(pts), 1)), pts]) @ affine)


def fit_template(kp: FaceKeypoints) -> FArray:
    """Bend the neutral 478-point template onto the keypoints: (478, 3) image pixels.

    A thin-plate spline maps the template's eyes, lips, chin and outline onto the given points;
    depth is the template's, scaled to the face. Raises InvalidKeypoints if the bent mesh folds.
    """
    tpl = template_landmarks()
    tpl2 = tpl[:, :2]
    pairs: list[tuple[FArray, Point]] = []

    def add(index: int, p: Point) -> None:
        pairs.append((tpl2[index], p))

    for eye, (c, left, right, top, bottom) in (
        (kp.left_eye, (468, 33, 133, 159, 145)),
        (kp.right_eye, (473, 362, 263, 386, 374)),
    ):
        add(c, eye.center)
        add(left, eye.left)
        add(right, eye.right)
        if eye.top is not None:
            add(top, eye.top)
        if eye.bottom is not None:
            add(bottom, eye.bottom)
    add(61, kp.mouth_left)
    add(291, kp.mouth_right)
    if kp.inner_upper_lip is not None and kp.inner_lower_lip is not None:
        add(13, kp.inner_upper_lip)
        add(14, kp.inner_lower_lip)
    else:
        seam = (
            (kp.upper_lip[0] + kp.lower_lip[0]) / 2,
            (kp.upper_lip[1] + kp.lower_lip[1]) / 2,
        )
        add(13, seam)
        add(14, seam)
    add(CHIN, kp.chin)

    # Outline: each template oval point maps to where the ray from the face centre, at the same
    # angle from the chin direction, leaves the given outline.
    outline = np.array(kp.face_outline)
    centre_img = np.array(
        [(kp.left_eye.center[0] + kp.right_eye.center[0] + kp.chin[0]) / 3,
         (kp.left_eye.center[1] + kp.right_eye.center[1] + kp.chin[1]) / 3]
    )  # fmt: skip
    centre_tpl = (tpl2[468] + tpl2[473] + tpl2[CHIN]) / 3
    down_img = np.array(kp.chin) - centre_img
    down_tpl = tpl2[CHIN] - centre_tpl
    rot = math.atan2(down_img[1], down_img[0]) - math.atan2(down_tpl[1], down_tpl[0])
    for idx in FACE_OVAL:
        if idx == CHIN:
            continue
        v = tpl2[idx] - centre_tpl
        ang = math.atan2(v[1], v[0]) + rot
        hit = _ray_hit(outline, centre_img, np.array([math.cos(ang), math.sin(ang)]))
        pairs.append((tpl2[idx], (float(hit[0]), float(hit[1]))))

    src = np.array([p[0] for p in pairs])
    dst = np.array([p[1] for p in pairs], dtype=np.float64)
    tris = np.array(face_triangles())
    iod = float(np.hypot(*(np.array(kp.right_eye.center) - np.array(kp.left_eye.center))))
    for smoothing in (1e-4, 1e-3, 1e-2, 1e-1):
        weights, affine = _tps(src, dst, smoothing)
        xy = _tps_apply(src, weights, affine, tpl2)
        xy = _fit_lips(xy, kp)
        rounded = _round_eyes(xy, tpl2, kp)
        if _folds(rounded, tpl2, tris) == 0:
            xy = rounded
        if _folds(xy, tpl2, tris) == 0:
            out = np.empty((len(tpl), 3))
            out[:, :2] = xy
            out[:, 2] = tpl[:, 2] * iod
            return out
    raise _err(
        "The face keypoints do not describe a plausible face (the fitted face folds over "
        "itself); check that eyes, mouth, chin and outline are where they belong.",
    )


def _fit_lips(xy: FArray, kp: FaceKeypoints) -> FArray:
    """Stretch the lips vertically about their seam so the outer edges meet the keypoints.

    Done after the spline (which pins corners and seam) because lip thickness differs a lot
    between drawings and the template, and a spline asked to do both folds the philtrum. The
    stretch is monotonic in v, fades out away from the lips and to nothing at the corners.
    """
    left, right = xy[61], xy[291]
    half = float(np.hypot(*(right - left))) / 2
    ex = (right - left) / (2 * half)
    ey = np.array([-ex[1], ex[0]])
    seam = (xy[13] + xy[14]) / 2
    d = xy - seam
    u, v = d @ ex / half, d @ ey
    out = xy.copy()
    for index, target, chain in (
        (0, kp.upper_lip, LIPS_UPPER_INNER),
        (17, kp.lower_lip, LIPS_LOWER_INNER),
    ):
        order = np.argsort(u[list(chain)])
        base = np.interp(u, u[list(chain)][order], v[list(chain)][order])  # inner lip edge
        a = float(v[index] - base[index])
        want = float((np.array(target) - seam) @ ey) - float(base[index])
        if a * want <= 0 or abs(a) < 1e-6:
            continue
        k = want / a
        off = v - base
        side = off * a > 0
        reach = abs(a) + 2 * abs(k - 1) * abs(a) + abs(a)
        t = np.clip((np.abs(off) - abs(a)) / (reach - abs(a)), 0, 1)
        fade = 1 - t * t * (3 - 2 * t)
        delta = np.where(np.abs(off) <= abs(a), (k - 1) * off, (k - 1) * a * fade)
        lateral = np.clip(1 - u * u, 0, 1)  # full at the middle, none at the corners
        out += (np.where(side, delta, 0.0) * lateral)[:, None] * ey
    return out


def _round_eyes(xy: FArray, tpl2: FArray, kp: FaceKeypoints) -> FArray:
    """Put each lid contour on the ellipse through the eye's corners, top and bottom.

    Drawn eyes are often round where the template's are almond-shaped; without this, a blink
    would leave the round parts outside the contour open. Vertices one ring out follow half as
    far, so the skin around the eye stretches smoothly. Only for eyes with top and bottom points.
    """
    out = xy.copy()
    tris = np.asarray(face_triangles())
    for eye, upper, lower in (
        (kp.left_eye, EYE_LEFT_UPPER, EYE_LEFT_LOWER),
        (kp.right_eye, EYE_RIGHT_UPPER, EYE_RIGHT_LOWER),
    ):
        if eye.top is None or eye.bottom is None:
            continue
        moves: dict[int, FArray] = {}
        for chain, lid in ((upper, eye.top), (lower, eye.bottom)):
            for idx, target in _ellipse_targets(tpl2, chain, eye.left, eye.right, lid):
                moves[idx] = np.array(target) - xy[idx]
        contour = set(upper) | set(lower)
        ring: dict[int, list[FArray]] = {}
        for tri in tris:
            near = [int(v) for v in tri if int(v) in moves]
            if not near:
                continue
            for v in tri:
                if int(v) not in contour:
                    ring.setdefault(int(v), []).extend(moves[n] for n in near)
        for idx, d in moves.items():
            out[idx] += d
        for idx, ds in ring.items():
            out[idx] += 0.5 * np.mean(ds, axis=0)
    return out


def _ellipse_targets(
    tpl2: FArray, chain: tuple[int, ...], left: Point, right: Point, lid: Point
) -> list[tuple[int, Point]]:
    a, b = tpl2[chain[0]], tpl2[chain[-1]]
    axis_t = (b - a) / float(np.hypot(*(b - a)))
    width_t = float(np.hypot(*(b - a)))
    le, ri, lp = np.array(left), np.array(right), np.array(lid)
    width = float(np.hypot(*(ri - le)))
    ex = (ri - le) / width
    ey = np.array([-ex[1], ex[0]])
    lid_s = float((lp - le) @ ex) / width
    lid_h = float((lp - le) @ ey)
    out = []
    for idx in chain[1:-1]:
        s = float((tpl2[idx] - a) @ axis_t) / width_t
        s = min(max(s, 0.02), 0.98)
        # half-ellipse from corner to corner, peaking (height lid_h) at the lid point
        x = (s - lid_s) / (lid_s if s < lid_s else 1 - lid_s)
        h = lid_h * math.sqrt(max(0.0, 1 - x * x))
        p = le + ex * (s * width) + ey * h
        out.append((idx, (float(p[0]), float(p[1]))))
    return out


def _folds(xy: FArray, ref: FArray, tris: npt.NDArray[np.int_]) -> int:
    def signed(p: FArray) -> FArray:
        a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
        return np.asarray(
            (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        )

    a_fit, a_ref = signed(xy), signed(ref)
    # slivers (the template's closed inner mouth corners) may flip harmlessly
    solid = (np.abs(a_ref) > 1e-4) & (np.abs(a_fit) > 0.5)
    return int(np.sum((np.sign(a_fit) != np.sign(a_ref)) & solid))
