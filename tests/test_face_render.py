"""The warp renderer on real photos: rest is the still, shapes change the right places, no tears.

Set ``CHARACTERS_FACE_FRAMES=/some/dir`` to also save PNGs of rest, A, O, M, blink and a head
turn for each avatar (for looking at them).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from characters.face import FaceParams, WarpRenderer, analyse
from characters.face.motion import HeadLimits
from tests.face_assets import astronaut_rgb, cartoon_keypoints, cartoon_rgb, hopper_bytes

SHAPES = {
    "rest": FaceParams(),
    "A": FaceParams(open=0.85, spread=0.1, upper_lift=0.15),
    "O": FaceParams(open=0.55, pucker=0.7),
    "M": FaceParams(press=1.0),
    "blink": FaceParams(blink_left=1.0, blink_right=1.0),
    "head": FaceParams(roll=0.02, yaw=0.03, pitch=0.02, shift_x=0.01),
}


@pytest.fixture(scope="module", params=["hopper", "astronaut", "cartoon"])
def renderer(request) -> tuple[str, WarpRenderer]:
    if request.param == "hopper":
        img = hopper_bytes()
        return "hopper", WarpRenderer(img, analyse(img))
    if request.param == "astronaut":
        arr = astronaut_rgb()
        return "astronaut", WarpRenderer(arr, analyse(arr, orientation="landscape"))
    arr = cartoon_rgb()
    return "cartoon", WarpRenderer(arr, analyse(arr, cartoon_keypoints()))


def _box(r: WarpRenderer, idx: list[int], pad: int) -> tuple[slice, slice]:
    v = r.deformer.rest[idx]
    x0, y0 = np.floor(v.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(v.max(axis=0)).astype(int) + pad
    return slice(max(y0, 0), y1), slice(max(x0, 0), x1)


def test_shapes(renderer) -> None:
    name, r = renderer
    frames = {k: r.render(p) for k, p in SHAPES.items()}
    out = os.environ.get("CHARACTERS_FACE_FRAMES")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        for k, f in frames.items():
            Image.fromarray(f).save(Path(out) / f"{name}_{k}.png")
    rest = frames["rest"]
    assert np.array_equal(rest, r.still)  # no state, no drift: rest is the still itself
    mouth = _box(r, [61, 291, 0, 17], 6)
    eyes = _box(r, [33, 133, 362, 263, 159, 145], 4)

    def changed(img: np.ndarray, box: tuple[slice, slice]) -> float:
        d = np.abs(img[box].astype(int) - rest[box].astype(int)).sum(axis=2)
        return float((d > 40).mean())

    assert changed(frames["A"], mouth) > 0.15
    assert changed(frames["O"], mouth) > 0.08
    assert changed(frames["A"], eyes) < 0.01  # the mouth does not move the eyes
    assert changed(frames["blink"], eyes) > 0.05
    assert changed(frames["blink"], mouth) < 0.01
    # open mouths differ from each other (A is wide, O is round)
    a_vs_o = np.abs(frames["A"][mouth].astype(int) - frames["O"][mouth].astype(int)).mean()
    assert a_vs_o > 3
    # the frame corners (background beyond the rings) never move
    for f in frames.values():
        assert np.array_equal(f[:8, :8], rest[:8, :8])


def test_head_motion_is_continuous(renderer) -> None:
    """No tears: the warp's source map stays smooth under head motion (and with a blink), up
    to the largest turn the animation uses."""
    _, r = renderer
    lim = HeadLimits()
    for p in (
        FaceParams(roll=0.02, yaw=0.03, pitch=0.02),
        FaceParams(roll=lim.roll, yaw=lim.yaw, pitch=lim.pitch),
        FaceParams(roll=-lim.roll, yaw=-lim.yaw, pitch=-lim.pitch),
        FaceParams(roll=0.02, blink_left=1),
    ):
        pts = r.vertices(p)
        patches = ("eyes",) if p.eyes_active() else ()
        smap = r.warper.source_map(pts, patches)
        dx = np.abs(np.diff(smap, axis=1))
        dy = np.abs(np.diff(smap, axis=0))
        if not patches:
            # neighbouring output pixels sample neighbouring source pixels
            assert dx[..., 0].max() < 2.0 and dy[..., 1].max() < 2.0
        # across a closing lid the map jumps by at most the eye opening, nowhere else
        v = r.deformer.rest
        opening = max(np.hypot(*(v[145] - v[159])), np.hypot(*(v[374] - v[386])))
        assert max(dx.max(), dy.max()) < 1.2 * opening + 2


def test_the_head_turns_in_depth(renderer) -> None:
    """Yaw turns the nose further than the eyes (parallax from the mesh's depth), and pitch
    moves it further down than the brows; zero pose is the rest mesh."""
    _, r = renderer
    d = r.deformer
    assert np.array_equal(r.vertices(FaceParams()), d.rest)
    nose, eyes, brows = 1, [33, 133, 362, 263], [105, 334]
    turned = r.vertices(FaceParams(yaw=0.1)) - d.rest
    parallax = turned[nose, 0] - turned[eyes, 0].mean()
    assert parallax > 0.02 * d.iod  # towards +x, by about yaw × the nose's depth
    assert parallax == pytest.approx(0.1 * (d.depth[nose] - d.depth[eyes].mean()), rel=0.05)
    assert r.vertices(FaceParams(yaw=-0.1))[nose, 0] < d.rest[nose, 0]
    nodded = r.vertices(FaceParams(pitch=0.1)) - d.rest
    assert nodded[nose, 1] - nodded[brows, 1].mean() > 0.01 * d.iod


def test_open_mouth_has_teeth_a_cavity_and_a_tongue(renderer) -> None:
    name, r = renderer
    frame = r.render(SHAPES["A"])
    pts = r.vertices(SHAPES["A"])
    inner = np.vstack([pts[list(r.mouth.upper)], pts[list(r.mouth.lower[::-1][1:-1])]])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
    grey = frame.astype(float).mean(axis=2)[mask.astype(bool)]
    assert np.percentile(grey, 95) > 150  # teeth
    assert np.percentile(grey, 20) < 60  # the dark cavity
    # the tongue's tip rises between the teeth for L: redder in the middle of the opening
    lp = FaceParams(open=0.4, spread=0.1, upper_lift=0.15)
    mid = r.vertices(lp)[[13, 14]].mean(axis=0).round().astype(int)
    box = (slice(mid[1] - 2, mid[1] + 3), slice(mid[0] - 3, mid[0] + 4))
    low_tongue = r.render(lp)[box].astype(float)
    lp.tongue = 1.0
    high_tongue = r.render(lp)[box].astype(float)
    redness = lambda img: float((img[..., 0] - img[..., 2]).mean())  # noqa: E731
    if name != "astronaut":  # her own (photo) teeth cover the middle
        assert redness(high_tongue) > redness(low_tongue) + 15


@pytest.mark.parametrize("shape", ["A", "E"])
def test_lips_and_chin_keep_their_size_on_wide_vowels(renderer, shape: str) -> None:
    """Wide vowels move the lips and chin rather than stretch them: the upper lip (0–13), the
    lower lip (14–17) and lip-to-chin (17–152) keep their height within 15 % (E's spread
    and lift used to thin Hopper's upper lip to 0.76)."""
    _, r = renderer
    p = SHAPES.get(shape) or FaceParams(open=0.32, spread=0.75, upper_lift=0.25)
    rest, moved = r.deformer.rest, r.vertices(p)
    for a, b in ((0, 13), (14, 17), (17, 152)):
        ratio = np.hypot(*(moved[a] - moved[b])) / np.hypot(*(rest[a] - rest[b]))
        assert 0.85 <= ratio <= 1.15, (shape, a, b, ratio)


def test_drawn_faces_get_a_flat_mouth() -> None:
    arr = cartoon_rgb()
    r = WarpRenderer(arr, analyse(arr, cartoon_keypoints()))
    assert r.mouth.flat
    frame = r.render(SHAPES["A"])
    pts = r.vertices(SHAPES["A"])
    inner = np.vstack([pts[list(r.mouth.upper)], pts[list(r.mouth.lower[::-1][1:-1])]])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))  # leave out anti-aliased edges
    colours, counts = np.unique(frame[mask.astype(bool)], axis=0, return_counts=True)
    # a few flat colours (cavity, teeth, tongue) cover most of it: no gradients
    assert np.sort(counts)[::-1][:4].sum() > 0.7 * counts.sum()
    assert any(tuple(c) == (246, 244, 238) for c in colours[counts > 20])


def test_silence_keeps_the_mouth_still(renderer) -> None:
    _, r = renderer
    idle = [FaceParams(roll=0.01 * np.sin(k), blink_left=0.0) for k in range(5)]
    for p in idle:
        pts = r.vertices(p)
        rigid = r.vertices(FaceParams(roll=p.roll))
        lips = [13, 14, 61, 291, 0, 17]
        assert np.abs(pts[lips] - rigid[lips]).max() < 1e-9


@pytest.mark.slow
def test_render_cost_is_realtime() -> None:
    img = hopper_bytes()
    r = WarpRenderer(img, analyse(img))
    p = FaceParams(open=0.6, pucker=0.3, roll=0.01, yaw=0.02, blink_left=0.4, blink_right=0.4)
    r.render(p)
    times = []
    for _ in range(20):
        t = time.perf_counter()
        r.render(p)
        times.append(time.perf_counter() - t)
    assert min(times) < 0.04  # generous: the benchmark measures the real figure on one core
