"""From face parameters to moved mesh vertices: linear blend shapes, then head pose.

Each blend shape is a per-vertex displacement field built once per session from the rig's
geometry, in a mouth frame (u along the corner-to-corner line, v towards the chin, in half mouth
widths) or an eye frame. The fields are smooth (smoothstep and Gaussian fall-offs), so the skin
around the mouth and eyes stretches instead of tearing; only the lip seam and the closing lids
are discontinuous, and the warp handles those exactly. Head pose is a roll about the neck and
a 3D turn (yaw, pitch) of the depth-carrying mesh, faded out through the rings around the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from characters.face.params import SHAPE_FIELDS, FaceParams
from characters.face.topology import N_LANDMARKS

FArray = npt.NDArray[np.float64]
IArray = npt.NDArray[np.int32]

RING_HEAD_WEIGHTS = (1.0, 0.8, 0.35, 0.0)
RING_JAW_WEIGHTS = (0.3, 0.06, 0.0, 0.0)
OPEN_FRACTION = 0.5
"""Inner-lip gap at ``open = 1`` as a share of the mouth width."""
HEAD_CENTRE_DEPTH = 0.5
"""How far behind the face (inter-eye distances) the head turns about: the depth of the centre
of yaw and pitch, measured from the face's outline."""
BLINK_MEET = 0.72
"""Where the lids meet when closed, from the upper lid (0) to the lower lid (1)."""


def _smoothstep(e0: float, e1: float, x: FArray) -> FArray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return np.asarray(t * t * (3 - 2 * t))


def _interp_chain(s: FArray, chain_s: FArray, chain_v: FArray) -> FArray:
    order = np.argsort(chain_s)
    return np.asarray(np.interp(s, chain_s[order], chain_v[order]))


def _inside(poly: FArray, pts: FArray) -> npt.NDArray[np.bool_]:
    x, y = pts[:, 0], pts[:, 1]
    inside = np.zeros(len(pts), dtype=bool)
    n = len(poly)
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        if y1 == y2:
            continue
        cross = (y1 > y) != (y2 > y)
        xs = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= cross & (x < xs)
    return inside


@dataclass(frozen=True, slots=True)
class MouthFrame:
    """Mouth coordinates: centre, unit axes (x along the corners, y down), half-width in px."""

    centre: FArray
    ex: FArray
    ey: FArray
    half_width: float

    def uv(self, pts: FArray) -> tuple[FArray, FArray]:
        """Coordinates of (N, 2) points in half mouth widths."""
        d = pts - self.centre
        return d @ self.ex / self.half_width, d @ self.ey / self.half_width


class Deformer:
    """Turns :class:`FaceParams` into deformed vertex positions for one rig in output pixels."""

    def __init__(
        self,
        vertices: FArray,
        triangles: IArray,
        regions: dict[str, tuple[int, ...]],
        rings: tuple[int, ...],
        rest_gap: float,
    ) -> None:
        self.rest = np.ascontiguousarray(vertices[:, :2], dtype=np.float64)
        self.triangles = triangles
        self.regions = regions
        n = len(self.rest)
        self.face = np.zeros(n, dtype=bool)
        self.face[:N_LANDMARKS] = True
        ring_of = np.full(n, -1)
        ring_len = len(regions["faceOval"])
        for k, start in enumerate(rings):
            ring_of[start : start + ring_len] = k
        self.ring_of = ring_of
        self.mouth = self._mouth_frame()
        self.eye_width = float(
            np.mean(
                [
                    np.hypot(*(self.rest[r[-1]] - self.rest[r[0]]))
                    for r in (regions["eyeLeftUpper"], regions["eyeRightUpper"])
                ]
            )
        )
        left_iris, right_iris = regions["irisLeft"][0], regions["irisRight"][0]
        self.iod = float(np.hypot(*(self.rest[right_iris] - self.rest[left_iris])))
        bases = np.zeros((len(SHAPE_FIELDS), n, 2))
        mouth = self._mouth_bases(rest_gap)
        for name, field in mouth.items():
            bases[SHAPE_FIELDS.index(name)] = field
        for name, side in (("blink_left", "Left"), ("blink_right", "Right")):
            bases[SHAPE_FIELDS.index(name)] = self._blink(side)
        gx, gy = self._gaze()
        bases[SHAPE_FIELDS.index("gaze_x")] = gx
        bases[SHAPE_FIELDS.index("gaze_y")] = gy
        bases[SHAPE_FIELDS.index("brow")] = self._brow()
        self.bases = bases.reshape(len(SHAPE_FIELDS), -1).T.copy()  # (2N, K)
        self.head_weight = self._head_weights()
        self.depth = self._depth(vertices[:, 2])
        chin = self.rest[regions["chin"][0]]
        top = self.rest[regions["faceOval"][0]]
        self.pivot = chin + 0.25 * (chin - top)
        self.centre = self.rest[list(regions["faceOval"])].mean(axis=0)
        lower = regions["lipsLowerInner"][len(regions["lipsLowerInner"]) // 2]
        self.jaw_per_open = float(mouth["open"][lower] @ self.mouth.ey)
        self.moving = (np.abs(bases).sum(axis=(0, 2)) > 1e-6) | (self.head_weight > 0)

    # Geometry helpers

    def _mouth_frame(self) -> MouthFrame:
        r = self.regions
        left, right = self.rest[r["lipsUpperOuter"][0]], self.rest[r["lipsUpperOuter"][-1]]
        d = right - left
        half = float(np.hypot(*d)) / 2
        ex = d / (2 * half)
        return MouthFrame((left + right) / 2, ex, np.array([-ex[1], ex[0]]), half)

    def _chain_uv(self, name: str) -> tuple[FArray, FArray]:
        return self.mouth.uv(self.rest[list(self.regions[name])])

    # Blend shapes

    def _mouth_bases(self, rest_gap: float) -> dict[str, FArray]:
        mf = self.mouth
        u, v = mf.uv(self.rest)
        w = mf.half_width
        uu_i, vu_i = self._chain_uv("lipsUpperInner")
        ul_i, vl_i = self._chain_uv("lipsLowerInner")
        uu_o, vu_o = self._chain_uv("lipsUpperOuter")
        ul_o, vl_o = self._chain_uv("lipsLowerOuter")
        upper_inner = _interp_chain(u, uu_i, vu_i)
        lower_inner = _interp_chain(u, ul_i, vl_i)
        seam = (upper_inner + lower_inner) / 2
        upper_outer = _interp_chain(u, uu_o, vu_o)
        lower_outer = _interp_chain(u, ul_o, vl_o)
        gap = np.maximum(lower_inner - upper_inner, 0.0) * w  # px

        outer_poly = np.vstack(
            [
                self.rest[list(self.regions["lipsUpperOuter"])],
                self.rest[list(self.regions["lipsLowerOuter"][::-1])],
            ]
        )
        ring_idx = list(self.regions["lipsUpperOuter"]) + list(self.regions["lipsLowerOuter"])
        lip = _inside(outer_poly, self.rest) & self.face
        lip[ring_idx] = True
        lip[list(self.regions["lipsUpperInner"]) + list(self.regions["lipsLowerInner"])] = True
        upper = lip & (v <= seam)
        lower = lip & (v > seam)
        for name, is_upper in (
            ("lipsUpperInner", True),
            ("lipsUpperOuter", True),
            ("lipsLowerInner", False),
            ("lipsLowerOuter", False),
        ):
            chain = list(self.regions[name][1:-1])  # corners keep the geometric test
            upper[chain], lower[chain] = is_upper, not is_upper
        # depth into the lip: 0 on the inner contour, 1 on the outer contour
        t_up = np.clip((upper_inner - v) / np.maximum(upper_inner - upper_outer, 1e-6), 0, 1)
        t_low = np.clip((v - lower_inner) / np.maximum(lower_outer - lower_inner, 1e-6), 0, 1)
        au = np.abs(u)
        inner_corner = float(np.mean(np.abs(uu_i[[0, -1]])))
        prof = np.clip(1 - np.minimum(au / inner_corner, 1.0) ** 2, 0, 1) ** 0.6
        lateral = np.where(au <= 1, 1.0, 1 - _smoothstep(1.0, 2.6, au))
        jaw_lateral = 1 - _smoothstep(1.2, 2.8, au)
        ring_jaw = np.where(
            self.ring_of >= 0, np.take(RING_JAW_WEIGHTS, np.maximum(self.ring_of, 0)), 1.0
        )

        # open: jaw drop plus a small upper-lip lift; elliptical opening between the corners
        mouth_w = 2 * w
        amp = max(OPEN_FRACTION * mouth_w - rest_gap, 0.25 * mouth_w)
        d_low, d_up = 0.8 * amp, -0.2 * amp
        d_corner = 0.35 * d_low
        lip_low = d_corner + (d_low - d_corner) * prof
        lip_up = d_corner + (d_up - d_corner) * prof
        jaw_body = d_low * jaw_lateral
        blend = _smoothstep(0.0, 1.2, v - seam)
        below = (1 - blend) * np.where(au <= 1, lip_low, d_corner * lateral) + blend * jaw_body
        s_down = _smoothstep(-0.35, 0.15, v - seam)
        s_up = (1 - s_down) * np.exp(-((np.maximum(seam - v - 0.3, 0) / 0.45) ** 2))
        open_v = (below * s_down + d_up * prof * s_up) * ring_jaw
        open_v = np.where(self.face | (self.ring_of >= 0), open_v, 0.0)
        open_v[upper] = lip_up[upper]
        open_v[lower] = lip_low[lower]

        # pucker: pinch towards the mouth centre, pout the lips away from the seam
        pinch = np.where(au <= 1, u, np.sign(u) * (1 - _smoothstep(1.0, 2.2, au)))
        near = np.exp(-(((v - seam) / 1.3) ** 2)) * self.face
        pucker_u = -0.3 * w * pinch * near
        pucker_v = np.zeros_like(u)
        pucker_v[upper] = -0.1 * w * prof[upper] * (0.4 + 0.6 * t_up[upper])
        pucker_v[lower] = 0.1 * w * prof[lower] * (0.4 + 0.6 * t_low[lower])

        # spread: corners out and slightly up, lips a little thinner (most of their thickness kept)
        spread_u = 0.14 * w * pinch * near
        spread_v = -0.07 * w * np.abs(pinch) ** 2 * near
        spread_v[upper] += 0.015 * w * prof[upper] * t_up[upper]
        spread_v[lower] -= 0.015 * w * prof[lower] * t_low[lower]

        # press: close the rest gap and compress the lips a little
        press_v = np.zeros_like(u)
        squeeze = 0.05 * w * prof
        press_v[upper] = (1 - t_up[upper]) * gap[upper] / 2 + t_up[upper] * squeeze[upper]
        press_v[lower] = -((1 - t_low[lower]) * gap[lower] / 2 + t_low[lower] * squeeze[lower])

        # upper lift: raise the upper lip (shows the upper teeth), fading towards the nose
        lift = -0.17 * w * prof
        lift_v = lift * s_up * (1 - s_down) * self.face
        lift_v[upper] = lift[upper] * (1 - 0.1 * t_up[upper])

        def field(du: FArray, dv: FArray) -> FArray:
            return np.asarray(du[:, None] * mf.ex + dv[:, None] * mf.ey)

        zeros = np.zeros_like(u)
        return {
            "open": field(zeros, open_v),
            "pucker": field(pucker_u, pucker_v),
            "spread": field(spread_u, spread_v),
            "press": field(zeros, press_v),
            "upper_lift": field(zeros, lift_v),
        }

    def _eye_frame(self, side: str) -> tuple[FArray, FArray, FArray, float]:
        up = self.regions[f"eye{side}Upper"]
        a, b = self.rest[up[0]], self.rest[up[-1]]
        width = float(np.hypot(*(b - a)))
        ex = (b - a) / width
        return a, ex, np.array([-ex[1], ex[0]]), width

    def _eye_coords(self, side: str) -> tuple[FArray, FArray, FArray, FArray, FArray, float]:
        a, ex, ey, width = self._eye_frame(side)
        d = self.rest - a
        s, y = d @ ex / width, d @ ey
        up, low = self.regions[f"eye{side}Upper"], self.regions[f"eye{side}Lower"]
        y_up = _interp_chain(s, s[list(up)], y[list(up)])
        y_low = _interp_chain(s, s[list(low)], y[list(low)])
        return s, y, y_up, y_low, ey, width

    def _blink(self, side: str) -> FArray:
        s, y, y_up, y_low, ey, width = self._eye_coords(side)
        h = np.maximum(y_low - y_up, 0.0)
        meet = y_up + BLINK_MEET * h
        outside = np.maximum(np.maximum(-s, s - 1), 0)
        lateral = np.exp(-((outside / 0.2) ** 2))
        dy = np.zeros_like(s)
        inside = (y >= y_up - 1e-6) & (y <= y_low + 1e-6) & (s >= 0) & (s <= 1)
        above = y < y_up
        below = y > y_low
        # The lid skin above follows, fading out well before the brow.
        a, ex_e, ey_e, _ = self._eye_frame(side)
        brow = self.rest[list(self.regions[f"brow{side}"])]
        brow_s = (brow - a) @ ex_e / width
        brow_gap = (
            np.interp(
                brow_s,
                s[list(self.regions[f"eye{side}Upper"])],
                y_up[list(self.regions[f"eye{side}Upper"])],
            )
            - (brow - a) @ ey_e
        )
        sigma = max(1.0, min(0.3 * width, 0.45 * max(float(np.min(brow_gap)), 0.0)))
        dy[above] = (BLINK_MEET * h * np.exp(-(((y_up - y) / sigma) ** 2)) * lateral)[above]
        dy[below] = (
            -(1 - BLINK_MEET) * h * np.exp(-(((y - y_low) / (0.25 * width)) ** 2)) * lateral
        )[below]
        dy[inside] = (meet - y)[inside]
        dy[~self.face] = 0.0
        return np.asarray(dy[:, None] * ey)

    def _gaze(self) -> tuple[FArray, FArray]:
        gx = np.zeros_like(self.rest)
        gy = np.zeros_like(self.rest)
        for side in ("Left", "Right"):
            _, ex, ey, width = self._eye_frame(side)
            iris = self.regions[f"iris{side}"][0]
            gx[iris] = 0.16 * width * ex
            gy[iris] = 0.07 * width * ey
        return gx, gy

    def _brow(self) -> FArray:
        out = np.zeros_like(self.rest)
        for side in ("Left", "Right"):
            s, y, y_up, _, ey, width = self._eye_coords(side)
            brow = self.rest[list(self.regions[f"brow{side}"])]
            centre = brow.mean(axis=0)
            dist = np.hypot(*(self.rest - centre).T)
            lateral = np.exp(-((np.maximum(np.maximum(-s - 0.2, s - 1.2), 0) / 0.3) ** 2))
            above = _smoothstep(0.08 * width, 0.4 * width, y_up - y)
            w = np.exp(-((dist / (0.9 * width)) ** 2)) * above * lateral * self.face
            out += -0.1 * width * w[:, None] * ey
        return out

    def _head_weights(self) -> FArray:
        w = np.zeros(len(self.rest))
        w[self.face] = 1.0
        for k, hw in enumerate(RING_HEAD_WEIGHTS):
            w[self.ring_of == k] = hw
        return w

    def _depth(self, z: FArray) -> FArray:
        """Depth towards the camera (px), smoothed over mesh neighbours; zero off the face."""
        oval = list(self.regions["faceOval"])
        d = np.where(self.face, -(z - z[oval].mean()), 0.0)
        tris = self.triangles
        for _ in range(3):
            acc = np.zeros_like(d)
            cnt = np.zeros_like(d)
            for k in range(3):
                for j in range(3):
                    np.add.at(acc, tris[:, k], d[tris[:, j]])
                    np.add.at(cnt, tris[:, k], 1.0)
            d = np.where(self.face, acc / np.maximum(cnt, 1), 0.0)
        return np.asarray(d)

    # Per frame

    def jaw_drop(self, params: FaceParams) -> float:
        """How far (px, along the mouth's down axis) the jaw has dropped for ``params``."""
        return float(params.open) * self.jaw_per_open

    def pose(
        self, pts: FArray, depth: FArray | float, weight: FArray | float, p: FaceParams
    ) -> FArray:
        """Move points (output px) by the head pose: a rotation of the head in 3D.

        Each point has a depth towards the camera (px) and a weight (1 moves with the head, 0
        stays: the rings around the face fade from one to the other). Yaw and pitch rotate about
        a centre :data:`HEAD_CENTRE_DEPTH` inter-eye distances behind the face, so the nose turns
        further than the cheeks and the whole head shifts a little; the projection is
        orthographic. Roll turns about the neck.
        """
        out = np.array(pts, dtype=np.float64, copy=True)
        if p.roll:
            ang = p.roll * weight
            c, s = np.cos(ang), np.sin(ang)
            rel = out - self.pivot
            out = self.pivot + np.stack(
                [c * rel[:, 0] - s * rel[:, 1], s * rel[:, 0] + c * rel[:, 1]], axis=1
            )
        x = out[:, 0] - self.centre[0]
        y = out[:, 1] - self.centre[1]
        z = depth + HEAD_CENTRE_DEPTH * self.iod
        cy, sy = np.cos(p.yaw), np.sin(p.yaw)
        x2 = x * cy + z * sy
        z2 = z * cy - x * sy
        cp, sp = np.cos(p.pitch), np.sin(p.pitch)
        y2 = y * cp + z2 * sp
        out[:, 0] += (x2 - x + p.shift_x * self.iod) * weight
        out[:, 1] += (y2 - y + p.shift_y * self.iod) * weight
        return out

    def deform(self, params: FaceParams) -> FArray:
        """Deformed (N, 2) vertex positions in output pixels."""
        disp = (self.bases @ params.shape_vector()).reshape(-1, 2)
        return self.pose(self.rest + disp, self.depth, self.head_weight, params)
