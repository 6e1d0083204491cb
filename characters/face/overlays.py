"""What the warp cannot produce at the eyes: the lash line of a closing lid.

(The other thing it cannot produce, the inside of an open mouth, is :mod:`characters.face.mouth`.)
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from characters.face.params import FaceParams

FArray = npt.NDArray[np.float64]
RGB = npt.NDArray[np.uint8]


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
