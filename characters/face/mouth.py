"""The inside of an open mouth, painted into the deformed inner-lip polygon each frame.

Back to front: a dark cavity with depth (darkest at the back, lighter where the lips and cheeks
catch light, shadowed at the corners); the tongue, on the jaw, low for open vowels and its tip
raised to the upper teeth for L and TH (``FaceParams.tongue``); the lower teeth, which move with
the jaw; the upper teeth, fixed to the skull, so the upper lip slides over them as it lifts;
then the upper lip's shadow over the teeth and the wet inner rim of each lip, so the lips keep
their thickness as they part. The teeth are textures drawn once per avatar
(:mod:`characters.face.teeth`) in mouth coordinates and placed by two affines the renderer gives
each frame (skull and jaw, both following the head's 3D turn). Colours come from the face: the
lips give the cavity, tongue and gums; the skin's brightness gives the teeth; the cheeks give
the light's side.

When the photo already shows the mouth open (teeth visible at rest), its own interior is used
instead of drawn teeth: cut at the darkest row into an upper and a lower layer, each moving
rigidly with its lip, so real teeth are never stretched. A drawn face (manual keypoints) gets
the same parts in flat colours.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from characters.face.params import FaceParams
from characters.face.teeth import (
    EDGE_BELOW_SEAM,
    OVERBITE,
    Dentition,
    Sprite,
    lower_row,
    upper_row,
)

FArray = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
RGB = npt.NDArray[np.uint8]

JAW_TEETH = 0.85
"""How much of the lower lip's drop the lower teeth follow (the lip is pulled down a little
further than the jaw, so the lower teeth show on wide vowels)."""


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


def _compose(m: FArray, inner: FArray) -> FArray:
    """The affine ``m ∘ inner`` (both 2×3)."""
    return np.hstack([m[:, :2] @ inner[:, :2], (m[:, :2] @ inner[:, 2] + m[:, 2])[:, None]])


def _light_side(still: RGB, rest: FArray, iod: float) -> float:
    """−1..1: which side of the face the light comes from (image right is positive)."""
    h, w = still.shape[:2]
    levels = []
    for idx in (50, 280):  # the cheeks
        x, y = np.round(rest[idx]).astype(int)
        r = max(2, int(0.12 * iod))
        patch = still[max(y - r, 0) : min(y + r, h), max(x - r, 0) : min(x + r, w)]
        levels.append(float(patch.mean()) if patch.size else 128.0)
    left, right = levels
    return float(np.clip(2.5 * (right - left) / max(right + left, 1.0), -0.6, 0.6))


def _soften(sprite: Sprite, sigma: float) -> Sprite:
    """The texture blurred by ``sigma`` px (premultiplied, so edges fade rather than darken)."""
    if sigma < 0.3:
        return sprite
    rgba = sprite.rgba
    prem = np.dstack([rgba[..., :3] * rgba[..., 3:4], rgba[..., 3]])
    prem = cv2.GaussianBlur(prem, (0, 0), sigma)
    out = prem.copy()
    out[..., :3] = prem[..., :3] / np.maximum(prem[..., 3:4], np.float32(1e-4))
    return Sprite(np.ascontiguousarray(out, dtype=np.float32), sprite.u0, sprite.v0, sprite.scale)


class _Layer:
    """A piece of the photo's own mouth interior that moves rigidly with one lip."""

    def __init__(self, still: RGB, mask: F32, origin: tuple[int, int], chain: FArray) -> None:
        self.pixels = still[
            origin[1] : origin[1] + mask.shape[0], origin[0] : origin[0] + mask.shape[1]
        ].astype(np.float32)
        self.mask = mask
        self.origin = origin
        self.chain = chain

    def transform(self, chain: FArray, roi_origin: tuple[int, int]) -> FArray:
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


def _cut_layers(
    still: RGB, rest: FArray, upper: list[int], lower: list[int]
) -> tuple[_Layer, _Layer] | None:
    """The photo's open mouth split at its darkest row into what follows each lip."""
    poly = np.vstack([rest[upper], rest[lower[::-1][1:-1]]])
    # the upper layer reaches a little above the lip line: when the lip lifts, what shows
    # under it is the lip's own inner surface rather than a gap
    lift = 0.08 * float(np.hypot(*(rest[upper[-1]] - rest[upper[0]])))
    raised = np.vstack([rest[upper] - [0.0, lift], rest[lower[::-1][1:-1]]])
    x0, y0 = np.floor(raised.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 2
    h, w = still.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    mask = _poly_mask((y1 - y0, x1 - x0), poly, (x0, y0))
    upper_mask = _poly_mask((y1 - y0, x1 - x0), raised, (x0, y0))
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
    return (
        _Layer(still, upper_mask * soft_up, (x0, y0), rest[upper]),
        _Layer(still, mask * (1 - soft_up), (x0, y0), rest[lower]),
    )


class MouthPainter:
    """Paints the mouth interior for one avatar (output pixels).

    Args:
        still: the framed reference image.
        rest: the rest mesh (output pixels).
        regions: the rig's named vertex chains.
        palette: the analysis palette (``lip``, ``skin``, ``teeth``, ``cavity``, ``lash``).
        open_at_rest: the photo shows the mouth open (its own interior is reused).
        half_width: half the mouth's width (px); mouth coordinates are in these units.
        seam_v: the rest lip seam's ``v`` in the middle of the mouth.
        floor_v: where the top of the resting tongue is (``v``, jaw closed); by default just
            behind the lower teeth's edge.
        lower_edge_v: where the lower teeth's biting edge is with the jaw closed; by default
            behind the upper teeth (an open photo mouth puts them at its lower lip).
        softness: blur (px) for the drawn teeth, so they are no sharper than the photo (an
            enlarged photo is soft).
        iod: the inter-eye distance (px).
        flat: draw in flat colours (a stylised, drawn face).
    """

    def __init__(
        self,
        still: RGB,
        rest: FArray,
        regions: dict[str, tuple[int, ...]],
        palette: dict[str, list[int]],
        open_at_rest: bool,
        *,
        half_width: float,
        seam_v: float,
        iod: float,
        floor_v: float | None = None,
        lower_edge_v: float | None = None,
        softness: float = 0.0,
        flat: bool = False,
    ) -> None:
        self.upper = list(regions["lipsUpperInner"])
        self.lower = list(regions["lipsLowerInner"])
        self.half_width = half_width
        self.seam_v = seam_v
        self.floor_v = seam_v + EDGE_BELOW_SEAM - OVERBITE - 0.12 if floor_v is None else floor_v
        self.flat = flat
        lip = np.array(palette["lip"], np.float32)
        skin = np.array(palette["skin"], np.float32)
        self.cavity = np.array(palette["cavity"], np.float32)
        self.lip_inner = lip * np.float32(0.8)
        if flat:
            self.tongue = np.clip(lip * np.array([1.0, 0.75, 0.8], np.float32) + 30, 0, 255)
        else:
            self.tongue = np.clip(lip * np.array([0.85, 0.52, 0.56], np.float32) + 18, 0, 255)
        cast = 0.88 + 0.12 * skin / max(float(skin.mean()), 1.0)
        teeth = np.array(palette["teeth"], np.float32) * cast * np.float32(0.88)
        if flat:
            teeth = np.array([246, 244, 238], np.float32)
        self.dentition = Dentition(
            teeth=np.clip(teeth, 0, 255),
            gum=np.clip(lip * np.array([0.95, 0.62, 0.66], np.float32) + 28, 0, 255),
            backdrop=self.cavity * np.float32(0.45),
            outline=np.array(palette["lash"], np.float32),
            light_x=_light_side(still, rest, iod),
            flat=flat,
            seed=int(np.round(rest[:, :2]).astype(np.int64).sum()) % 100_003,
        )
        rows = (
            upper_row(self.dentition, seam_v, half_width),
            lower_row(
                self.dentition,
                seam_v if lower_edge_v is None else lower_edge_v - EDGE_BELOW_SEAM + OVERBITE,
                half_width,
            ),
        )
        self.teeth_rows: tuple[Sprite, Sprite] = (
            _soften(rows[0], softness),
            _soften(rows[1], softness),
        )
        self.layers: tuple[_Layer, _Layer] | None = None
        if open_at_rest:
            self.layers = _cut_layers(still, rest, self.upper, self.lower)

    def _polygon(self, pts: FArray) -> FArray:
        return np.vstack([pts[self.upper], pts[self.lower[::-1][1:-1]]])

    def paint(
        self, frame: RGB, pts: FArray, params: FaceParams, skull: FArray, jaw: FArray
    ) -> None:
        """Paint the interior into ``frame`` in place.

        Args:
            frame: the warped frame.
            pts: the deformed vertices (output px).
            params: this frame's parameters.
            skull: 2×3 affine from mouth coordinates to output px for what is fixed to the skull
                (the upper teeth).
            jaw: the same for what moves with the jaw (lower teeth, tongue).
        """
        poly = self._polygon(pts)
        area = 0.5 * abs(
            float(
                np.dot(poly[:, 0], np.roll(poly[:, 1], -1))
                - np.dot(poly[:, 1], np.roll(poly[:, 0], -1))
            )
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
        origin = np.array([[0.0, 0.0, -x0], [0.0, 0.0, -y0]])
        skull_roi = skull + origin
        jaw_roi = jaw + origin
        alpha = _poly_mask((rh, rw), poly, (x0, y0))
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        up = _chain_at(xs, pts[self.upper])[None, :]
        low = _chain_at(xs, pts[self.lower])[None, :]
        left, right = pts[self.upper[0], 0], pts[self.upper[-1], 0]
        centre, half = (left + right) / 2, max((right - left) / 2, 1.0)
        xn = ((xs - centre) / half)[None, :]
        gap = np.maximum(low - up, 1e-3)
        opening = float(np.max(gap)) / (2 * self.half_width)

        layer = self._cavity(up, low, ys, xn, gap)
        layer = self._tongue(layer, skull_roi, jaw_roi, (rh, rw), params.tongue)
        if self.layers is None:
            for row, m in zip(self.teeth_rows[::-1], (jaw_roi, skull_roi), strict=True):
                layer = self._place(layer, row, m, (rh, rw))
        else:
            layer = self._photo_layers(layer, pts, (x0, y0), (rh, rw))
            # the photo shows the upper teeth only; the lower ones rise with the opening jaw
            layer = self._place(layer, self.teeth_rows[1], jaw_roi, (rh, rw))
        if not self.flat:
            layer = self._shade(layer, up, low, ys, xn, opening)
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        a = alpha[..., None]
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + layer * a, 0, 255).astype(np.uint8)

    def _cavity(self, up: F32, low: F32, ys: F32, xn: F32, gap: F32) -> F32:
        """The dark inside: lighter near the lips, darkest at the back and the corners."""
        if self.flat:
            return np.broadcast_to(self.cavity, (*np.broadcast(ys, xn).shape, 3)).astype(np.float32)
        near = np.maximum(
            np.exp(-np.maximum(ys - up, 0) / (0.12 * gap + 1)),
            np.exp(-np.maximum(low - ys, 0) / (0.2 * gap + 1)),
        )
        shade = (0.42 + 0.5 * near) * (1 - 0.5 * np.clip(xn * xn, 0, 1))
        return np.asarray(self.cavity[None, None, :] * shade[..., None], dtype=np.float32)

    def _uv(self, inv: FArray, shape: tuple[int, int]) -> tuple[F32, F32]:
        """Mouth coordinates of each ROI pixel, given the affine from ROI px to them."""
        rh, rw = shape
        xs = np.arange(rw, dtype=np.float32)[None, :]
        ys = np.arange(rh, dtype=np.float32)[:, None]
        u = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
        v = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
        return u.astype(np.float32), v.astype(np.float32)

    def _tongue(
        self, layer: F32, skull: FArray, jaw: FArray, shape: tuple[int, int], tongue: float
    ) -> F32:
        """The tongue on the floor of the mouth; its tip rises to the upper teeth for L/TH."""
        tau = min(max(float(tongue), 0.0), 1.0)
        to_jaw = np.asarray(cv2.invertAffineTransform(jaw), dtype=np.float64)
        u, v = self._uv(to_jaw, shape)
        drop = float(np.hypot(jaw[0, 1], jaw[1, 1]))  # px per unit, for anti-aliasing
        aa = 1.2 / max(drop, 1.0)
        # the upper teeth's edge (fixed to the skull) in the jaw's coordinates
        edge_px = skull @ np.array([0.0, self.seam_v + EDGE_BELOW_SEAM, 1.0])
        upper_edge = float(to_jaw[1] @ np.append(edge_px, 1.0))
        top_c = (1 - tau) * self.floor_v + tau * (upper_edge + 0.01)
        half = 0.62 - 0.12 * tau
        # a low mound, or (raised) a flat-topped tip between the teeth
        top = np.asarray(
            top_c + (1 - tau) * 0.14 * (u / half) ** 2 + tau * 0.3 * (u / 0.36) ** 4,
            dtype=np.float32,
        )
        mask = _smooth(-aa, aa, v - top) * _smooth(-aa, aa, np.float32(1.25 * half) - np.abs(u))
        if not mask.any():
            return layer
        colour: F32
        if self.flat:
            colour = np.broadcast_to(self.tongue, (*mask.shape, 3))
        else:
            lit = 0.62 + 0.3 * _smooth(0.0, 0.12, v - top) * (1 - 0.6 * np.minimum(u * u, 1))
            groove = 1 - 0.12 * np.exp(-((u / 0.06) ** 2)) * _smooth(0.02, 0.1, v - top)
            colour = self.tongue[None, None, :] * (lit * groove)[..., None]
        k = mask[..., None]
        return np.asarray(layer * (1 - k) + colour * k, dtype=np.float32)

    def _place(self, layer: F32, row: Sprite, m: FArray, shape: tuple[int, int]) -> F32:
        rh, rw = shape
        to_roi = _compose(m, row.to_uv())
        tex = cv2.warpAffine(
            row.rgba,
            to_roi,
            (rw, rh),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        a = tex[..., 3:4]
        return np.asarray(layer * (1 - a) + tex[..., :3] * a, dtype=np.float32)

    def _shade(self, layer: F32, up: F32, low: F32, ys: F32, xn: F32, opening: float) -> F32:
        """The upper lip's shadow, shadowed corners, and the inner rim of both lips."""
        hw = self.half_width
        below_up = np.maximum(ys - up, 0)
        shadow = (1 - 0.5 * np.exp(-below_up / (0.07 * hw))) * (1 - 0.35 * np.clip(xn, -1, 1) ** 4)
        layer = layer * shadow[..., None]
        rim = min(1.0, opening * 5.0)
        if rim > 0:
            # (a photo's own open mouth brings its lower lip's inside with its lower layer)
            lower_rim = (1 - _smooth(0.0, 0.04 * hw * rim + 0.5, low - ys)) * 0.8
            if self.layers is not None:
                lower_rim = lower_rim * 0.0
            upper_rim = (1 - _smooth(0.0, 0.025 * hw * rim + 0.5, ys - up)) * 0.7
            k = np.maximum(lower_rim, upper_rim)[..., None]
            layer = layer * (1 - k) + self.lip_inner * k
        return np.asarray(layer, dtype=np.float32)

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
