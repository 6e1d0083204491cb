"""The avatar's face: analysed once from its reference image, animated and rendered per session.

Nothing here knows about HTTP or WebRTC. The pieces, in the order data flows:

* :func:`analyse` (``analysis``): find the face (mediapipe 0.10.21 face mesh) or take manual
  keypoints (``keypoints``, for cartoons), and return a JSON-serialisable dict: framing, mesh,
  regions, mouth and colour palette. Runs once per avatar; :func:`analyse_for_avatar` is the
  avatar-processing hook.
* :class:`WarpRenderer` (``renderer``): face parameters → RGB frame, by warping the framed
  reference image with a precomputed dense field plus exact lip/eye patches (``warp``), and
  painting the mouth interior and lash lines (``overlays``).
* :class:`FaceVideoGenerator` (``generator``): audio chunks with optional Piper phoneme timings
  in, frames with timestamps on the audio sample clock out; visemes (``visemes``), loudness
  (``envelope``), blinks and head motion (``motion``), combined by ``animator``.

mediapipe is only imported by analysis; rendering needs numpy, OpenCV, SciPy and Pillow.
"""

from characters.face.analysis import analyse, analyse_for_avatar
from characters.face.animator import AnimatorState, FaceAnimator
from characters.face.generator import (
    AudioChunk,
    FaceVideoGenerator,
    PhonemeTiming,
    VideoFrameOut,
    VideoGenerator,
)
from characters.face.keypoints import InvalidKeypoints
from characters.face.params import FaceParams
from characters.face.renderer import FrameRenderer, WarpRenderer
from characters.face.visemes import Viseme

__all__ = [
    "AnimatorState",
    "AudioChunk",
    "FaceAnimator",
    "FaceParams",
    "FaceVideoGenerator",
    "FrameRenderer",
    "InvalidKeypoints",
    "PhonemeTiming",
    "VideoFrameOut",
    "VideoGenerator",
    "Viseme",
    "WarpRenderer",
    "analyse",
    "analyse_for_avatar",
]
