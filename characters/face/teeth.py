"""Teeth for a mouth whose photo shows none: two rows drawn once per avatar, as textures.

The rows are drawn in mouth coordinates (:class:`~characters.face.deform.MouthFrame`: ``u``
along the corner-to-corner line, ``v`` towards the chin, both in half mouth widths) and kept as
RGBA textures; each frame only places them (:mod:`characters.face.mouth`). Sizes follow a real
dentition seen from the front: the central incisors are the widest, and each tooth further round
the arch is narrower (foreshortened), shorter and darker. Each tooth is a separate shape with a
gap and rounded biting corners, shaded as a convex surface lit from the side the face is lit
from, a little yellower at the gum and translucent at the edge; the upper row has its gum line.
A stylised face (drawn, with manual keypoints) gets flat teeth instead: one colour per tooth and
outline-coloured gaps, the way cartoons draw them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
FArray = npt.NDArray[np.float64]

UPPER_EDGES = (0.0, 0.3, 0.52, 0.7, 0.84, 0.95, 1.05)
"""Where the upper teeth meet, in half mouth widths from the middle (incisors to premolars)."""
LOWER_EDGES = (0.0, 0.19, 0.4, 0.6, 0.78, 0.92, 1.03)
UPPER_LENGTH = 0.42
LOWER_LENGTH = 0.34
EDGE_BELOW_SEAM = 0.06
"""The upper biting edge's depth below the rest lip seam (hidden while the lips touch)."""
OVERBITE = 0.1
"""How far the lower biting edge sits above the upper one when the jaw is closed (behind it)."""
SMILE_ARC = 0.05
"""How much the biting edge rises from the middle to the mouth corners."""
SUPERSAMPLE = 3


@dataclass(frozen=True, slots=True)
class Sprite:
    """An RGBA texture (colour 0–255, alpha 0–1) in mouth coordinates.

    Pixel (x, y) is at ``u = u0 + x / scale``, ``v = v0 + y / scale``.
    """

    rgba: F32
    u0: float
    v0: float
    scale: float

    def to_uv(self) -> FArray:
        """The 2×3 affine from texture pixels to mouth coordinates."""
        k = 1.0 / self.scale
        return np.array([[k, 0.0, self.u0], [0.0, k, self.v0]])


@dataclass(frozen=True, slots=True)
class Dentition:
    """Colours and light for one avatar's teeth."""

    teeth: F32
    gum: F32
    backdrop: F32
    outline: F32
    light_x: float
    flat: bool
    seed: int = 0
    """Seeds each tooth's small differences (edge, length, shade): the same for one avatar."""


def _smooth(e0: float | FArray, e1: float | FArray, x: npt.NDArray[Any]) -> FArray:
    t = np.clip((x - e0) / (np.asarray(e1) - e0), 0.0, 1.0)
    return np.asarray(t * t * (3 - 2 * t))


def _row(
    d: Dentition,
    edges: tuple[float, ...],
    length: float,
    edge_v: float,
    upper: bool,
    scale: float,
) -> Sprite:
    """One row of teeth: ``edge_v`` is the biting edge's v in the middle."""
    ss = scale * SUPERSAMPLE
    u0, u1 = -edges[-1] - 0.05, edges[-1] + 0.05
    sign = 1.0 if upper else -1.0  # upper teeth hang down from the gum; lower ones stand up
    root_v = edge_v - sign * (length + 0.22)
    v0, v1 = (root_v, edge_v + 0.04) if upper else (edge_v - 0.04, root_v)
    w = max(int(np.ceil((u1 - u0) * ss)), 4)
    h = max(int(np.ceil((v1 - v0) * ss)), 4)
    u = (u0 + (np.arange(w) + 0.5) / ss)[None, :]
    v = (v0 + (np.arange(h) + 0.5) / ss)[:, None]
    au = np.abs(u)
    aa = 1.0 / ss  # one (supersampled) pixel of anti-aliasing
    edge = edge_v - sign * SMILE_ARC * np.minimum(au, 1.0) ** 2
    colour = np.zeros((h, w, 3))
    teeth_mask = np.zeros((h, w))
    gap = 0.014 if not d.flat else 0.02
    rng = np.random.default_rng(d.seed * 2 + (0 if upper else 1))
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        k = a / edges[-1]  # 0 in the middle, ~1 at the back
        half = (b - a) / 2
        centre = (a + b) / 2
        length_k = length * (1.0 - 0.18 * k - (0.06 if 0 < a < 0.4 else 0.0))
        tooth_edge = edge - sign * (0.02 if 0.25 < a < 0.4 else 0.0)  # laterals a bit shorter
        for side in (-1.0, 1.0):
            # no two teeth alike: a little longer or shorter, a shade lighter or darker
            rough = 0.0 if d.flat else 1.0
            nudge = rough * float(np.clip(rng.normal(0, 0.008), -0.015, 0.015))
            bright = 1.0 + rough * float(np.clip(rng.normal(0, 0.035), -0.07, 0.07))
            du = np.abs(u - side * centre)
            # rounded biting corners: the edge recedes near the tooth's sides
            r = 0.45 * half
            over = np.clip((du - (half - r)) / r, 0.0, 1.0)
            corner = r * (1 - np.sqrt(np.clip(1 - over**2, 0.0, 1.0)))
            if 0.5 < a < 0.75:  # canine: a pointed cusp
                corner = corner + 0.25 * du
            biting = tooth_edge + sign * nudge - sign * corner
            top = tooth_edge - sign * length_k
            crown_top = top + sign * 0.06 * (du / half) ** 2  # the gum dips between teeth
            # teeth touch near the gum; the gaps open towards the biting edge
            near_edge = _smooth(0.14, 0.0, sign * (tooth_edge - v))
            g = gap * (0.3 + 0.7 * near_edge)
            horiz = _smooth(0.0, aa, half - g - du)
            vert = _smooth(-aa, aa, sign * (biting - v)) * _smooth(-aa, aa, sign * (v - crown_top))
            m = horiz * vert
            if d.flat:
                shade = np.ones_like(m)
            else:
                convex = 0.86 + 0.14 * np.cos(0.5 * np.pi * np.clip(du / half, 0, 1))
                arch = 1.0 - 0.55 * min(k + 0.1, 1.0) ** 1.2
                lit = 1.0 + 0.16 * d.light_x * side * min(centre, 1.0)
                shade = convex * arch * lit * bright
            tint = np.ones((h, w, 3))
            if not d.flat:
                depth = np.clip(sign * (v - top) / max(length_k, 1e-3), 0.0, 1.0)
                gumward = 1 - _smooth(0.0, 0.35, depth)
                tint = tint * (1 - 0.1 * gumward[..., None] * np.array([0.0, 0.3, 1.0]))
                tip = _smooth(0.82, 1.0, depth)[..., None]
                tint = tint * (1 - tip * 0.22 * np.array([1.0, 0.8, 0.45]))
            colour += (m * shade)[..., None] * d.teeth * tint
            teeth_mask += m
    teeth_mask = np.clip(teeth_mask, 0.0, 1.0)
    colour = colour / np.maximum(teeth_mask, 1e-6)[..., None]
    # between and behind the teeth: the dark of the mouth (or the drawing's outline colour)
    behind = _smooth(-aa, aa, sign * (edge + sign * 0.01 - v)) * (au < edges[-1])
    back = d.outline if d.flat else d.backdrop
    alpha = np.maximum(teeth_mask, behind * (1.0 if d.flat else 0.85))
    colour = colour * teeth_mask[..., None] + back * ((1 - teeth_mask) * behind)[..., None]
    colour = colour / np.maximum(teeth_mask + (1 - teeth_mask) * behind, 1e-6)[..., None]
    if upper and not d.flat:
        # gum above the crowns (seen when the upper lip lifts)
        gum_v = edge - UPPER_LENGTH * 0.94
        gum = _smooth(-aa, aa, gum_v - v) * (1 - teeth_mask) * (au < edges[-1])
        shade = (0.75 + 0.25 * _smooth(gum_v - 0.2, gum_v, v)) * (1 - 0.35 * np.minimum(au, 1))
        colour = colour * (1 - gum)[..., None] + (d.gum * shade[..., None]) * gum[..., None]
        alpha = np.maximum(alpha, gum)
    # area-filter the supersampled texture with premultiplied alpha, then un-premultiply
    prem = np.dstack([colour * alpha[..., None], alpha]).astype(np.float32)
    size = (max(w // SUPERSAMPLE, 2), max(h // SUPERSAMPLE, 2))
    small = np.asarray(cv2.resize(prem, size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    small[..., :3] /= np.maximum(small[..., 3:4], np.float32(1e-4))
    return Sprite(np.ascontiguousarray(small, dtype=np.float32), u0, v0, scale)


def upper_row(d: Dentition, seam_v: float, scale: float) -> Sprite:
    """The upper teeth (fixed to the skull), ``scale`` texture pixels per half mouth width."""
    return _row(d, UPPER_EDGES, UPPER_LENGTH, seam_v + EDGE_BELOW_SEAM, True, scale)


def lower_row(d: Dentition, seam_v: float, scale: float) -> Sprite:
    """The lower teeth with the jaw closed (they move with the jaw)."""
    edge = seam_v + EDGE_BELOW_SEAM - OVERBITE
    return _row(d, LOWER_EDGES, LOWER_LENGTH, edge, False, scale)
