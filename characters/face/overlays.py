"""What the warp cannot produce: the inside of an open mouth, and the lash line of a closed eye.

The mouth interior is painted into the deformed inner-lip polygon: a dark cavity, shaded darker
under the upper lip and towards the corners, a tongue for wide openings, and teeth. When the
photo's mouth is closed, the teeth are a soft upper band that follows the upper lip (and a
fainter lower band for wide openings). When the photo already shows the mouth open, its own
interior is cut at the darkest row into an upper (teeth) layer and a lower layer, and each layer
moves rigidly with its lip, so real teeth are never stretched.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from characters.face.params import FaceParams

FArray = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
RGB = npt.NDArray[np.uint8]


def _smooth(e0: float, e1: float, x: F32) -> F32:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return np.asarray(t * t * (3 - 2 * t), dtype=np.float32)


def _poly_mask(shape: tuple[int, int], poly: FArray, origin: tuple[int, int]) -> F32:
    mask = np.zeros(shape, np.uint8)
    pts = np.round((poly - origin) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, 4)
    return np.asarray(mask, dtype=np.float32) * np.float32(1 / 255)


def _chain_at(xs: F32, chain: FArray) -> F32:
    order = np.argsort(chain[:, 0])
    return np.asarray(np.interp(xs, chain[order, 0], chain[order, 1]), dtype=np.float32)


class _Layer:
    """A piece of the photo's own mouth interior that moves rigidly with one lip."""

    def __init__(self, still: RGB, mask: F32, origin: tuple[int, int], chain: FArray) -> None:
        self.pixels = still[
            origin[1] : origin[1] + mask.shape[0], origin[0] : origin[0] + mask.shape[1]
        ].astype(np.float32)
        self.mask = mask
        self.origin = origin
        self.chain = chain

    def transform(self, chain: FArray, roi_origin: tuple[int, int]) -> npt.NDArray[np.float64]:
        """Affine from this layer's pixels to ROI pixels, following the lip's chain."""
        a0, a1 = self.chain[0], self.chain[-1]
        b0, b1 = chain[0], chain[-1]
        ra = np.arctan2(*(a1 - a0)[::-1])
        rb = np.arctan2(*(b1 - b0)[::-1])
        sx = float(np.hypot(*(b1 - b0)) / max(np.hypot(*(a1 - a0)), 1e-6))
        ca, sa = np.cos(-ra), np.sin(-ra)
        cb, sb = np.cos(rb), np.sin(rb)
        ctr_a, ctr_b = self.chain.mean(axis=0), chain.mean(axis=0)
        to_local = np.array([[ca, -sa], [sa, ca]])
        from_local = np.array([[cb, -sb], [sb, cb]]) @ np.diag([sx, 1.0])
        lin = from_local @ to_local
        off = ctr_b - lin @ ctr_a
        m = np.hstack([lin, off[:, None]])
        # layer pixel (x, y) is at absolute (x + ox, y + oy); ROI pixel = absolute - roi_origin
        shift = np.array([self.origin[0], self.origin[1]])
        m[:, 2] = m[:, 2] + lin @ shift - np.array(roi_origin)
        return m


class MouthPainter:
    """Paints the mouth interior for one avatar (output pixels)."""

    def __init__(
        self,
        still: RGB,
        rest: FArray,
        regions: dict[str, tuple[int, ...]],
        palette: dict[str, list[int]],
        open_at_rest: bool,
    ) -> None:
        self.upper = list(regions["lipsUpperInner"])
        self.lower = list(regions["lipsLowerInner"])
        outer_up = regions["lipsUpperOuter"]
        self.mouth_width = float(np.hypot(*(rest[outer_up[-1]] - rest[outer_up[0]])))
        self.cavity = np.array(palette["cavity"], np.float32)
        self.teeth = np.array(palette["teeth"], np.float32)
        lip = np.array(palette["lip"], np.float32)
        self.tongue = np.clip(lip * np.array([0.62, 0.4, 0.42], np.float32) + 6, 0, 255)
        self.lip_shadow = lip * 0.45
        self.layers: tuple[_Layer, _Layer] | None = None
        if open_at_rest:
            self.layers = self._cut_layers(still, rest)

    def _polygon(self, pts: FArray) -> FArray:
        return np.vstack([pts[self.upper], pts[self.lower[::-1][1:-1]]])

    def _cut_layers(self, still: RGB, rest: FArray) -> tuple[_Layer, _Layer] | None:
        poly = self._polygon(rest)
        x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 2
        h, w = still.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            return None
        mask = _poly_mask((y1 - y0, x1 - x0), poly, (x0, y0))
        gray = still[y0:y1, x0:x1].astype(np.float32).mean(axis=2)
        inside_rows = (mask > 0.5).sum(axis=1)
        row_mean = np.where(
            inside_rows > 0, (gray * (mask > 0.5)).sum(axis=1) / np.maximum(inside_rows, 1), 1e9
        )
        # Cut at the darkest row between the teeth rows; with no dark gap inside the opening
        # (only one row of teeth shows), the whole interior follows the upper lip.
        rows_in = np.flatnonzero(inside_rows > 0)
        top, bottom = rows_in[0], rows_in[-1]
        lo_row = top + int(0.3 * (bottom - top))
        hi_row = top + int(0.8 * (bottom - top)) + 1
        split = bottom + 1
        if hi_row > lo_row:
            cand = lo_row + int(np.argmin(row_mean[lo_row:hi_row]))
            inside_mean = float((gray * (mask > 0.5)).sum() / max((mask > 0.5).sum(), 1))
            if row_mean[cand] < 0.7 * inside_mean:
                split = cand
        rows = np.arange(y1 - y0, dtype=np.float32)[:, None]
        soft_up = np.clip(split + 0.5 - rows, 0, 1)
        upper_mask = mask * soft_up
        lower_mask = mask * (1 - soft_up)
        return (
            _Layer(still, upper_mask, (x0, y0), rest[self.upper]),
            _Layer(still, lower_mask, (x0, y0), rest[self.lower]),
        )

    def paint(self, frame: RGB, pts: FArray, params: FaceParams) -> None:
        """Paint the interior into ``frame`` in place, for deformed vertices ``pts``."""
        poly = self._polygon(pts)
        xy = poly
        area = 0.5 * abs(
            float(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))
        )
        if area < 1.0:
            return
        h, w = frame.shape[:2]
        x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 3
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        rh, rw = y1 - y0, x1 - x0
        alpha = _poly_mask((rh, rw), poly, (x0, y0))
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        up = _chain_at(xs, pts[self.upper])[None, :]
        low = _chain_at(xs, pts[self.lower])[None, :]
        left, right = pts[self.upper[0], 0], pts[self.upper[-1], 0]
        centre, half = (left + right) / 2, max((right - left) / 2, 1.0)
        xn = ((xs - centre) / half)[None, :]
        gap = np.maximum(low - up, 1e-3)
        t = np.clip((ys - up) / gap, 0, 1)

        shade = (0.55 + 0.45 * _smooth(0.0, 0.8, t)) * (1 - 0.45 * np.clip(xn * xn, 0, 1))
        layer = self.cavity[None, None, :] * shade[..., None]
        opening = float(np.max(gap)) / self.mouth_width
        layer = self._tongue(layer, ys, low, xn, gap, opening)
        if self.layers is None:
            layer = self._teeth(layer, ys, up, low, xn, opening, params)
        else:
            layer = self._photo_layers(layer, pts, (x0, y0), (rh, rw))
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        a = alpha[..., None]
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + layer * a, 0, 255).astype(np.uint8)

    def _tongue(self, layer: F32, ys: F32, low: F32, xn: F32, gap: F32, opening: float) -> F32:
        """A soft mound rising from the lower lip, for wider openings."""
        tongue_a = float(np.clip((opening - 0.15) / 0.25, 0, 1)) * 0.75
        if tongue_a <= 0:
            return layer
        top = low - 0.3 * gap * (1 - 0.7 * xn * xn)
        tmask = _smooth(-1.5, 3.0, ys - top) * _smooth(0.0, 0.25, np.float32(0.95) - np.abs(xn))
        shade = 0.6 + 0.4 * _smooth(0.0, 8.0, ys - top)
        tongue = self.tongue[None, None, :] * shade[..., None]
        k = (tmask * tongue_a)[..., None]
        return np.asarray(layer * (1 - k) + tongue * k, dtype=np.float32)

    def _teeth(
        self,
        layer: F32,
        ys: F32,
        up: F32,
        low: F32,
        xn: F32,
        opening: float,
        params: FaceParams,
    ) -> F32:
        mw = self.mouth_width
        # lower teeth: a faint, shadowed edge above the lower lip for wide openings
        low_a = float(np.clip((opening - 0.3) / 0.2, 0, 1)) * 0.35
        if low_a > 0:
            th = 0.05 * mw * np.sqrt(np.clip(1 - (xn / 0.6) ** 2, 0, 1))
            band = _smooth(-0.8, 0.8, ys - (low - th)) * _smooth(-0.8, 0.8, low + 0.5 - ys)
            k = (band * low_a)[..., None]
            layer = layer * (1 - k) + (self.teeth * 0.72)[None, None, :] * k
        # upper teeth: a band under the upper lip, shadowed at the gum line and the corners
        th = (0.085 + 0.04 * params.upper_lift) * mw * np.sqrt(np.clip(1 - (xn / 0.8) ** 2, 0, 1))
        depth = np.clip((ys - up) / np.maximum(th, 1e-3), 0, 1)
        band = _smooth(-0.6, 0.6, ys - up) * _smooth(-0.7, 0.7, up + th - ys) * (th > 0.5)
        tone = (
            (0.72 + 0.28 * _smooth(0.0, 0.45, depth))
            * (1 - 0.06 * depth)
            * (1 - 0.4 * np.clip(xn * xn, 0, 1))
        )
        teeth = self.teeth[None, None, :] * (0.9 * tone)[..., None]
        k = (band * (0.88 - 0.5 * params.pucker))[..., None]
        return np.asarray(layer * (1 - k) + teeth * k, dtype=np.float32)

    def _photo_layers(
        self, layer: F32, pts: FArray, origin: tuple[int, int], shape: tuple[int, int]
    ) -> F32:
        assert self.layers is not None
        rh, rw = shape
        for lay, chain in zip(self.layers, (pts[self.upper], pts[self.lower]), strict=True):
            m = lay.transform(chain, origin)
            pix = cv2.warpAffine(lay.pixels, m, (rw, rh), flags=cv2.INTER_LINEAR)
            msk = cv2.warpAffine(lay.mask, m, (rw, rh), flags=cv2.INTER_LINEAR)[..., None]
            layer = layer * (1 - msk) + pix * msk
        return np.asarray(layer, dtype=np.float32)


class LashPainter:
    """Draws a soft lash line along a closing upper lid, hiding the seam where the lids meet."""

    def __init__(
        self, rest: FArray, regions: dict[str, tuple[int, ...]], palette: dict[str, list[int]]
    ) -> None:
        self.chains = {
            "left": list(regions["eyeLeftUpper"]),
            "right": list(regions["eyeRightUpper"]),
        }
        widths = [float(np.hypot(*(rest[c[-1]] - rest[c[0]]))) for c in self.chains.values()]
        self.thickness = max(1.0, 0.035 * float(np.mean(widths)))
        self.colour = np.array(palette["lash"], np.float32)

    def paint(self, frame: RGB, pts: FArray, params: FaceParams) -> None:
        """Draw the lash lines of eyes that are more than half closed."""
        for side, amount in (("left", params.blink_left), ("right", params.blink_right)):
            strength = float(np.clip((amount - 0.5) / 0.4, 0, 1)) * 0.75
            if strength <= 0:
                continue
            line = pts[self.chains[side]]
            pad = int(self.thickness) + 3
            x0, y0 = np.floor(line.min(axis=0)).astype(int) - pad
            x1, y1 = np.ceil(line.max(axis=0)).astype(int) + pad
            h, w = frame.shape[:2]
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 <= x0 or y1 <= y0:
                continue
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            pl = np.round((line - (x0, y0)) * 16).astype(np.int32)
            cv2.polylines(mask, [pl], False, 255, max(1, round(self.thickness)), cv2.LINE_AA, 4)
            mask = cv2.GaussianBlur(mask, (0, 0), 0.6)
            a = (mask.astype(np.float32) / 255.0 * strength)[..., None]
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            frame[y0:y1, x0:x1] = (roi * (1 - a) + self.colour * a).astype(np.uint8)
