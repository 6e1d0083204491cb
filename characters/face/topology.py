"""Fixed facts about the 478-point mediapipe face mesh that the rig is built from.

Index chains are ordered and verified against mediapipe's own connection sets
(``tests/test_face_topology.py``). "Left" and "right" here are *image* sides: ``EYE_LEFT`` is
the eye on the left of the picture (the subject's right eye in a non-mirrored photo).
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter

N_LANDMARKS = 478
"""468 mesh points plus 10 iris points (``refine_landmarks=True``)."""

LIPS_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
"""Lip contours, each from the image-left corner to the image-right corner."""

EYE_LEFT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_LEFT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_RIGHT_UPPER = (362, 398, 384, 385, 386, 387, 388, 466, 263)
EYE_RIGHT_LOWER = (362, 382, 381, 380, 374, 373, 390, 249, 263)
"""Eye contours, each from the image-left corner to the image-right corner."""

IRIS_LEFT = (468, 469, 470, 471, 472)
IRIS_RIGHT = (473, 474, 475, 476, 477)
"""Iris centre, then four points on the iris circle."""

BROW_LEFT = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107)
BROW_RIGHT = (276, 282, 283, 285, 293, 295, 296, 300, 334, 336)

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
"""The face outline as a closed loop starting at the top of the forehead (10)."""

NOSE_TIP = 1
CHIN = 152
FOREHEAD = 10


@functools.cache
def face_triangles() -> tuple[tuple[int, int, int], ...]:
    """The mesh's 852 triangles, recovered from mediapipe's tessellation edge list.

    The tessellation leaves the mouth opening and both eye openings as holes; the rig fills
    them itself. Triangles formed by three edges that bound no face (2 of them) are dropped.
    """
    from mediapipe.python.solutions.face_mesh_connections import (  # type: ignore[import-untyped]
        FACEMESH_TESSELATION,
    )

    neighbours: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    found: set[tuple[int, int, int]] = set()
    for a, b in FACEMESH_TESSELATION:
        for c in neighbours[a] & neighbours[b]:
            i, j, k = sorted((a, b, c))
            found.add((i, j, k))
    uses: Counter[tuple[int, int]] = Counter()
    for tri in found:
        for e in itertools.combinations(tri, 2):
            uses[e] += 1
    kept = [t for t in found if not all(uses[e] > 2 for e in itertools.combinations(t, 2))]
    return tuple(sorted(kept))
