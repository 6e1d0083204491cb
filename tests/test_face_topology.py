"""The hard-coded mesh facts agree with mediapipe's own connection sets."""

from __future__ import annotations

import pytest

from characters.face import topology as tp

connections = pytest.importorskip("mediapipe.python.solutions.face_mesh_connections")


def _edges(pairs) -> set[frozenset[int]]:
    return {frozenset(p) for p in pairs}


@pytest.mark.parametrize(
    ("chains", "reference"),
    [
        (
            [tp.LIPS_UPPER_OUTER, tp.LIPS_LOWER_OUTER, tp.LIPS_UPPER_INNER, tp.LIPS_LOWER_INNER],
            "FACEMESH_LIPS",
        ),
        ([tp.EYE_LEFT_UPPER, tp.EYE_LEFT_LOWER], "FACEMESH_RIGHT_EYE"),
        ([tp.EYE_RIGHT_UPPER, tp.EYE_RIGHT_LOWER], "FACEMESH_LEFT_EYE"),
        ([(*tp.FACE_OVAL, tp.FACE_OVAL[0])], "FACEMESH_FACE_OVAL"),
    ],
)
def test_chains_follow_mediapipe_edges(chains, reference) -> None:
    ref = _edges(getattr(connections, reference))
    used = {frozenset(e) for chain in chains for e in zip(chain, chain[1:], strict=False)}
    assert used == ref


def test_tessellation_is_a_mesh_with_mouth_and_eye_holes() -> None:
    tris = tp.face_triangles()
    assert len(tris) == 852
    uses: dict[frozenset[int], int] = {}
    for a, b, c in tris:
        for e in (frozenset((a, b)), frozenset((b, c)), frozenset((a, c))):
            uses[e] = uses.get(e, 0) + 1
    assert max(uses.values()) == 2
    boundary = {v for e, n in uses.items() if n == 1 for v in e}
    holes = set(tp.FACE_OVAL) | set(tp.LIPS_UPPER_INNER) | set(tp.LIPS_LOWER_INNER)
    holes |= set(tp.EYE_LEFT_UPPER + tp.EYE_LEFT_LOWER + tp.EYE_RIGHT_UPPER + tp.EYE_RIGHT_LOWER)
    assert boundary == holes
