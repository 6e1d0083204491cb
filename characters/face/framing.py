"""Output framing: which video size an avatar is rendered at and which part of the image shows.

The recommended avatar aspect is 1088×704 (landscape) or 704×1088 (portrait), picked from the
reference image. The crop keeps as much of the image as it can while making sure the face is
neither tiny (zooms in until the face is at least 30% of the frame height) nor cut off (pads with
a blurred extension of the image when the picture is tighter than the frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

Orientation = Literal["auto", "portrait", "landscape"]

PORTRAIT = (704, 1088)
LANDSCAPE = (1088, 704)
LANDSCAPE_MIN_ASPECT = 1.2
"""Images at least this much wider than tall get the landscape frame under ``auto``."""

MIN_FACE_FRACTION = 0.30
MAX_FACE_FRACTION = 0.60


@dataclass(frozen=True, slots=True)
class Framing:
    """Output size and the source-image rectangle (x, y, w, h, pixels) scaled onto it."""

    width: int
    height: int
    crop_x: float
    crop_y: float
    crop_w: float
    crop_h: float

    @property
    def scale(self) -> float:
        """Output pixels per source pixel."""
        return self.width / self.crop_w

    def matrix(self) -> npt.NDArray[np.float64]:
        """The 2×3 affine map from source pixels to output pixels."""
        s = self.scale
        return np.array([[s, 0.0, -s * self.crop_x], [0.0, s, -s * self.crop_y]])

    def to_output(self, pts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map (N, 2+) source points to output pixels; extra columns (depth) are scaled."""
        out = np.array(pts, dtype=np.float64, copy=True)
        s = self.scale
        out[:, 0] = (out[:, 0] - self.crop_x) * s
        out[:, 1] = (out[:, 1] - self.crop_y) * s
        out[:, 2:] *= s
        return out

    def apply(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Render the framed still (RGB uint8, height × width × 3) from the source image."""
        h, w = rgb.shape[:2]
        size = (self.width, self.height)
        flags = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_CUBIC
        out = cv2.warpAffine(rgb, self.matrix(), size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        inside = (
            self.crop_x >= 0
            and self.crop_y >= 0
            and self.crop_x + self.crop_w <= w
            and self.crop_y + self.crop_h <= h
        )
        if inside:
            return np.asarray(out, dtype=np.uint8)
        mask = cv2.warpAffine(
            np.full((h, w), 255, np.uint8), self.matrix(), size, flags=cv2.INTER_LINEAR
        )
        sigma = max(self.width, self.height) / 40
        blurred = cv2.GaussianBlur(out, (0, 0), sigma)
        alpha = cv2.GaussianBlur(mask, (0, 0), 2).astype(np.float32)[..., None] / 255.0
        mixed = out * alpha + blurred * (1.0 - alpha)
        return np.asarray(np.clip(mixed, 0, 255), dtype=np.uint8)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "width": self.width,
            "height": self.height,
            "crop": [round(v, 2) for v in (self.crop_x, self.crop_y, self.crop_w, self.crop_h)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Framing:
        """Inverse of :meth:`to_dict`."""
        x, y, w, h = (float(v) for v in data["crop"])
        return cls(int(data["width"]), int(data["height"]), x, y, w, h)


def frame_size(
    image_size: tuple[int, int], orientation: Orientation, size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The output (width, height): ``size`` if given, else the recommended size for the image."""
    if size is not None:
        return size
    if orientation == "portrait":
        return PORTRAIT
    if orientation == "landscape":
        return LANDSCAPE
    w, h = image_size
    return LANDSCAPE if w / h >= LANDSCAPE_MIN_ASPECT else PORTRAIT


def choose_framing(
    image_size: tuple[int, int],
    face_box: tuple[float, float, float, float],
    eyes_y: float,
    out_size: tuple[int, int],
) -> Framing:
    """The crop for a face box (x, y, w, h) whose eye line is at ``eyes_y`` (source pixels)."""
    img_w, img_h = image_size
    out_w, out_h = out_size
    aspect = out_w / out_h
    fx, fy, fw, fh = face_box
    # Largest crop of the output aspect that fits in the image.
    crop_h = min(float(img_h), img_w / aspect)
    crop_h = min(crop_h, fh / MIN_FACE_FRACTION)  # zoom in on small faces
    crop_h = max(crop_h, fh / MAX_FACE_FRACTION, (fw * 1.25) / aspect)  # never cut the face
    crop_w = crop_h * aspect
    eye_level = 0.40 if out_h >= out_w else 0.42
    x0 = fx + fw / 2 - crop_w / 2
    y0 = eyes_y - eye_level * crop_h
    x0 = _clamp(x0, crop_w, img_w)
    y0 = _clamp(y0, crop_h, img_h)
    return Framing(out_w, out_h, x0, y0, crop_w, crop_h)


def _clamp(start: float, length: float, limit: float) -> float:
    if length <= limit:
        return min(max(start, 0.0), limit - length)
    return min(max(start, limit - length), 0.0)
