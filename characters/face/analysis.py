"""Once per avatar: find the face, fit the landmarks, and describe everything the animator needs.

:func:`analyse` returns a JSON-serialisable dict (stored with the avatar) so that a session
never runs face detection again:

``version``, ``source`` (``"mediapipe"`` or ``"keypoints"``), ``image`` (width, height of the
analysed image), ``faceBox`` ([x, y, w, h] source pixels), ``framing`` (output width, height and
the source ``crop`` [x, y, w, h] shown in it), ``mesh`` (``vertices`` [x, y, z] in source pixels,
of which the first 478 are the face landmarks, ``triangles``, ``rings`` and named ``regions``:
lips, eyes, irises, brows, face oval), ``mouth`` (rest gap and width in source pixels,
``openAtRest``) and ``palette`` (RGB colours of lips, skin, teeth, mouth cavity and lashes).

Every rejection is a :class:`characters.errors.InvalidImage` whose message tells the user what to
change: no face (with the hint to give manual keypoints), several faces, a face too small or
turned away, an image too small, too large or not an image at all.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from characters.errors import InvalidImage
from characters.face import topology as tp
from characters.face.framing import Orientation, choose_framing, frame_size
from characters.face.keypoints import MIN_FACE_PX, fit_template, parse_keypoints
from characters.face.landmarks import FaceBox, detect_faces, fit_mesh
from characters.face.rig import build_rig

VERSION = 1
MIN_IMAGE_SIDE = 64
MAX_IMAGE_PIXELS = 50_000_000
MAX_IMAGE_SIDE = 12_000
DETECT_MAX_SIDE = 1280
SECOND_FACE_RATIO = 1 / 3
"""A second face counts (and is refused) when its width is at least this share of the largest;
smaller faces (people far in the background, a photo on the wall) are ignored."""
MAX_YAW_RATIO = 0.45
MAX_ROLL_DEG = 35.0
OPEN_AT_REST = 0.06
"""Inner-lip gap over mouth width above which the mouth counts as open at rest."""

PATH = ["referenceImage"]
NO_FACE = (
    "No face was found in the reference image. Use a clear, front-facing photo in which the "
    f"face is well lit and at least {MIN_FACE_PX} pixels tall; for a drawn or stylised "
    "character, give faceKeypoints (eye, mouth, chin and face-outline points) instead."
)

AVATAR_NO_FACE = (
    "No face found in the reference image. Use a clear, front-facing photo in which the face is "
    f"well lit and at least {MIN_FACE_PX} pixels tall; for a drawn or stylised character (or a "
    "face the detector misses), PATCH the avatar with faceKeypoints (see docs/face-keypoints.md)."
)
AVATAR_KEYPOINTS_HINT = (
    " Or PATCH the avatar with faceKeypoints on the face that should speak "
    "(see docs/face-keypoints.md)."
)

RGB = npt.NDArray[np.uint8]
FArray = npt.NDArray[np.float64]


class NoFaceFound(InvalidImage):
    """Detection found no face to fit."""


class SeveralFaces(InvalidImage):
    """More than one face of similar size: which one should speak is unclear."""


class HasImageData(Protocol):
    """What :func:`analyse_for_avatar` needs of a processed avatar image."""

    @property
    def data(self) -> bytes: ...


def decode_image(image: bytes | npt.NDArray[Any]) -> RGB:
    """Decode bytes (JPEG, PNG, WebP, ...) or take an array, as RGB uint8, checking its size.

    EXIF orientation is applied and transparency is flattened onto white.
    """
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise InvalidImage(
                f"Expected an RGB image array of shape (height, width, 3), got {arr.shape}.", PATH
            )
        if arr.dtype != np.uint8:
            raise InvalidImage(f"Expected a uint8 image array, got {arr.dtype}.", PATH)
        if arr.shape[2] == 4:
            alpha = arr[..., 3:4].astype(np.float32) / 255
            arr = (arr[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        _check_size(arr.shape[1], arr.shape[0])
        return np.ascontiguousarray(arr)
    if not isinstance(image, bytes | bytearray | memoryview) or not image:
        raise InvalidImage("The reference image is empty.", PATH)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(bytes(image)))
            _check_size(*img.size)
            img.load()
            img = ImageOps.exif_transpose(img)
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidImage(_too_large(0, 0), PATH) from e
    except UnidentifiedImageError as e:
        raise InvalidImage(
            "The reference image could not be read as an image; send a JPEG, PNG or WebP file.",
            PATH,
        ) from e
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidImage(
            "The reference image is truncated or corrupt and could not be decoded.", PATH
        ) from e
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        img = flat
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _too_large(w: int, h: int) -> str:
    dims = f" ({w}x{h})" if w and h else ""
    return (
        f"The reference image is too large{dims}; downscale it to at most "
        f"{MAX_IMAGE_SIDE} pixels on a side and {MAX_IMAGE_PIXELS // 1_000_000} megapixels "
        "(2000 pixels is plenty for an avatar)."
    )


def _check_size(w: int, h: int) -> None:
    if w * h > MAX_IMAGE_PIXELS or max(w, h) > MAX_IMAGE_SIDE:
        raise InvalidImage(_too_large(w, h), PATH)
    if min(w, h) < MIN_IMAGE_SIDE:
        raise InvalidImage(
            f"The reference image is only {w}x{h} pixels; it must be at least "
            f"{MIN_IMAGE_SIDE} pixels on each side, with the face at least {MIN_FACE_PX} "
            "pixels tall.",
            PATH,
        )


def _detect(rgb: RGB) -> FArray:
    h, w = rgb.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(h, w))
    small = rgb
    if scale < 1.0:
        small = np.asarray(
            cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
        )
    boxes = detect_faces(small)
    if not boxes:  # the short-range detector prefers square, face-filled inputs
        side = max(small.shape[:2])
        padded = np.zeros((side, side, 3), np.uint8)
        padded[: small.shape[0], : small.shape[1]] = small
        boxes = [b for b in detect_faces(padded) if b.x < small.shape[1] and b.y < small.shape[0]]
    if not boxes:  # small faces: look again in overlapping, enlarged tiles
        boxes = _detect_tiles(small)
    if len(boxes) > 1 and boxes[1].width >= SECOND_FACE_RATIO * boxes[0].width:
        count = sum(1 for b in boxes if b.width >= SECOND_FACE_RATIO * boxes[0].width)
        raise SeveralFaces(
            f"The reference image shows {count} faces; it must show exactly one. Crop it to "
            "the person (or character) who should speak.",
            PATH,
        )
    box = boxes[0] if boxes else None
    if box is not None and scale != 1.0:
        box = FaceBox(
            box.x / scale, box.y / scale, box.width / scale, box.height / scale, box.score
        )
    pts = fit_mesh(rgb, box)
    if pts is None:
        raise NoFaceFound(NO_FACE, PATH)
    return pts


def _detect_tiles(rgb: RGB) -> list[FaceBox]:
    h, w = rgb.shape[:2]
    side = max(64, min(h, w) // 2)
    found: list[FaceBox] = []
    for y in range(0, max(h - side, 0) + 1, side // 2):
        for x in range(0, max(w - side, 0) + 1, side // 2):
            tile = np.ascontiguousarray(rgb[y : y + side, x : x + side])
            found += [
                FaceBox(b.x + x, b.y + y, b.width, b.height, b.score) for b in detect_faces(tile)
            ]
    merged: list[FaceBox] = []
    for box in sorted(found, key=lambda b: -b.score):
        if all(box.iou(m) < 0.3 for m in merged):
            merged.append(box)
    return sorted(merged, key=lambda b: -b.width * b.height)


def _check_pose(pts: FArray) -> None:
    left, right = pts[tp.IRIS_LEFT[0], :2], pts[tp.IRIS_RIGHT[0], :2]
    d = right - left
    iod = float(np.hypot(*d))
    roll = math.degrees(math.atan2(d[1], d[0]))
    if abs(roll) > MAX_ROLL_DEG:
        raise InvalidImage(
            f"The face is tilted by about {roll:.0f} degrees; use an upright photo (the eyes "
            f"level within {MAX_ROLL_DEG:.0f} degrees).",
            PATH,
        )
    ex = d / iod
    centre = (pts[234, :2] + pts[454, :2]) / 2  # cheek edges of the face oval
    yaw = float((centre - pts[tp.NOSE_TIP, :2]) @ ex) / iod
    if abs(yaw) > MAX_YAW_RATIO:
        raise InvalidImage(
            "The face is turned too far to the side; use a photo in which the person looks "
            "towards the camera.",
            PATH,
        )


def _face_box(pts: FArray) -> tuple[float, float, float, float]:
    oval = pts[list(tp.FACE_OVAL), :2]
    x0, y0 = oval.min(axis=0)
    x1, y1 = oval.max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def _polygon_mask(shape: tuple[int, int], *polys: FArray) -> npt.NDArray[np.bool_]:
    mask = np.zeros(shape, np.uint8)
    for poly in polys:
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)


def _median(rgb: RGB, mask: npt.NDArray[np.bool_], default: tuple[int, int, int]) -> list[int]:
    if mask.sum() < 4:
        return list(default)
    return [int(v) for v in np.median(rgb[mask], axis=0)]


def _palette_and_mouth(rgb: RGB, pts: FArray) -> tuple[dict[str, list[int]], dict[str, Any]]:
    h, w = rgb.shape[:2]
    p = pts[:, :2]
    outer = np.vstack([p[list(tp.LIPS_UPPER_OUTER)], p[list(tp.LIPS_LOWER_OUTER[::-1])]])
    inner = np.vstack([p[list(tp.LIPS_UPPER_INNER)], p[list(tp.LIPS_LOWER_INNER[::-1])]])
    lips = _polygon_mask((h, w), outer) & ~_polygon_mask((h, w), inner)
    lip = _median(rgb, lips, (170, 90, 90))
    mouth_w = float(np.hypot(*(p[291] - p[61])))
    iod = float(np.hypot(*(p[tp.IRIS_RIGHT[0]] - p[tp.IRIS_LEFT[0]])))
    skin_mask = np.zeros((h, w), np.uint8)
    for idx in (50, 280, 151):  # both cheeks and the forehead
        cx, cy = p[idx]
        cv2.circle(skin_mask, (int(cx), int(cy)), max(2, int(0.12 * iod)), 1, -1)
    skin = _median(rgb, skin_mask.astype(bool), (200, 160, 140))
    gaps = [float(np.hypot(*(p[a] - p[b]))) for a, b in ((13, 14), (82, 87), (312, 317))]
    rest_gap = float(np.mean(gaps))
    open_at_rest = rest_gap > OPEN_AT_REST * mouth_w
    luma = 0.299 * skin[0] + 0.587 * skin[1] + 0.114 * skin[2]
    shade = float(np.clip(luma / 170.0, 0.55, 1.05))
    teeth = [int(v * shade) for v in (232, 222, 204)]
    if open_at_rest:
        inside = _polygon_mask((h, w), inner)
        if inside.sum() >= 8:
            vals = rgb[inside].astype(np.float64)
            bright = vals[vals.sum(axis=1) >= np.percentile(vals.sum(axis=1), 70)]
            teeth = [int(v) for v in np.median(bright, axis=0)]
    cavity = [int(0.22 * lip[0] + 18), int(0.16 * lip[1] + 6), int(0.16 * lip[2] + 8)]
    lash_mask = np.zeros((h, w), np.uint8)
    for chain in (tp.EYE_LEFT_UPPER, tp.EYE_RIGHT_UPPER):
        cv2.polylines(
            lash_mask,
            [np.round(p[list(chain)]).astype(np.int32)],
            False,
            1,
            max(1, int(0.04 * iod)),
        )
    lash_vals = rgb[lash_mask.astype(bool)]
    lash = (
        [int(v) for v in np.percentile(lash_vals, 15, axis=0)] if len(lash_vals) else [40, 30, 30]
    )
    palette = {"lip": lip, "skin": skin, "teeth": teeth, "cavity": cavity, "lash": lash}
    mouth = {"restGap": round(rest_gap, 2), "width": round(mouth_w, 2), "openAtRest": open_at_rest}
    return palette, mouth


def _scale_keypoints(keypoints: dict[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    """Rescale keypoints that say which image size they were placed on (``imageSize``)."""
    declared = keypoints.get("imageSize") or keypoints.get("image_size")
    if declared is None:
        return keypoints
    try:
        dw, dh = (float(v) for v in declared)
    except (TypeError, ValueError) as e:
        raise InvalidImage(
            "faceKeypoints.imageSize must be [width, height].", ["faceKeypoints", "imageSize"]
        ) from e
    if dw <= 0 or dh <= 0:
        raise InvalidImage(
            "faceKeypoints.imageSize must be positive.", ["faceKeypoints", "imageSize"]
        )
    sx, sy = size[0] / dw, size[1] / dh

    def scale(v: Any) -> Any:
        if isinstance(v, dict):
            if set(v) == {"x", "y"}:
                return {"x": _num(v["x"]) * sx, "y": _num(v["y"]) * sy}
            return {k: scale(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            if len(v) == 2 and all(isinstance(x, int | float) for x in v):
                return [v[0] * sx, v[1] * sy]
            return [scale(x) for x in v]
        return v

    return {k: scale(v) for k, v in keypoints.items() if k not in ("imageSize", "image_size")}


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) else math.nan


def analyse(
    image: bytes | npt.NDArray[Any],
    keypoints: dict[str, Any] | None = None,
    *,
    orientation: Orientation = "auto",
    size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Analyse a reference image once; the result drives every later session of the avatar.

    Args:
        image: encoded image bytes (JPEG, PNG, WebP, ...) or an RGB uint8 array.
        keypoints: manual face keypoints (see :mod:`characters.face.keypoints`). When given, they
            are used instead of face detection; use them for cartoons and drawings.
        orientation: ``auto`` picks 1088×704 for images at least 1.2× wider than tall, else
            704×1088; ``portrait`` or ``landscape`` force one.
        size: an explicit output (width, height), overriding ``orientation``.

    Returns:
        The JSON-serialisable analysis described in the module docstring.

    Raises:
        InvalidImage: with a message that tells the user what to change.
    """
    rgb = decode_image(image)
    h, w = rgb.shape[:2]
    if keypoints is not None:
        kp = parse_keypoints(_scale_keypoints(keypoints, (w, h)), (w, h))
        pts = fit_template(kp)
        source = "keypoints"
    else:
        pts = _detect(rgb)
        _check_pose(pts)
        source = "mediapipe"
    box = _face_box(pts)
    if box[3] < MIN_FACE_PX:
        raise InvalidImage(
            f"The face is only {box[3]:.0f} pixels tall; it must be at least {MIN_FACE_PX}. "
            "Use a larger photo, or one taken closer to the face.",
            PATH,
        )
    rig = build_rig(pts)
    eyes_y = float((pts[tp.IRIS_LEFT[0], 1] + pts[tp.IRIS_RIGHT[0], 1]) / 2)
    framing = choose_framing((w, h), box, eyes_y, frame_size((w, h), orientation, size))
    palette, mouth = _palette_and_mouth(rgb, pts)
    return {
        "version": VERSION,
        "source": source,
        "image": {"width": w, "height": h},
        "faceBox": [round(v, 2) for v in box],
        "framing": framing.to_dict(),
        "mesh": rig.to_dict(),
        "mouth": mouth,
        "palette": palette,
    }


def analyse_for_avatar(
    image: HasImageData, keypoints: dict[str, Any] | None, orientation: Orientation = "auto"
) -> dict[str, Any]:
    """The avatar-processing hook: ``(ProcessedImage, keypoints | None) -> analysis``.

    Keypoints are in pixels of the processed image, unless they carry ``imageSize``
    ([width, height] of the image they were placed on), in which case they are rescaled; when
    given they replace detection. ``orientation`` picks the output framing (the server's
    ``CHARACTERS_FACE_ORIENTATION``). Rejections name what to do through the avatar API.
    """
    try:
        return analyse(image.data, keypoints, orientation=orientation)
    except NoFaceFound as e:
        raise InvalidImage(AVATAR_NO_FACE, PATH) from e
    except SeveralFaces as e:
        raise InvalidImage(e.message + AVATAR_KEYPOINTS_HINT, PATH) from e


def warm_up() -> None:
    """Import mediapipe and build its graphs now (about 0.7 s, once per process), so the first
    avatar is analysed as quickly as any other; the models are then shared by every thread."""
    blank = np.zeros((MIN_IMAGE_SIDE, MIN_IMAGE_SIDE, 3), np.uint8)
    detect_faces(blank)
    fit_mesh(blank, None)
    tp.face_triangles()
