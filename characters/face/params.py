"""The per-frame face parameters: what the animator decides and the renderer draws."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np
import numpy.typing as npt

SHAPE_FIELDS = (
    "open",
    "pucker",
    "spread",
    "press",
    "upper_lift",
    "blink_left",
    "blink_right",
    "gaze_x",
    "gaze_y",
    "brow",
)
"""The parameters that are linear blend shapes (in this order); the rest is head pose."""


@dataclass(slots=True)
class FaceParams:
    """One frame's expression and head pose.

    Mouth: ``open`` (jaw and lips apart, 0–1), ``pucker`` (lips rounded and pushed forward),
    ``spread`` (corners pulled out, as in E/I), ``press`` (lips closed and pressed, M/B/P),
    ``upper_lift`` (upper lip raised to show the upper teeth, F/V), ``tongue`` (the tongue's tip
    raised to the upper teeth, L/TH; not a blend shape: the mouth painter draws it). Eyes: ``blink_left`` and
    ``blink_right`` (0 open, 1 closed; image sides), ``gaze_x``/``gaze_y`` (−1..1, right and
    down). ``brow`` raises the eyebrows. Head: ``roll``, ``yaw``, ``pitch`` in radians and
    ``shift_x``/``shift_y`` in inter-eye distances.
    """

    open: float = 0.0
    pucker: float = 0.0
    spread: float = 0.0
    press: float = 0.0
    upper_lift: float = 0.0
    blink_left: float = 0.0
    blink_right: float = 0.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    brow: float = 0.0
    tongue: float = 0.0
    roll: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def shape_vector(self) -> npt.NDArray[np.float64]:
        """The blend-shape weights, in :data:`SHAPE_FIELDS` order."""
        return np.array([getattr(self, name) for name in SHAPE_FIELDS], dtype=np.float64)

    def mouth_active(self) -> bool:
        """Whether any mouth shape is non-zero (the lips need the exact warp)."""
        return max(abs(self.open), self.pucker, self.spread, self.press, self.upper_lift) > 1e-3

    def eyes_active(self) -> bool:
        """Whether the eyes deform (blink or gaze)."""
        return max(self.blink_left, self.blink_right, abs(self.gaze_x), abs(self.gaze_y)) > 1e-3

    def copy(self) -> FaceParams:
        """An independent copy."""
        return FaceParams(*astuple(self))

    def scaled_mouth(self, k: float) -> FaceParams:
        """A copy with the mouth shapes multiplied by ``k`` (used to release to rest)."""
        out = self.copy()
        for name in ("open", "pucker", "spread", "press", "upper_lift", "tongue"):
            setattr(out, name, getattr(self, name) * k)
        return out


assert tuple(f.name for f in fields(FaceParams))[: len(SHAPE_FIELDS)] == SHAPE_FIELDS
