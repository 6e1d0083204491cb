"""The animator: combines the mouth pose, blinks and head motion into each frame's parameters.

States: ``idle`` (nobody talks), ``listening`` (the user speaks: nods, gaze held on the user)
and ``speaking`` (the avatar's audio plays: visemes, speech-driven head emphasis). When speech
stops, cleanly or cut off by :meth:`FaceAnimator.clear`, the mouth is back at rest on the second
frame.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

from characters.face.motion import BlinkSchedule, HeadLimits, HeadMotion
from characters.face.params import FaceParams
from characters.face.visemes import MOUTH_FIELDS

RELEASE = (0.4, 0.0)
"""Mouth weight on the frames after speech stops: rest is reached on the second frame."""


class AnimatorState(StrEnum):
    """What the face is doing."""

    IDLE = "idle"
    LISTENING = "listening"
    SPEAKING = "speaking"


class FaceAnimator:
    """Turns time, mouth pose and loudness into :class:`FaceParams`, deterministically per seed."""

    def __init__(self, seed: int = 0, limits: HeadLimits | None = None) -> None:
        self.blinks = BlinkSchedule(seed)
        self.motion = HeadMotion(seed + 1, limits)
        self.listening = False
        self.state = AnimatorState.IDLE
        self._last_mouth = np.zeros(len(MOUTH_FIELDS))
        self._quiet = len(RELEASE)
        self._energy = 0.0
        self._engaged = 0.0

    def clear(self) -> None:
        """Speech was cut off: release the mouth (rest within two frames)."""
        self._quiet = 0

    def params(
        self,
        t: float,
        mouth: npt.NDArray[np.float64] | None,
        loudness: float = 0.0,
        emphasis: float = 0.0,
    ) -> FaceParams:
        """Parameters for the frame at ``t`` seconds.

        Args:
            t: time on the renderer's clock.
            mouth: the mouth pose (:data:`~characters.face.visemes.MOUTH_FIELDS` order) while the
                avatar's audio plays in this frame, else None.
            loudness: the audio's loudness in this frame (0–1).
            emphasis: a stressed syllable's nod in this frame (0–1, from the phoneme timings).
        """
        if mouth is None:
            weight = RELEASE[self._quiet] if self._quiet < len(RELEASE) else 0.0
            self._quiet += 1
            pose = self._last_mouth * weight
            self.state = AnimatorState.LISTENING if self.listening else AnimatorState.IDLE
            loudness = 0.0
        else:
            pose = np.clip(mouth, 0.0, 1.0)
            self._last_mouth = pose
            self._quiet = 0
            self.state = AnimatorState.SPEAKING
        k = 0.3 if loudness > self._energy else 0.08
        self._energy += k * (loudness - self._energy)
        # talking engages the head's turns over about half a second, and lets go over two
        talking = 1.0 if mouth is not None else 0.0
        self._engaged += (0.08 if talking > self._engaged else 0.02) * (talking - self._engaged)
        if mouth is None:
            emphasis = 0.0
        head = self.motion.pose(
            t,
            self.listening and mouth is None,
            self._energy,
            self._engaged,
            emphasis * (0.5 + 0.5 * loudness),
        )
        blink = self.blinks.amount(t)
        open_, pucker, spread, press, lift, tongue = (float(v) for v in pose)
        return FaceParams(
            open=open_,
            pucker=pucker,
            spread=spread,
            press=press,
            upper_lift=lift,
            tongue=tongue,
            blink_left=blink,
            blink_right=blink,
            gaze_x=head.gaze_x,
            gaze_y=head.gaze_y,
            brow=head.brow,
            roll=head.roll,
            yaw=head.yaw,
            pitch=head.pitch,
            shift_x=head.shift_x,
            shift_y=head.shift_y,
        )
