"""Life when the mouth is still: blinks, idle head sway, gaze shifts and listening nods.

Everything is a pure function of time and a seed (events are drawn lazily, in order), so a
session is reproducible and nothing accumulates: the head always returns to its rest pose on
average and cannot drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BLINK_INTERVAL_S = (1.8, 6.5)
BLINK_MEAN_S = 3.6
BLINK_DURATION_S = (0.18, 0.28)
DOUBLE_BLINK_CHANCE = 0.12
NOD_INTERVAL_S = (2.8, 6.5)
NOD_DURATION_S = 1.1
GAZE_INTERVAL_S = (1.2, 4.0)


@dataclass(frozen=True, slots=True)
class Blink:
    """One blink: start time and duration (seconds)."""

    start: float
    duration: float

    def amount(self, t: float) -> float:
        """Lid closure at ``t``: a fast close, a short hold and a slower open."""
        x = (t - self.start) / self.duration
        if x <= 0 or x >= 1:
            return 0.0
        if x < 0.35:
            return math.sin(0.5 * math.pi * x / 0.35) ** 2
        if x < 0.45:
            return 1.0
        return 0.5 + 0.5 * math.cos(math.pi * (x - 0.45) / 0.55)


class BlinkSchedule:
    """Blinks at natural, random (seeded) intervals."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._blinks: list[Blink] = []
        self._next = float(self._rng.uniform(0.8, 2.5))

    def _draw_until(self, t: float) -> None:
        while self._next <= t + 1.0:
            duration = float(self._rng.uniform(*BLINK_DURATION_S))
            self._blinks.append(Blink(self._next, duration))
            if self._rng.random() < DOUBLE_BLINK_CHANCE:
                self._blinks.append(Blink(self._next + duration + 0.12, duration * 0.9))
                self._next += duration + 0.12
            gap = float(self._rng.gamma(4.0, BLINK_MEAN_S / 4.0))
            self._next += float(np.clip(gap, *BLINK_INTERVAL_S))
        while len(self._blinks) > 8 and self._blinks[0].start + 1.0 < t:
            self._blinks.pop(0)

    def amount(self, t: float) -> float:
        """Closure of both lids at ``t`` seconds (0 open, 1 closed)."""
        self._draw_until(t)
        return max((b.amount(t) for b in self._blinks), default=0.0)


class _Sway:
    """A sum of slow sinusoids with seeded frequencies and phases (unit amplitude)."""

    def __init__(self, rng: np.random.Generator, base_hz: float) -> None:
        self.freqs = base_hz * rng.uniform(0.6, 1.6, size=3)
        self.phases = rng.uniform(0, 2 * math.pi, size=3)
        self.weights = np.array([0.55, 0.3, 0.15])

    def __call__(self, t: float) -> float:
        return float(np.sum(self.weights * np.sin(2 * math.pi * self.freqs * t + self.phases)))


@dataclass(slots=True)
class HeadPose:
    """Head and eye motion for one instant (radians and inter-eye distances)."""

    roll: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    brow: float = 0.0


class HeadMotion:
    """Idle sway for every state, nods and attentive gaze while listening."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self._roll = _Sway(rng, 0.07)
        self._yaw = _Sway(rng, 0.05)
        self._pitch = _Sway(rng, 0.06)
        self._sx = _Sway(rng, 0.04)
        self._sy = _Sway(rng, 0.05)
        self._rng = rng
        self._nods: list[float] = []
        self._next_nod = float(rng.uniform(1.0, 3.0))
        self._gaze: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        self._next_gaze = float(rng.uniform(*GAZE_INTERVAL_S))

    def _gaze_at(self, t: float) -> tuple[float, float]:
        while self._next_gaze <= t:
            if self._rng.random() < 0.55:
                target = (0.0, 0.0)
            else:
                target = (
                    float(self._rng.uniform(-0.45, 0.45)),
                    float(self._rng.uniform(-0.3, 0.2)),
                )
            self._gaze.append((self._next_gaze, *target))
            self._next_gaze += float(self._rng.uniform(*GAZE_INTERVAL_S))
        while len(self._gaze) > 2 and self._gaze[1][0] < t - 1.0:
            self._gaze.pop(0)
        # Saccades: a quick (60 ms) move to each new target.
        gx, gy = 0.0, 0.0
        for start, x, y in self._gaze:
            k = float(np.clip((t - start) / 0.06, 0, 1))
            if k <= 0:
                break
            gx, gy = gx + (x - gx) * k, gy + (y - gy) * k
        return gx, gy

    def _nod_at(self, t: float) -> float:
        while self._next_nod <= t:
            self._nods.append(self._next_nod)
            self._next_nod += float(self._rng.uniform(*NOD_INTERVAL_S))
        while self._nods and self._nods[0] + NOD_DURATION_S < t - 5.0:
            self._nods.pop(0)
        value = 0.0
        for start in self._nods:
            x = (t - start) / NOD_DURATION_S
            if 0 < x < 1:  # two damped dips down
                value += math.sin(2 * math.pi * 2 * x) * math.sin(math.pi * x) ** 2
        return value

    def pose(self, t: float, listening: bool, speaking: float) -> HeadPose:
        """Head pose at ``t``; ``speaking`` is the smoothed speech loudness (0–1)."""
        amp = 1.0 + 0.6 * speaking
        pose = HeadPose(
            roll=0.016 * amp * self._roll(t),
            yaw=0.028 * amp * self._yaw(t),
            pitch=0.02 * amp * self._pitch(t) + 0.02 * speaking,
            shift_x=0.012 * self._sx(t),
            shift_y=0.01 * self._sy(t) + 0.012 * speaking,
        )
        gx, gy = self._gaze_at(t)
        attention = 0.35 if listening else 1.0
        pose.gaze_x, pose.gaze_y = gx * attention, gy * attention
        nod = self._nod_at(t)
        if listening and nod:
            pose.pitch += 0.045 * max(nod, 0.0)
            pose.shift_y += 0.025 * max(nod, 0.0)
            pose.brow = 0.25 * abs(nod)
        return pose
