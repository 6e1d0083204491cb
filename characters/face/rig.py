"""The face rig: mesh vertices, triangles and named regions, built once per avatar.

Vertices 0–477 are the face landmarks (from mediapipe, or the template bent onto manual
keypoints). Around the face oval the rig adds rings of vertices at growing scales, so that head
motion fades out smoothly into hair, neck and background. Triangles are mediapipe's
tessellation, plus the mouth opening and both eye openings (which the tessellation leaves as
holes) and quad strips between the rings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from characters.face import topology as tp

RING_SCALES = (1.15, 1.4, 1.75, 2.3)
"""Scales of the rings around the face oval, about the oval's centre."""

FArray = npt.NDArray[np.float64]
IArray = npt.NDArray[np.int32]


def _regions() -> dict[str, tuple[int, ...]]:
    return {
        "lipsUpperOuter": tp.LIPS_UPPER_OUTER,
        "lipsLowerOuter": tp.LIPS_LOWER_OUTER,
        "lipsUpperInner": tp.LIPS_UPPER_INNER,
        "lipsLowerInner": tp.LIPS_LOWER_INNER,
        "eyeLeftUpper": tp.EYE_LEFT_UPPER,
        "eyeLeftLower": tp.EYE_LEFT_LOWER,
        "eyeRightUpper": tp.EYE_RIGHT_UPPER,
        "eyeRightLower": tp.EYE_RIGHT_LOWER,
        "irisLeft": tp.IRIS_LEFT,
        "irisRight": tp.IRIS_RIGHT,
        "browLeft": tp.BROW_LEFT,
        "browRight": tp.BROW_RIGHT,
        "faceOval": tp.FACE_OVAL,
        "noseTip": (tp.NOSE_TIP,),
        "chin": (tp.CHIN,),
    }


@dataclass(frozen=True)
class FaceRig:
    """Mesh of one avatar in source-image pixels (x, y, and mediapipe depth z: smaller = nearer)."""

    vertices: FArray
    triangles: IArray
    rings: tuple[int, ...]
    """Index of the first vertex of each ring (each ring has ``len(faceOval)`` vertices)."""
    regions: dict[str, tuple[int, ...]] = field(default_factory=_regions)

    def region(self, name: str) -> IArray:
        """Vertex indices of a named region."""
        return np.asarray(self.regions[name], dtype=np.int32)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (coordinates rounded to 1/100 pixel)."""
        return {
            "vertices": np.round(self.vertices, 2).tolist(),
            "triangles": self.triangles.tolist(),
            "rings": list(self.rings),
            "regions": {k: list(v) for k, v in self.regions.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceRig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            vertices=np.asarray(data["vertices"], dtype=np.float64),
            triangles=np.asarray(data["triangles"], dtype=np.int32),
            rings=tuple(int(v) for v in data["rings"]),
            regions={k: tuple(int(i) for i in v) for k, v in data["regions"].items()},
        )


def _zipper(upper: tuple[int, ...], lower: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Triangles filling the region between two chains that share their end points."""
    tris: list[tuple[int, int, int]] = []
    for i in range(len(upper) - 1):
        a, b, c, d = upper[i], upper[i + 1], lower[i + 1], lower[i]
        if a == d:
            tris.append((a, b, c))
        elif b == c:
            tris.append((a, b, d))
        else:
            tris += [(a, b, c), (a, c, d)]
    return tris


def _area2(p: FArray, a: int, b: int, c: int) -> float:
    return float(
        (p[b, 0] - p[a, 0]) * (p[c, 1] - p[a, 1]) - (p[b, 1] - p[a, 1]) * (p[c, 0] - p[a, 0])
    )


def _eye_fill(
    pts: FArray, upper: tuple[int, ...], lower: tuple[int, ...], centre: int
) -> list[tuple[int, int, int]]:
    """A fan from the iris centre (so gaze can move it), or a zipper if the fan would fold."""
    loop = list(upper) + list(reversed(lower[1:-1]))
    fan = [(centre, loop[i], loop[(i + 1) % len(loop)]) for i in range(len(loop))]
    signs = {np.sign(_area2(pts, *t)) for t in fan}
    if len(signs) == 1 and 0 not in signs:
        return fan
    return _zipper(upper, lower)


def build_rig(landmarks: FArray) -> FaceRig:
    """Build the rig from (478, 3) landmarks in source-image pixels."""
    if landmarks.shape != (tp.N_LANDMARKS, 3):
        raise ValueError(f"expected ({tp.N_LANDMARKS}, 3) landmarks, got {landmarks.shape}")
    pts2 = landmarks[:, :2]
    oval = np.asarray(tp.FACE_OVAL)
    centre = pts2[oval].mean(axis=0)
    z_oval = float(landmarks[oval, 2].mean())
    ring_vertices = []
    rings = []
    start = tp.N_LANDMARKS
    for s in RING_SCALES:
        ring = np.empty((len(oval), 3))
        ring[:, :2] = centre + s * (pts2[oval] - centre)
        ring[:, 2] = z_oval
        ring_vertices.append(ring)
        rings.append(start)
        start += len(oval)
    vertices = np.vstack([landmarks, *ring_vertices])

    tris: list[tuple[int, int, int]] = list(tp.face_triangles())
    tris += _zipper(tp.LIPS_UPPER_INNER, tp.LIPS_LOWER_INNER)
    tris += _eye_fill(pts2, tp.EYE_LEFT_UPPER, tp.EYE_LEFT_LOWER, tp.IRIS_LEFT[0])
    tris += _eye_fill(pts2, tp.EYE_RIGHT_UPPER, tp.EYE_RIGHT_LOWER, tp.IRIS_RIGHT[0])
    n = len(oval)
    inner = [int(i) for i in oval]
    for ring_start in rings:
        outer = [ring_start + i for i in range(n)]
        for i in range(n):
            j = (i + 1) % n
            tris += [(inner[i], inner[j], outer[j]), (inner[i], outer[j], outer[i])]
        inner = outer
    return FaceRig(vertices, np.asarray(tris, dtype=np.int32), tuple(rings))
