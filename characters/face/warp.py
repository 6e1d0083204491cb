"""The image warp: move the still so its mesh follows the deformed vertices, in one remap.

Per frame, the forward displacement of the mesh is spread onto a coarse grid (every ``stride``
pixels) with barycentric weights precomputed against the rest mesh. The backward map that
``cv2.remap`` needs is found on that grid by fixed-point iteration (b(y) = −F(y + b(y))),
upsampled, and then replaced by the exact piecewise-affine inverse inside the lip triangles (and
the eye triangles while the eyes move). There the displacement jumps across the lip seam or the
closing lid, where the smooth inversion would smear lip or iris pixels. Only the region the mesh
can move is touched; the rest of the frame is copied from the still.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]

FArray = npt.NDArray[np.float64]
IArray = npt.NDArray[np.int32]
RGB = npt.NDArray[np.uint8]

INVERSION_STEPS = 3
MIN_PATCH_AREA = 0.5
"""Deformed triangles smaller than this (px², e.g. a closed eye) are not rasterised."""
MAX_GAIN = 4.0


class MeshWarper:
    """Warps one still image by deformations of one mesh (all in output pixels)."""

    def __init__(
        self,
        still: RGB,
        rest: FArray,
        triangles: IArray,
        moving: npt.NDArray[np.bool_],
        patches: dict[str, IArray],
        stride: int = 4,
    ) -> None:
        self.still = np.ascontiguousarray(still)
        self.rest = rest.astype(np.float64)
        self.triangles = triangles
        self.stride = stride
        self.patches = patches
        h, w = still.shape[:2]
        self.moving = moving
        active = moving[triangles].any(axis=1)
        corners = self.rest[triangles[active].ravel()]
        x0, y0 = np.floor(corners.min(axis=0)) - 4
        x1, y1 = np.ceil(corners.max(axis=0)) + 4
        self.x0, self.y0 = int(max(0, x0)), int(max(0, y0))
        self.x1, self.y1 = int(min(w, x1)), int(min(h, y1))
        self.roi_w, self.roi_h = self.x1 - self.x0, self.y1 - self.y0
        # Grid point j sits at x0 + (stride - 1) / 2 + stride * j, which is exactly where
        # cv2.resize by a factor of ``stride`` samples it: upsampling is then a plain resize.
        gw = -(-self.roi_w // stride) + 1
        gh = -(-self.roi_h // stride) + 1
        self.grid_shape = (gh, gw)
        offset = (stride - 1) / 2
        gx = self.x0 + offset + stride * np.arange(gw, dtype=np.float64)
        gy = self.y0 + offset + stride * np.arange(gh, dtype=np.float64)
        grid = np.stack(np.meshgrid(gx, gy), axis=-1)  # (gh, gw, 2) absolute pixels
        self.grid = grid.astype(np.float32)
        jj, ii = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))
        self.grid_index = np.stack([jj, ii], axis=-1)
        idx, weights = self._barycentrics(grid.reshape(-1, 2), np.asarray(active, dtype=bool))
        rows = np.repeat(np.arange(len(idx)), 3)
        self.spread = sparse.csr_matrix(
            (weights.ravel(), (rows, idx.ravel())), shape=(len(idx), len(rest)), dtype=np.float32
        )
        px, py = np.meshgrid(
            np.arange(self.x0, self.x1, dtype=np.float32),
            np.arange(self.y0, self.y1, dtype=np.float32),
        )
        self.pixels = np.ascontiguousarray(np.stack([px, py], axis=-1))

    def _barycentrics(
        self, pts: FArray, active: npt.NDArray[np.bool_]
    ) -> tuple[IArray, npt.NDArray[np.float32]]:
        gh, gw = self.grid_shape
        ids = np.full((gh, gw), -1.0, dtype=np.float32)
        origin = np.array([self.x0, self.y0])
        for t in np.flatnonzero(active):
            poly = (self.rest[self.triangles[t]] - origin) / self.stride
            cv2.fillConvexPoly(ids, np.round(poly * 16).astype(np.int32), float(t), cv2.LINE_8, 4)
        missing = ids < 0
        if missing.any():  # grid points on a shared edge that neither triangle claimed
            grown = cv2.dilate(ids, np.ones((3, 3), np.uint8))
            ids[missing] = grown[missing]
        tri = ids.ravel().astype(np.int64)
        valid = tri >= 0
        tri[~valid] = 0
        idx = self.triangles[tri]
        a, b, c = self.rest[idx[:, 0]], self.rest[idx[:, 1]], self.rest[idx[:, 2]]
        v0, v1, v2 = b - a, c - a, pts - a
        d00 = (v0 * v0).sum(1)
        d01 = (v0 * v1).sum(1)
        d11 = (v1 * v1).sum(1)
        d20 = (v2 * v0).sum(1)
        d21 = (v2 * v1).sum(1)
        den = d00 * d11 - d01 * d01
        den = np.where(np.abs(den) < 1e-12, 1.0, den)
        wb = (d11 * d20 - d01 * d21) / den
        wc = (d00 * d21 - d01 * d20) / den
        weights = np.stack([1 - wb - wc, wb, wc], axis=1)
        # Points claimed by a neighbour (or on a sliver) must not extrapolate.
        weights = np.clip(weights, 0.0, 1.0)
        weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
        weights[~valid] = 0.0
        return idx.astype(np.int32), weights.astype(np.float32)

    def source_map(self, deformed: FArray, patch_names: tuple[str, ...]) -> npt.NDArray[np.float32]:
        """Absolute source coordinates (roi_h, roi_w, 2) for every output pixel of the ROI."""
        disp = (deformed - self.rest).astype(np.float32)
        gh, gw = self.grid_shape
        field = np.ascontiguousarray((self.spread @ disp).reshape(gh, gw, 2), dtype=np.float32)
        back = -field
        s = np.float32(1.0 / self.stride)
        for _ in range(INVERSION_STEPS):
            pos = self.grid_index + back * s
            # (OpenCV's stubs do not allow map2=None, which the binding accepts.)
            sampled = cv2.remap(field, pos, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]
            back = -np.asarray(sampled, dtype=np.float32)
        up = cv2.resize(back, (gw * self.stride, gh * self.stride), interpolation=cv2.INTER_LINEAR)
        full = np.asarray(cv2.add(up[: self.roi_h, : self.roi_w], self.pixels), dtype=np.float32)
        for name in patch_names:
            self._patch(full, deformed, self.patches[name])
        return np.asarray(full, dtype=np.float32)

    def _patch(self, full: npt.NDArray[np.float32], deformed: FArray, tris: IArray) -> None:
        """Overwrite the map with the exact inverse affine inside the given triangles."""
        dst = deformed[tris]  # (T, 3, 2)
        src = self.rest[tris]
        ones = np.ones((len(tris), 3, 1))
        a = np.concatenate([dst, ones], axis=2)
        det = np.linalg.det(a)
        # Skip triangles squashed below MIN_PATCH_AREA or to under 1/MAX_GAIN of their rest
        # size in some direction: their inverse magnifies, so a pixel on their edge would
        # sample far away. They are at most a pixel or two wide, and overlays cover them.
        ok = np.abs(det) >= 2 * MIN_PATCH_AREA
        if not ok.any():
            return
        m = np.zeros((len(tris), 3, 2))
        m[ok] = np.linalg.solve(a[ok], src[ok])  # [x y 1] @ m = [sx sy]
        gain = np.linalg.norm(m[:, :2, :], ord=2, axis=(1, 2))
        ok &= gain <= MAX_GAIN
        if not ok.any():
            return
        dst, m = dst[ok], m[ok].astype(np.float32)
        lo = np.floor(dst.reshape(-1, 2).min(axis=0)).astype(int) - 1
        hi = np.ceil(dst.reshape(-1, 2).max(axis=0)).astype(int) + 2
        lo = np.maximum(lo, (self.x0, self.y0))
        hi = np.minimum(hi, (self.x1, self.y1))
        if (hi <= lo).any():
            return
        ids = np.full((hi[1] - lo[1], hi[0] - lo[0]), -1, dtype=np.int32)
        local = np.round((dst - lo) * 16).astype(np.int32)
        for t in range(len(local)):
            cv2.fillConvexPoly(ids, local[t], t, cv2.LINE_8, 4)
        ys, xs = np.nonzero(ids >= 0)
        if len(ys) == 0:
            return
        mt = m[ids[ys, xs]]
        px = (xs + lo[0]).astype(np.float32)
        py = (ys + lo[1]).astype(np.float32)
        oy, ox = ys + lo[1] - self.y0, xs + lo[0] - self.x0
        full[oy, ox, 0] = px * mt[:, 0, 0] + py * mt[:, 1, 0] + mt[:, 2, 0]
        full[oy, ox, 1] = px * mt[:, 0, 1] + py * mt[:, 1, 1] + mt[:, 2, 1]

    def warp(self, deformed: FArray, patch_names: tuple[str, ...] = ()) -> RGB:
        """A new frame: the still with the mesh moved to ``deformed``."""
        frame = self.still.copy()
        if self.roi_w <= 0 or self.roi_h <= 0:
            return frame
        if float(np.abs(deformed - self.rest)[self.moving].max(initial=0.0)) < 0.02:
            return frame
        smap = self.source_map(deformed, patch_names)
        # Fixed-point maps (1/32 pixel) make the remap itself about 3x faster.
        m1, m2 = cv2.convertMaps(smap, None, cv2.CV_16SC2)  # type: ignore[call-overload]
        frame[self.y0 : self.y1, self.x0 : self.x1] = cv2.remap(
            self.still, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return frame
