"""Frame renderers: face parameters in, an RGB frame out.

:class:`FrameRenderer` is the seam between animation and drawing. :class:`WarpRenderer` is the
CPU implementation (a mesh warp of the reference image); a neural renderer on a GPU can replace
it behind the same protocol, or replace the whole :class:`~characters.face.generator.VideoGenerator`
if it wants the audio itself.
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from characters.face.analysis import decode_image
from characters.face.deform import Deformer
from characters.face.framing import Framing
from characters.face.mouth import JAW_TEETH, MouthPainter
from characters.face.overlays import LashPainter
from characters.face.params import FaceParams
from characters.face.rig import FaceRig
from characters.face.warp import MeshWarper

RGB = npt.NDArray[np.uint8]
FArray = npt.NDArray[np.float64]
IArray = npt.NDArray[np.int32]


class FrameRenderer(Protocol):
    """Draws one frame of the face for given parameters."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def render(self, params: FaceParams) -> RGB:
        """A new (height, width, 3) RGB uint8 frame."""
        ...


def _touching(triangles: IArray, vertices: list[int]) -> IArray:
    mark = np.zeros(int(triangles.max()) + 1, dtype=bool)
    mark[vertices] = True
    return np.flatnonzero(mark[triangles].any(axis=1)).astype(np.int32)


class WarpRenderer:
    """The CPU renderer: warps the framed reference image by the deformed face mesh.

    Built once per session from the reference image and its analysis (about 0.1 s); each
    :meth:`render` then costs a few milliseconds to ~20 ms depending on the face's size in
    pixels. Not thread-safe: use one renderer per thread.
    """

    def __init__(
        self, image: bytes | npt.NDArray[Any], analysis: dict[str, Any], stride: int = 4
    ) -> None:
        src = decode_image(image)
        size = analysis["image"]
        if src.shape[1] != size["width"] or src.shape[0] != size["height"]:
            raise ValueError(
                f"the image is {src.shape[1]}x{src.shape[0]} but the analysis is for "
                f"{size['width']}x{size['height']}"
            )
        self.framing = Framing.from_dict(analysis["framing"])
        self.still = self.framing.apply(src)
        rig = FaceRig.from_dict(analysis["mesh"])
        verts = self.framing.to_output(rig.vertices)
        scale = self.framing.scale
        mouth = analysis["mouth"]
        self.deformer = Deformer(
            verts, rig.triangles, rig.regions, rig.rings, float(mouth["restGap"]) * scale
        )
        r = rig.regions
        lip_vertices = [
            *r["lipsUpperOuter"],
            *r["lipsLowerOuter"],
            *r["lipsUpperInner"],
            *r["lipsLowerInner"],
        ]
        lips = _touching(rig.triangles, lip_vertices)
        # Two rings of triangles: just outside the lips the displacement still changes fast,
        # and the smooth inversion is not accurate enough there.
        lips = _touching(rig.triangles, sorted({int(v) for v in rig.triangles[lips].ravel()}))
        eyes = _touching(
            rig.triangles,
            [*r["eyeLeftUpper"], *r["eyeLeftLower"], *r["eyeRightUpper"], *r["eyeRightLower"]],
        )
        eyes = _touching(rig.triangles, sorted({int(v) for v in rig.triangles[eyes].ravel()}))
        patches = {"lips": rig.triangles[lips], "eyes": rig.triangles[eyes]}
        self.warper = MeshWarper(
            self.still, self.deformer.rest, rig.triangles, self.deformer.moving, patches, stride
        )
        mf = self.deformer.mouth
        seam = self.deformer.rest[[13, 14]].mean(axis=0)
        open_at_rest = bool(mouth["openAtRest"])
        # an open photo mouth keeps its own teeth; its tongue rests at the lower lip
        lower_v = float(mf.uv(self.deformer.rest[[14]])[1][0])
        drawn = analysis.get("source") == "keypoints"  # a stylised face: flat colours
        self.mouth = MouthPainter(
            self.still,
            self.deformer.rest,
            r,
            analysis["palette"],
            open_at_rest,
            half_width=mf.half_width,
            seam_v=float(mf.uv(seam[None, :])[1][0]),
            floor_v=lower_v + 0.04 if open_at_rest else None,
            lower_edge_v=lower_v - 0.1 if open_at_rest else None,
            softness=0.4 * max(self.framing.scale - 1.0, 0.0),
            iod=self.deformer.iod,
            flat=drawn,
        )
        # the teeth sit a little behind the lips
        self._teeth_depth = float(self.deformer.depth[13]) - 0.08 * self.deformer.iod
        self.lashes = LashPainter(
            self.deformer.rest,
            r,
            analysis["palette"],
            flat=drawn,
        )

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return self.framing.width

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return self.framing.height

    def vertices(self, params: FaceParams) -> FArray:
        """Deformed mesh vertices (output pixels) for ``params``."""
        return self.deformer.deform(params)

    def mouth_affine(self, params: FaceParams, drop: float = 0.0) -> FArray:
        """2×3 affine from mouth coordinates to output px, turned with the head; ``drop`` (px)
        lowers it along the mouth's down axis first (the jaw)."""
        mf = self.deformer.mouth
        uv = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        rest = mf.centre + mf.half_width * (uv[:, :1] * mf.ex + uv[:, 1:] * mf.ey) + drop * mf.ey
        posed = self.deformer.pose(rest, self._teeth_depth, 1.0, params)
        return np.asarray(cv2.getAffineTransform(uv.astype(np.float32), posed.astype(np.float32)))

    def render(self, params: FaceParams) -> RGB:
        """A new frame for ``params``."""
        pts = self.deformer.deform(params)
        patches: tuple[str, ...] = ()
        if params.mouth_active():
            patches += ("lips",)
        if params.eyes_active():
            patches += ("eyes",)
        frame = self.warper.warp(pts, patches)
        if params.mouth_active():
            skull = self.mouth_affine(params)
            jaw = self.mouth_affine(params, JAW_TEETH * self.deformer.jaw_drop(params))
            self.mouth.paint(frame, pts, params, skull, jaw)
        self.lashes.paint(frame, pts, params)
        return frame
