"""Life around the mouth: blinks, head sway and turns, gaze shifts, nods and brow raises.

The head turns in 3D (yaw, pitch, roll) within :class:`HeadLimits`. Idle, it sways a little.
Speaking, it also turns from side to side as people do while they talk (a new direction every
1.2–2.8 s of talk, eased over 0.8 s) and gives a small nod with raised brows on stressed
syllables. Listening is calmer: the head eases back to rest (only the small sway stays), the
gaze is held on the user, with an occasional nod.

Blinks, sway and gaze are a pure function of time and a seed (drawn lazily, in order); the turns
run on a clock of talk time and come in mirrored pairs. A session is reproducible and nothing
accumulates: the head returns to its rest pose on average and cannot drift.
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
TURN_INTERVAL_S = (1.2, 2.8)
TURN_EASE_S = 0.8


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """The largest head rotation (radians) the animation may use, each way."""

    yaw: float = math.radians(8.0)
    pitch: float = math.radians(8.0 * 2 / 3)
    roll: float = math.radians(4.0)

    @classmethod
    def from_degrees(cls, turn_deg: float) -> HeadLimits:
        """Limits for a largest turn of ``turn_deg`` (pitch ⅔ and roll ½ of it)."""
        rad = math.radians(max(turn_deg, 0.0))
        return cls(rad, rad * 2 / 3, rad / 2)


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


class _Turns:
    """Where the head looks while talking: eased moves between seeded (yaw, pitch) targets, as
    shares of the limits. Targets come in mirrored pairs held equally long (one side, then the
    other), on a clock that runs only while the character talks, so the head's average pose
    stays at rest over any few seconds of talk and nothing drifts."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._targets: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
        self._next = 0.0
        self._mirror: tuple[float, float, float] | None = None
        self._side = 1.0 if rng.random() < 0.5 else -1.0

    def __call__(self, t: float) -> tuple[float, float]:
        while self._next <= t:
            if self._mirror is None:
                hold = float(self._rng.uniform(*TURN_INTERVAL_S))
                yaw = self._side * float(self._rng.uniform(0.45, 1.0))
                pitch = float(self._rng.uniform(-0.4, 0.4))
                self._mirror = (hold, -yaw, -pitch)
                self._side = -self._side if self._rng.random() < 0.5 else self._side
            else:
                hold, yaw, pitch = self._mirror
                self._mirror = None
            self._targets.append((self._next, yaw, pitch))
            self._next += hold
        while len(self._targets) > 2 and self._targets[1][0] < t - TURN_EASE_S:
            self._targets.pop(0)
        yaw, pitch = 0.0, 0.0
        for start, ty, tp in self._targets:
            k = float(np.clip((t - start) / TURN_EASE_S, 0, 1))
            if k <= 0:
                break
            k = k * k * (3 - 2 * k)
            yaw, pitch = yaw + (ty - yaw) * k, pitch + (tp - pitch) * k
        return yaw, pitch


class HeadMotion:
    """Idle sway for every state, turns and emphasis while speaking, nods and attentive gaze
    while listening; never beyond ``limits``."""

    def __init__(self, seed: int, limits: HeadLimits | None = None) -> None:
        self.limits = limits or HeadLimits()
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
        self._turns = _Turns(np.random.default_rng(seed + 7))
        self._talk = 0.0  # seconds of talk so far (the turns' clock)
        self._last_t: float | None = None

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

    def pose(
        self,
        t: float,
        listening: bool,
        speaking: float,
        engaged: float = 0.0,
        emphasis: float = 0.0,
    ) -> HeadPose:
        """Head pose at ``t``.

        Args:
            t: seconds.
            listening: the user is speaking.
            speaking: the smoothed speech loudness (0–1).
            engaged: how much the character is talking (0–1, eased): scales the turns.
            emphasis: a stressed syllable's nod (0–1).
        """
        lim = self.limits
        amp = 1.0 + 0.6 * engaged  # (not the syllable-fast loudness: the sway would shake)
        if self._last_t is not None:
            self._talk += engaged * min(max(t - self._last_t, 0.0), 1.0)
        self._last_t = t
        turn_yaw, turn_pitch = self._turns(self._talk)
        turning = engaged  # eases back to rest over about two seconds after the talk
        pose = HeadPose(
            roll=0.3 * lim.roll * amp * self._roll(t),
            yaw=0.2 * lim.yaw * amp * self._yaw(t) + 0.8 * lim.yaw * turning * turn_yaw,
            pitch=0.25 * lim.pitch * amp * self._pitch(t)
            + 0.4 * lim.pitch * turning * turn_pitch
            + 0.15 * lim.pitch * speaking
            + 0.35 * lim.pitch * emphasis,
            shift_x=0.012 * self._sx(t),
            shift_y=0.01 * self._sy(t) + 0.012 * speaking,
            brow=0.45 * emphasis,
        )
        gx, gy = self._gaze_at(t)
        attention = 0.35 if listening else 1.0
        pose.gaze_x, pose.gaze_y = gx * attention, gy * attention
        nod = self._nod_at(t)
        if listening and nod:
            pose.pitch += 0.6 * lim.pitch * max(nod, 0.0)
            pose.shift_y += 0.025 * max(nod, 0.0)
            pose.brow = 0.25 * abs(nod)
        pose.yaw = float(np.clip(pose.yaw, -lim.yaw, lim.yaw))
        pose.pitch = float(np.clip(pose.pitch, -lim.pitch, lim.pitch))
        pose.roll = float(np.clip(pose.roll, -lim.roll, lim.roll))
        return pose
