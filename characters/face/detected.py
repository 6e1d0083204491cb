"""Keypoints in the ``faceKeypoints`` format, read off a stored face analysis.

The analysis (:mod:`characters.face.analysis`) keeps the fitted 478-point mesh in pixels of the
*processed* image: the reference image turned upright and, with ``imageProcessing: optimize``,
downsized to at most 2048 pixels. ``faceKeypoints`` are in pixels of the reference image *as
sent*, shown upright (``docs/face-keypoints.md``). Processing only turns and scales, so the way
back is a scale per side, the inverse of how keypoints go in (``imageSize`` in
``analysis._scale_keypoints``).

The mesh indices are the ones :func:`characters.face.keypoints.fit_template` pins to the
keypoints, so detected keypoints sent back as ``faceKeypoints`` describe the same face.
"""

from __future__ import annotations

from typing import Any

from characters.face.topology import CHIN, FACE_OVAL

EYES = {
    "leftEye": {"center": 468, "left": 33, "right": 133, "top": 159, "bottom": 145},
    "rightEye": {"center": 473, "left": 362, "right": 263, "top": 386, "bottom": 374},
}
"""Iris centre, eye-opening corners and the middles of the lid edges ("left" and "right" are
image sides, as in the keypoints format)."""
MOUTH = {"mouthLeft": 61, "mouthRight": 291, "upperLip": 0, "lowerLip": 17}
"""Mouth corners, and the middles of the outer lip edges."""
INNER_LIPS = {"innerUpperLip": 13, "innerLowerLip": 14}
"""The middles of the mouth opening's edges: given only for a mouth open at rest, as the
keypoints format asks."""


def detected_keypoints(face: dict[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    """The analysed face as keypoints in pixels of an upright image of ``size`` (width, height).

    ``face`` is a stored analysis (``image``, ``mesh.vertices``, ``mouth``); ``size`` is the
    upright size of the reference image as sent. Points are rounded to 0.1 pixel and kept inside
    the image (a face oval may reach past the edge of a tightly cropped photo).
    """
    vertices = face["mesh"]["vertices"]
    width, height = size
    sx = width / face["image"]["width"]
    sy = height / face["image"]["height"]

    def point(index: int) -> list[float]:
        x, y = vertices[index][0], vertices[index][1]
        return [
            round(min(max(x * sx, 0.0), float(width)), 1),
            round(min(max(y * sy, 0.0), float(height)), 1),
        ]

    out: dict[str, Any] = {
        eye: {name: point(i) for name, i in indices.items()} for eye, indices in EYES.items()
    }
    out.update({key: point(i) for key, i in MOUTH.items()})
    if face.get("mouth", {}).get("openAtRest"):
        out.update({key: point(i) for key, i in INNER_LIPS.items()})
    out["chin"] = point(CHIN)
    out["faceOutline"] = [point(i) for i in FACE_OVAL]
    return out
