"""How the rendered face looks, measured on frames: teeth, jaw, head turn (tests and bench).

Every measure here works on RGB frames alone, the way a viewer sees them: the 478-point face mesh
is re-detected on the frame (:func:`characters.face.landmarks.fit_mesh`) and nothing is read from
the renderer. :func:`decode_vp8` puts frames through a VP8 encoder at 1.5 Mb/s and back, so the
figures include what the encoder smooths away.

* :func:`teeth_gaps`: are separate teeth visible under the upper lip, or is the mouth's interior
  a flat band?
* :func:`chin_follow`: does the chin move down with the lower lip when the mouth opens (a rigid
  jaw), or does the lip stretch over a fixed chin?
* :func:`head_turn`: how far the nose tip sits from the eyes' midpoint, across the eye axis (yaw)
  and along it (pitch), in eye distances.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d  # type: ignore[import-untyped]
from scipy.signal import find_peaks  # type: ignore[import-untyped]

from characters.face import (
    AudioChunk,
    FaceParams,
    FaceVideoGenerator,
    FrameRenderer,
    PhonemeTiming,
    VideoFrameOut,
    WarpRenderer,
)
from characters.face import topology as tp
from characters.face.landmarks import fit_mesh
from characters.face.motion import HeadLimits

RGB = npt.NDArray[np.uint8]
FArray = npt.NDArray[np.float64]

FPS = 25
VP8_BIT_RATE = 1_500_000

TEETH_GAP_DEPTH = 0.08
"""A teeth gap's minimum depth, relative to the band's mean brightness (see :func:`teeth_gaps`;
it must also be 5 grey levels deep)."""
MIN_TEETH_GAPS = 3
"""Visible upper teeth: at least this many separations across the central part of the mouth."""
CHIN_FOLLOW_MIN = 0.6
"""A rigid jaw: the chin moves down by at least this share of the lower lip's movement."""
MIN_OPENING_PX = 2.5
"""Narrower than this, a mouth counts as closed: :func:`teeth_gaps` finds no teeth in it."""
HEAD_TURN_SPAN_MIN = 0.08
"""A visible head turn: the nose's offset from the eyes' midpoint spans this many eye distances."""

_BAND_DEPTH = 0.4  # the upper teeth: the top 40 % of the opening ...
_BAND_MAX = 0.12  # ... but no more than 0.12 mouth widths below the upper lip
_BAND_SKIP = 0.15  # the band's top 15 % is the lip's edge (anti-aliased, and the mesh's error)
_CENTRAL = 0.7  # the central 70 % of the mouth's width; the corners are shadow
_STEP = 0.004  # profile samples, in mouth widths
_SMOOTH = 0.004  # profile smoothing (Gaussian sigma), in mouth widths, at least half a pixel
_GAP_SPACING = 0.04  # two gaps are at least this far apart (a tooth is 0.08–0.17 widths wide)
_GAP_WINDOW = 0.25  # a gap's depth is measured against the maxima within this window
_GAP_MIN_LUMA = 5.0  # and is at least this many grey levels (the encoder's noise reaches 4.3)


def _luma(image: RGB) -> npt.NDArray[np.float32]:
    rgb = image.astype(np.float32)
    return np.asarray(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])


def _contour(uv: FArray, u: FArray) -> FArray:
    order = np.argsort(uv[:, 0])
    return np.asarray(np.interp(u, uv[order, 0], uv[order, 1]), dtype=np.float64)


def teeth_gaps(image: RGB, pts: FArray | None = None) -> dict[str, Any]:
    """Count the separations between the upper teeth in an open mouth.

    The mouth's frame runs from the inner corner 78 to 308 (``u``, in mouth widths ``W`` = their
    distance) with ``v`` pointing down. The band just below the upper inner lip
    (:data:`~characters.face.topology.LIPS_UPPER_INNER`) down to 40 % of the opening to the lower
    inner lip, at most 0.12 ``W`` (its top 15 % skipped: the lip's edge), is where the upper teeth
    show. Its brightness (luma) is averaged down each column, following the lip's curve, over the
    central 70 % of the mouth, giving a profile across the teeth; a gap between two teeth is a
    local minimum of that profile, and its depth is its prominence: how far it lies below the
    lower of the two maxima that bound it (within 0.25 ``W``), over the band's mean brightness.

    The threshold, :data:`TEETH_GAP_DEPTH` = 0.08 and at least 5 grey levels, comes from Hopper's
    'A' (704×1088, mouth 120 px wide) put through :func:`decode_vp8` after seven frames of the
    mouth opening, measured four times (libvpx's speed varies). Noise, the deepest minima where
    there is no gap, from the encoder's blocks and its ringing at the lips' edges: the interior
    painted one light colour (luma 194) 0.014 (2.7 grey levels), mid-grey (110) 0.039 (4.3
    levels), dark (34) 0.065 (2.2 levels); today's renderer (a uniform teeth band over a dark
    cavity) 0.019 (1.9 levels); at ``cpu-used`` 16, up to 0.05. Gaps: the astronaut's own
    teeth, 0.11–0.17 in the photo itself (a 40 px wide mouth) and 0.08–0.24 rendered at 122 px
    and decoded; teeth drawn as light bars 0.12 mouth widths wide with 2 px gaps 25 % darker
    than the tooth (plainly visible) 0.16–0.28 after VP8, with gaps 15 % darker (faint)
    0.08–0.16, while gaps 10 % darker are gone after VP8 (0.02). So a gap must be deeper than
    all the noise, relative and absolute, and as deep as the faintest gaps a viewer still sees;
    :data:`MIN_TEETH_GAPS` then asks for three of them, which noise never gave.

    Returns ``gaps`` (the count, 0 when no face is found or the mouth is closed), ``depths`` (the
    relative depths of all minima, largest first), ``brightness`` (the band's mean luma, 0–255),
    ``contrast`` (the profile's standard deviation over its mean), ``opening_px`` (the inner
    lips' distance at the centre) and ``width_px`` (``W``).
    """
    out: dict[str, Any] = {
        "gaps": 0,
        "depths": [],
        "brightness": 0.0,
        "contrast": 0.0,
        "opening_px": 0.0,
        "width_px": 0.0,
    }
    if pts is None:
        pts = fit_mesh(image, None)
        if pts is None:
            return out
    left, right = pts[tp.LIPS_UPPER_INNER[0], :2], pts[tp.LIPS_UPPER_INNER[-1], :2]
    width = float(np.hypot(*(right - left)))
    if width < 8:
        return out
    ex = (right - left) / width
    ey = np.array([-ex[1], ex[0]])
    centre = (left + right) / 2
    basis = np.stack([ex, ey], axis=1)  # image (x, y) - centre → (u, v)
    upper = (pts[list(tp.LIPS_UPPER_INNER), :2] - centre) @ basis
    lower = (pts[list(tp.LIPS_LOWER_INNER), :2] - centre) @ basis
    step = max(_STEP * width, 0.1)
    half = _CENTRAL * width / 2
    u = np.arange(-half, half + step / 2, step)
    top, bottom = _contour(upper, u), _contour(lower, u)
    opening = bottom - top
    out["width_px"] = round(width, 1)
    out["opening_px"] = round(float(np.interp(0.0, u, opening)), 1)
    # the columns around the centre where the mouth is open
    ok = opening >= MIN_OPENING_PX
    mid = len(u) // 2
    if not ok[mid]:
        return out
    lo = mid - int(np.argmin(ok[mid::-1])) + 1 if not ok[: mid + 1].all() else 0
    hi = mid + int(np.argmin(ok[mid:])) if not ok[mid:].all() else len(u)
    if (hi - lo) * step < 0.2 * width:
        return out
    u, top, opening = u[lo:hi], top[lo:hi], opening[lo:hi]
    depth = np.minimum(_BAND_DEPTH * opening, _BAND_MAX * width)
    t = np.linspace(_BAND_SKIP, 1.0, 8)
    v = top[None, :] + depth[None, :] * t[:, None]  # rows × columns
    xy = centre[None, None, :] + u[None, :, None] * ex + v[..., None] * ey
    luma = _luma(image)
    band = cv2.remap(
        luma,
        xy[..., 0].astype(np.float32),
        xy[..., 1].astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    profile = gaussian_filter1d(
        band.mean(axis=0).astype(np.float64), max(_SMOOTH * width, 0.5) / step
    )
    mean = float(profile.mean())
    out["brightness"] = round(mean, 1)
    out["contrast"] = round(float(profile.std() / mean), 3) if mean > 0 else 0.0
    if mean <= 0:
        return out
    _, props = find_peaks(
        -profile,
        prominence=0.0,
        distance=max(1, int(_GAP_SPACING * width / step)),
        wlen=max(3, int(_GAP_WINDOW * width / step)),
    )
    depths = sorted((float(p) / mean for p in props["prominences"]), reverse=True)
    out["depths"] = [round(d, 3) for d in depths]
    floor = max(TEETH_GAP_DEPTH, _GAP_MIN_LUMA / mean)
    out["gaps"] = sum(d >= floor for d in depths)
    return out


def inner_lip_polygon(pts: FArray) -> npt.NDArray[np.int32]:
    """The mouth opening's outline (upper inner lip, then lower inner lip back), in pixels."""
    ring = [*tp.LIPS_UPPER_INNER, *reversed(tp.LIPS_LOWER_INNER[1:-1])]
    return np.round(pts[ring, :2]).astype(np.int32)


class Vp8RoundTrip:
    """Encode RGB frames with VP8 and decode them back, one at a time.

    PyAV's libvpx with ``deadline=realtime``, ``cpu-used`` 8, 1.5 Mb/s, no frame lag and one
    thread (``bench/face.py``'s encoder; the calls' own, ``characters/realtime/encoder.py``, runs
    at ``cpu-used`` 16 with a constant bit rate), then libvpx's decoder. With a positive
    ``cpu-used`` libvpx picks its speed from how long frames take to encode, so on a loaded
    machine the decoded pixels can differ a little from run to run.
    """

    def __init__(self, width: int, height: int, cpu_used: int = 8) -> None:
        enc = av.CodecContext.create("libvpx", "w")
        assert isinstance(enc, av.VideoCodecContext)
        enc.width, enc.height = width, height
        enc.pix_fmt = "yuv420p"
        enc.time_base = Fraction(1, FPS)
        enc.framerate = Fraction(FPS, 1)
        enc.bit_rate = VP8_BIT_RATE
        enc.thread_count = 1
        enc.options = {"deadline": "realtime", "cpu-used": str(cpu_used), "lag-in-frames": "0"}
        enc.open()
        self._enc = enc
        self._dec = av.CodecContext.create("libvpx", "r")
        self._pts = 0

    def __call__(self, image: RGB) -> RGB:
        """The frame as a viewer decodes it."""
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        vf = vf.reformat(format="yuv420p")
        vf.pts = self._pts
        self._pts += 1
        decoded: list[RGB] = []
        for packet in self._enc.encode(vf):
            for frame in self._dec.decode(packet):
                assert isinstance(frame, av.VideoFrame)
                decoded.append(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
        if len(decoded) != 1:
            raise RuntimeError(f"VP8 returned {len(decoded)} frames for one (lag-in-frames is 0)")
        return decoded[0]


def decode_vp8(frames: Iterable[RGB], cpu_used: int = 8) -> list[RGB]:
    """``frames`` encoded as one VP8 stream (see :class:`Vp8RoundTrip`) and decoded back.

    Encode a few frames leading up to the one that matters (a mouth opening, say): the first
    frame is a key frame, and the rate control settles over the next ones.
    """
    out: list[RGB] = []
    codec: Vp8RoundTrip | None = None
    for image in frames:
        if codec is None:
            codec = Vp8RoundTrip(image.shape[1], image.shape[0], cpu_used)
        out.append(codec(image))
    return out


def _discs(centres: FArray, radius: float) -> FArray:
    """A 5×5 grid of points over a square of side 2 × ``radius`` around each centre."""
    offsets = np.linspace(-radius, radius, 5)
    grid = np.stack(np.meshgrid(offsets, offsets), axis=-1).reshape(-1, 2)
    return np.asarray((centres[:, None, :] + grid[None, :, :]).reshape(-1, 2), dtype=np.float64)


def _track(grey: list[npt.NDArray[np.uint8]], points: FArray) -> FArray:
    """Follow ``points`` through the frames by chaining dense optical flow (Farnebäck)."""
    p = points.astype(np.float32).copy()
    for a, b in itertools.pairwise(grey):
        flow = np.zeros((*a.shape, 2), np.float32)
        flow = cv2.calcOpticalFlowFarneback(
            a, b, flow, pyr_scale=0.5, levels=5, winsize=21, iterations=5, poly_n=7,
            poly_sigma=1.5, flags=cv2.OPTFLOW_FARNEBACK_GAUSSIAN,
        )  # fmt: skip
        at = cv2.remap(
            flow, p[:, None, 0], p[:, None, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        p += at[:, 0, :]
    return np.asarray(p - points, dtype=np.float64)


def chin_follow(
    rest_image: RGB,
    open_image: RGB,
    pts_rest: FArray | None = None,
    between: Sequence[RGB] = (),
) -> float:
    """How much the chin moves down with the lower lip as the mouth opens (1 = a rigid jaw).

    Dense optical flow (Farnebäck, on grey images of the lower face) from ``rest_image`` to
    ``open_image``, the same head pose with the mouth closed then open, through the frames
    ``between`` them if given (the flow is chained frame to frame, which follows a large or
    uneven movement that one step loses). ``pts_rest`` is the rest frame's mesh (re-detected
    when None). The vertical movement of the chin (the median over small patches at landmark
    152 and 50 %, 70 % and 85 % of the way to it from the lower lip's centre, 17) is divided by
    that of the lower lip (patches at 17 and at the lower outer lip's centre, between 84 and
    314).

    A jaw that opens carries the lower lip and the chin down together: a ratio near 1 (a little
    less where the skin between them stretches); today's renderer gives 1.0 for Hopper's 'A'.
    :data:`CHIN_FOLLOW_MIN` = 0.6 is a chin that follows. A lower lip pulled down over a chin
    that stays put (a rubber mask; ``tests/test_face_look.py`` warps one) gives about 0.2: only
    the skin near the lip moves. Pass the opening's frames as ``between`` for that case: in one
    step the flow loses a lip that moves 40 px while the skin below it stays, and the ratio is
    then meaningless (negative, say). NaN when the lip moves less than 1 px or no face is found.
    """
    if pts_rest is None:
        pts_rest = fit_mesh(rest_image, None)
        if pts_rest is None:
            return float("nan")
    pts = pts_rest[:, :2]
    lip, chin = pts[17], pts[tp.CHIN]
    # the lower face, from above the nose tip to below the chin (the jaw moves down)
    nose_to_chin = float(chin[1] - pts[tp.NOSE_TIP, 1])
    h, w = rest_image.shape[:2]
    x0 = max(int(min(pts[234, 0], pts[454, 0])), 0)
    x1 = min(int(max(pts[234, 0], pts[454, 0])) + 1, w)
    y0 = max(int(pts[tp.NOSE_TIP, 1] - 0.2 * nose_to_chin), 0)
    y1 = min(int(chin[1] + 0.6 * nose_to_chin) + 1, h)
    grey = [
        np.asarray(
            cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY),
            dtype=np.uint8,
        )
        for image in (rest_image, *between, open_image)
    ]
    radius = 0.03 * float(np.hypot(*(pts[61] - pts[291])))
    origin = np.array([x0, y0], dtype=np.float64)
    lips = _discs(np.stack([lip, (pts[84] + pts[314]) / 2]) - origin, radius)
    chins = _discs(
        np.stack([lip + (chin - lip) * f for f in (0.5, 0.7, 0.85, 1.0)]) - origin, radius
    )
    moved = _track(grey, np.concatenate([lips, chins]))
    lip_dy = float(np.median(moved[: len(lips), 1]))
    chin_dy = float(np.median(moved[len(lips) :, 1]))
    if not abs(lip_dy) >= 1.0:
        return float("nan")
    return chin_dy / lip_dy


def nose_offset(pts: FArray) -> tuple[float, float]:
    """The nose tip's offset from the irises' midpoint, in eye distances: (across, along).

    ``across`` is along the eye axis (image right positive: the yaw), ``along`` perpendicular to
    it (down positive: the pitch).
    """
    left, right = pts[tp.IRIS_LEFT[0], :2], pts[tp.IRIS_RIGHT[0], :2]
    iod = float(np.hypot(*(right - left)))
    ex = (right - left) / iod
    ey = np.array([-ex[1], ex[0]])
    d = pts[tp.NOSE_TIP, :2] - (left + right) / 2
    return float(d @ ex) / iod, float(d @ ey) / iod


def _span(values: Sequence[float]) -> tuple[float, float, float]:
    if not values:
        return float("nan"), float("nan"), float("nan")
    lo, hi = np.percentile(values, [2, 98])
    return float(hi - lo), float(lo), float(hi)


def head_turn(images: Iterable[RGB]) -> dict[str, Any]:
    """The head's turn over frames, from the face mesh re-detected on each one.

    Per frame, :func:`nose_offset`: the nose tip (1) from the irises' midpoint (468, 473), along
    the eye axis over the eye distance (``yaw``, a turn to the side; it changes by about 0.55 ×
    the angle in radians for a real head, whose nose tip stands 0.55 eye distances in front of
    the irises in the mesh of Hopper and of the astronaut, so a span of
    :data:`HEAD_TURN_SPAN_MIN` = 0.08 is a turn of about ±4°) and perpendicular to it
    (``pitch``, a nod; this one also changes with the nose's length). Returns the per-frame values (NaN where no face was found), and for each the
    ``span``: the 98th minus the 2nd percentile (so a single mis-fitted frame does not count),
    with those percentiles as ``low`` and ``high``; ``found`` is the number of frames with a
    face.
    """
    yaw: list[float] = []
    pitch: list[float] = []
    for image in images:
        pts = fit_mesh(image, None)
        if pts is None:
            yaw.append(float("nan"))
            pitch.append(float("nan"))
            continue
        a, b = nose_offset(pts)
        yaw.append(a)
        pitch.append(b)
    out: dict[str, Any] = {"frames": len(yaw), "found": int(np.sum(~np.isnan(yaw)))}
    for name, values in (("yaw", yaw), ("pitch", pitch)):
        span, lo, hi = _span([v for v in values if not np.isnan(v)])
        out[name] = [round(v, 4) for v in values]
        out[f"{name}_span"] = round(span, 4)
        out[f"{name}_low"] = round(lo, 4)
        out[f"{name}_high"] = round(hi, 4)
    return out


def turn_envelope(renderer: WarpRenderer, limits: HeadLimits) -> tuple[float, float]:
    """The lowest and highest :func:`nose_offset` (``yaw``) the limits allow, re-measured.

    The mesh's nose offset is not the yaw alone: the fit also moves with pitch, roll and an open
    mouth (by up to 0.03 eye distances here). So the envelope is measured on renders at the
    limits' corners (yaw ±, pitch −/0/+, roll −/0/+) with the mouth closed and wide open; a head
    that stays within its limits stays within this envelope.
    """
    images = [
        renderer.render(FaceParams(yaw=y, pitch=p, roll=r, open=o))
        for y, p, r, o in itertools.product(
            (-limits.yaw, limits.yaw),
            (-limits.pitch, 0.0, limits.pitch),
            (-limits.roll, 0.0, limits.roll),
            (0.0, 0.85),
        )
    ]
    values = [v for v in head_turn(images)["yaw"] if not np.isnan(v)]
    return min(values), max(values)


def speech_frames(
    renderer: FrameRenderer,
    speech: tuple[npt.NDArray[np.int16], int, list[PhonemeTiming]],
    seconds: float,
    every: int = 1,
    pause_s: float = 0.6,
    seed: int = 5,
) -> Iterator[VideoFrameOut]:
    """``seconds`` of the generator's frames over ``speech`` said again and again.

    The sentence (samples, sample rate, phoneme timings) is queued again ``pause_s`` after it
    ends; only every ``every``-th frame is drawn (the others only advance the animation, which
    is cheap).
    """
    audio, sr, phonemes = speech
    gen = FaceVideoGenerator(renderer, sample_rate=sr, fps=FPS, seed=seed)
    period = round((len(audio) / sr + pause_s) * FPS)
    for k in range(round(seconds * FPS)):
        if k % period == 0:
            gen.push_audio(AudioChunk(audio, sr, phonemes))
            gen.end_segment()
        step = gen.advance()
        if k % every == 0:
            yield gen.draw(step)
