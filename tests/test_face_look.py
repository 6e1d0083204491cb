"""How the rendered face looks to a viewer: teeth, jaw, head turn, on VP8-decoded frames.

The real renderer draws Grace Hopper (whose photo has a closed mouth, so her teeth are drawn by
the renderer) and the astronaut (who smiles with her own teeth showing); the measures are
``tests/face_metrics.py``'s, which ``bench/face.py`` reports too. The last tests check the
measures themselves on mouths whose answer is known.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from characters.face import FaceParams, WarpRenderer, analyse
from characters.face.landmarks import fit_mesh
from characters.face.motion import HeadLimits
from tests import face_metrics as fm
from tests.face_assets import astronaut_rgb, espeak_available, hopper_bytes, no_face_rgb, speak

OPEN_A = FaceParams(open=0.85, spread=0.1, upper_lift=0.15)


@pytest.fixture(scope="module")
def hopper() -> WarpRenderer:
    img = hopper_bytes()
    return WarpRenderer(img, analyse(img))


@pytest.fixture(scope="module")
def astronaut() -> WarpRenderer:
    arr = astronaut_rgb()
    return WarpRenderer(arr, analyse(arr))


def opening(r: WarpRenderer, params: FaceParams, steps: int = 8) -> list[np.ndarray]:
    """The mouth opening from rest to ``params`` over ``steps`` frames, as a viewer decodes it."""
    frames = [r.render(params.scaled_mouth(k / (steps - 1))) for k in range(steps)]
    return fm.decode_vp8(frames)


@pytest.fixture(scope="module")
def hopper_a(hopper: WarpRenderer) -> list[np.ndarray]:
    return opening(hopper, OPEN_A)


@pytest.mark.timeout(120)
def test_teeth_show_in_an_open_mouth(hopper_a: list[np.ndarray]) -> None:
    found = fm.teeth_gaps(hopper_a[-1])
    assert found["opening_px"] > 0.2 * found["width_px"]  # the mouth is wide open
    assert found["gaps"] >= fm.MIN_TEETH_GAPS, found


@pytest.mark.timeout(120)
def test_the_chin_follows_the_jaw(hopper_a: list[np.ndarray]) -> None:
    follow = fm.chin_follow(hopper_a[0], hopper_a[-1], between=hopper_a[1:-1])
    assert follow >= fm.CHIN_FOLLOW_MIN


@pytest.mark.timeout(120)
def test_the_head_turns(hopper: WarpRenderer) -> None:
    # each pose held for three frames: one jump between them leaves the encoder short of bits
    lim = HeadLimits().yaw  # the largest turn the animation uses (0.1 rad gives about 0.085)
    held = [fm.decode_vp8([hopper.render(FaceParams(yaw=y))] * 3)[-1] for y in (lim, -lim)]
    turn = fm.head_turn(held)
    assert turn["found"] == 2
    assert abs(turn["yaw"][0] - turn["yaw"][1]) >= fm.HEAD_TURN_SPAN_MIN, turn["yaw"]


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.skipif(not espeak_available(), reason="needs espeak-ng (apt-get install espeak-ng)")
def test_the_head_turns_over_a_minute_of_speech(hopper: WarpRenderer) -> None:
    """Every 5th frame of a minute of speech (drawn frames, not encoded: geometry only)."""
    frames = [f.image for f in fm.speech_frames(hopper, speak(), 60, every=5)]
    turn = fm.head_turn(frames)
    assert turn["found"] >= 0.95 * len(frames)
    assert turn["yaw_span"] >= fm.HEAD_TURN_SPAN_MIN, turn["yaw_span"]
    # the turn stays within the configured limits (the default, as speech_frames uses)
    lo, hi = fm.turn_envelope(hopper, HeadLimits())
    assert lo - 0.01 <= turn["yaw_low"] and turn["yaw_high"] <= hi + 0.01


# The measures themselves


@pytest.mark.timeout(120)
def test_teeth_gaps_finds_real_teeth(astronaut: WarpRenderer) -> None:
    photo = fm.teeth_gaps(astronaut_rgb())  # the photo itself: a 40 px wide smile
    assert photo["gaps"] >= fm.MIN_TEETH_GAPS, photo
    viewed = fm.teeth_gaps(fm.decode_vp8([astronaut.render(FaceParams())] * 6)[-1])
    assert viewed["gaps"] >= fm.MIN_TEETH_GAPS, viewed


def _paint(frame: np.ndarray, pts: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    out = frame.copy()
    cv2.fillPoly(out, [fm.inner_lip_polygon(pts)], colour)
    return out


def _draw_teeth(frame: np.ndarray, pts: np.ndarray, gap_contrast: float) -> np.ndarray:
    """A dark mouth with a row of light upper teeth, 0.12 mouth widths each, 2 px gaps."""
    out = _paint(frame, pts, (50, 20, 20))
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [fm.inner_lip_polygon(pts)], 1)
    inside = mask > 0
    width = float(np.hypot(*(pts[78, :2] - pts[308, :2])))
    top = round(pts[13, 1])
    rows = slice(top - 5, top + round(0.1 * width))
    tooth = np.array([235, 230, 215], np.uint8)
    band = np.zeros_like(inside)
    band[rows] = True
    out[inside & band] = tooth
    for k in range(-3, 4):
        x = round(pts[13, 0] + (k + 0.5) * 0.12 * width)
        gap = np.zeros_like(inside)
        gap[rows, x - 1 : x + 1] = True
        out[inside & gap] = (tooth * (1 - gap_contrast)).astype(np.uint8)
    return out


@pytest.mark.timeout(120)
def test_teeth_gaps_on_known_mouths(hopper: WarpRenderer) -> None:
    frames = [hopper.render(OPEN_A.scaled_mouth(k / 7)) for k in range(8)]
    pts = fit_mesh(frames[-1], None)
    assert pts is not None
    for colour in ((200, 195, 185), (120, 110, 105), (60, 25, 25)):  # flat: light, grey, dark
        flat = fm.decode_vp8([*frames[:-1], _paint(frames[-1], pts, colour)])[-1]
        assert fm.teeth_gaps(flat)["gaps"] == 0
    drawn = fm.decode_vp8([*frames[:-1], _draw_teeth(frames[-1], pts, 0.25)])[-1]
    assert fm.teeth_gaps(drawn)["gaps"] >= fm.MIN_TEETH_GAPS


@pytest.mark.timeout(120)
def test_teeth_gaps_without_an_open_mouth(hopper: WarpRenderer) -> None:
    closed = fm.teeth_gaps(hopper.render(FaceParams()))
    assert closed["gaps"] == 0 and closed["opening_px"] < fm.MIN_OPENING_PX
    assert fm.teeth_gaps(no_face_rgb())["gaps"] == 0


def _stretched(rest: np.ndarray, opened: np.ndarray) -> np.ndarray:
    """``opened`` above its lower lip; below, the rest frame pulled down with the lip from there
    to a chin that stays put (the rubber-mask look :func:`fm.chin_follow` must catch)."""
    pts_rest, pts_open = fit_mesh(rest, None), fit_mesh(opened, None)
    assert pts_rest is not None and pts_open is not None
    lip_rest, lip_open, chin = pts_rest[17, 1], pts_open[17, 1], pts_rest[152, 1]
    y = np.arange(rest.shape[0], dtype=np.float32)
    pulled = lip_rest + (y - lip_open) * (chin - lip_rest) / (chin - lip_open)
    src_y = np.where((y >= lip_open) & (y < chin), pulled, y).astype(np.float32)
    map_x, map_y = np.meshgrid(np.arange(rest.shape[1], dtype=np.float32), src_y)
    out = cv2.remap(rest, map_x, map_y, cv2.INTER_LINEAR)
    top = int(np.ceil(lip_open))
    out[:top] = opened[:top]
    return out


@pytest.mark.timeout(120)
def test_chin_follow_catches_a_stretched_lip(hopper: WarpRenderer) -> None:
    frames = [hopper.render(OPEN_A.scaled_mouth(k / 7)) for k in range(8)]
    mask = fm.decode_vp8([frames[0], *(_stretched(frames[0], f) for f in frames[1:])])
    follow = fm.chin_follow(mask[0], mask[-1], between=mask[1:-1])
    assert follow < 0.4
    assert np.isnan(fm.chin_follow(frames[0], frames[0]))  # nothing moved
