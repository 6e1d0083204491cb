"""Loudness from the audio itself: scales viseme openings, and drives the mouth on its own when
the voice comes without phoneme timings.

Loudness is the RMS of a 40 ms Hann window in dB, relative to a running reference that follows
the voice's peaks (it rises at once and decays slowly), mapped to 0–1 over a 24 dB range.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from characters.face.visemes import MOUTH_FIELDS

WINDOW_S = 0.04
RANGE_DB = 24.0
FLOOR_DB = -60.0
DECAY_DB_PER_S = 3.0
INITIAL_REFERENCE_DB = -18.0


def rms_db(samples: npt.NDArray[np.float32]) -> float:
    """Hann-weighted RMS of float samples (full scale 1.0) in dBFS."""
    if len(samples) == 0:
        return FLOOR_DB
    w = np.hanning(len(samples) + 2)[1:-1].astype(np.float32)
    power = float(np.sum((samples * w) ** 2) / max(float(np.sum(w * w)), 1e-12))
    return max(FLOOR_DB, 10 * math.log10(power + 1e-12))


class LoudnessMeter:
    """Turns audio windows into a 0–1 loudness against a running peak reference."""

    def __init__(self) -> None:
        self.reference_db = INITIAL_REFERENCE_DB

    def reset(self) -> None:
        """Forget the reference level (a new voice or a long pause)."""
        self.reference_db = INITIAL_REFERENCE_DB

    def loudness(self, samples: npt.NDArray[np.float32], dt: float) -> float:
        """Loudness of ``samples``; ``dt`` is the time since the previous call (seconds)."""
        db = rms_db(samples)
        self.reference_db = max(db, self.reference_db - DECAY_DB_PER_S * dt, -40.0)
        x = (db - (self.reference_db - RANGE_DB)) / RANGE_DB
        return float(min(max(x, 0.0), 1.0) ** 1.5)


def pose_from_loudness(loudness: float) -> npt.NDArray[np.float64]:
    """A mouth pose (:data:`~characters.face.visemes.MOUTH_FIELDS` order) from loudness alone."""
    pose = np.zeros(len(MOUTH_FIELDS))
    pose[0] = 0.75 * loudness
    pose[2] = 0.2 * loudness
    pose[4] = 0.1 * loudness
    return pose
