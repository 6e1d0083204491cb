"""What the warp cannot produce at the eyes: a closing lid's smooth skin and its lash line.

(The other thing it cannot produce, the inside of an open mouth, is :mod:`characters.face.mouth`.)
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from characters.face.deform import BLINK_MEET
from characters.face.params import FaceParams

FArray = npt.NDArray[np.float64]
RGB = npt.NDArray[np.uint8]


class LashPainter:
    """Draws a closing upper lid: on a photo, the lid's skin smoothed across (the warp makes it
    by stretching the lashes and crease above the eye down, which shows as streaks), then a soft
    lash line along it, hiding the seam where the lids meet."""

    def __init__(
        self,
        rest: FArray,
        regions: dict[str, tuple[int, ...]],
        palette: dict[str, list[int]],
        flat: bool = False,
    ) -> None:
        self.chains = {
            "left": list(regions["eyeLeftUpper"]),
            "right": list(regions["eyeRightUpper"]),
        }
        # how far each upper-lid point travels when the eye closes (the deformer's blink)
        self.travel = {}
        for side, lower in (("left", regions["eyeLeftLower"]), ("right", regions["eyeRightLower"])):
            up, low = rest[self.chains[side]], rest[list(lower)]
            order = np.argsort(low[:, 0])
            y_low = np.interp(up[:, 0], low[order, 0], low[order, 1])
            self.travel[side] = BLINK_MEET * np.maximum(y_low - up[:, 1], 0.0)
        widths = [float(np.hypot(*(rest[c[-1]] - rest[c[0]]))) for c in self.chains.values()]
        self.eye_width = float(np.mean(widths))
        self.thickness = max(1.0, 0.035 * self.eye_width)
        self.colour = np.array(palette["lash"], np.float32)
        self.skin = np.array(palette["skin"], np.float32)
        self.flat = flat

    def _smooth_lid(self, frame: RGB, line: FArray, travel: FArray, amount: float) -> None:
        """Blur the lid's skin along the eye, from its edge to a little above where it opens."""
        k = float(np.clip((amount - 0.2) / 0.5, 0, 1))
        if k <= 0:
            return
        w = self.eye_width
        top = line.copy()
        top[:, 1] -= amount * travel + 0.12 * w
        poly = np.vstack([line, top[::-1]])
        pad = int(0.3 * w) + 2
        x0, y0 = np.floor(poly.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + pad
        h, fw = frame.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            return
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        blurred = cv2.GaussianBlur(roi, (0, 0), sigmaX=0.12 * w, sigmaY=0.02 * w + 0.3)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round((poly - (x0, y0)) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        # the skin just above the lid gives its colour (the blur alone carries the lashes' dark)
        above = np.zeros_like(mask)
        band = np.vstack([top, (top - [0.0, 0.08 * w])[::-1]])
        cv2.fillPoly(above, [np.round(band - (x0, y0)).astype(np.int32)], 1)
        # (the median: the brow may reach into the band)
        # the face's skin colour at the brightness found there (socket shadows and make-up
        # would make the lid grey)
        found = roi[above.astype(bool)]
        local = np.median(found, axis=0) if len(found) else np.median(blurred, axis=(0, 1))
        level = float(np.clip(local.mean() / max(float(self.skin.mean()), 1.0), 0.75, 1.2))
        skin = self.skin * level
        rows = np.arange(y1 - y0, dtype=np.float32)[:, None] + y0
        edge_y = float(line[:, 1].mean())
        toward_edge = np.clip(1 - (edge_y - rows) / max(0.15 * w, 1.0), 0, 1)[..., None]
        smooth = 0.15 * blurred + 0.85 * skin * (1 - 0.1 * toward_edge)
        mask = cv2.GaussianBlur(mask, (0, 0), 0.05 * w + 0.5)
        a = (mask.astype(np.float32) / 255.0 * 0.95 * k)[..., None]
        frame[y0:y1, x0:x1] = (roi * (1 - a) + smooth * a).astype(np.uint8)

    def paint(self, frame: RGB, pts: FArray, params: FaceParams) -> None:
        """Smooth the lids of closing eyes and draw the lash lines of eyes more than half shut."""
        for side, amount in (("left", params.blink_left), ("right", params.blink_right)):
            if not self.flat:
                self._smooth_lid(frame, pts[self.chains[side]], self.travel[side], amount)
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
