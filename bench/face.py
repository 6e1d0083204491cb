"""Face engine benchmark: render and VP8 encode cost on ONE core, lip sync, stillness, drift.

Run: ``.venv/bin/python bench/face.py [--quick]``. The script re-executes itself pinned to CPU 0
(``taskset -c 0``, or ``os.sched_setaffinity``) with one thread for OpenMP/OpenCV, prints the
figures and writes them to ``bench/results/face.json``.

Measured, for Grace Hopper and the astronaut at 704×1088 and 1088×704:

* render ms/frame (the full generator: visemes, blinks, head motion, warp, mouth) over espeak-ng
  speech plus idle frames; VP8 encode ms/frame (PyAV libvpx, ``deadline=realtime``, 1 thread,
  cpu-used 8 and 16, RGB→YUV conversion included); fps one core sustains; the share of a core
  that 25 fps needs.
* lip sync: the mouth aperture re-measured on the rendered frames with the face mesh (inner-lip
  gap / mouth width) against the speech RMS per frame: Pearson r at lag 0, and the lag (frames,
  positive = mouth leads) that maximises it.
* mouth movement during silence (px, re-measured and as commanded).
* drift of eyes and nose over a 5-minute render (speech and silence alternating): their mean
  position (re-measured once a second, and as commanded every frame) over the first minute vs
  the last minute; the idle sway itself is reported as the maximum excursion from rest.
* the face's look (``tests/face_metrics.py``), on Hopper: separate teeth in the widest-open
  frames of the sentence after VP8 (``teeth_gaps``), the chin following the lower lip as the
  mouth opens (``chin_follow``), and the head turn over a minute of speech (``head_turn``, every
  5th frame), within the envelope the default ``HeadLimits`` allow (``turn_envelope``: renders
  at the limits' corners, re-measured). ``--only look`` measures just this (a few seconds; no
  timings).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
PINNED = "CHARACTERS_BENCH_PINNED"


def pin_to_one_core() -> None:
    if os.environ.get(PINNED):
        return
    env = dict(os.environ, **{PINNED: "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    taskset = shutil.which("taskset")
    if taskset:
        os.execve(taskset, [taskset, "-c", "0", sys.executable, *sys.argv], env)
    os.environ.update(env)
    os.sched_setaffinity(0, {0})


pin_to_one_core()
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from characters.face import (  # noqa: E402
    AudioChunk,
    FaceParams,
    FaceVideoGenerator,
    PhonemeTiming,
    VideoFrameOut,
    WarpRenderer,
    analyse,
)
from characters.face.landmarks import fit_mesh  # noqa: E402
from characters.face.motion import HeadLimits  # noqa: E402
from tests import face_metrics  # noqa: E402
from tests.face_assets import astronaut_rgb, hopper_bytes, png, speak  # noqa: E402

cv2.setNumThreads(1)
FPS = 25
SIZES: dict[Literal["portrait", "landscape"], tuple[int, int]] = {
    "portrait": (704, 1088),
    "landscape": (1088, 704),
}


def avatars() -> dict[str, bytes]:
    return {"hopper": hopper_bytes(), "astronaut": png(astronaut_rgb())}


def vp8_encoder(width: int, height: int, cpu_used: int) -> av.VideoCodecContext:
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height = width, height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.framerate = Fraction(FPS, 1)
    ctx.bit_rate = 1_500_000
    ctx.thread_count = 1
    ctx.options = {"deadline": "realtime", "cpu-used": str(cpu_used), "lag-in-frames": "0"}
    ctx.open()
    return ctx


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
    }


def run_generator(
    gen: FaceVideoGenerator,
    audio: np.ndarray,
    sr: int,
    phonemes: list[PhonemeTiming],
    n_frames: int,
) -> tuple[list[VideoFrameOut], list[float]]:
    gen.push_audio(AudioChunk(audio, sr, phonemes))
    gen.end_segment()
    frames, times = [], []
    for _ in range(n_frames):
        t = time.perf_counter()
        frames.append(gen.next_frame())
        times.append((time.perf_counter() - t) * 1000)
    return frames, times


def encode_cost(frames: list[VideoFrameOut], cpu_used: int) -> tuple[list[float], float]:
    h, w = frames[0].image.shape[:2]
    ctx = vp8_encoder(w, h, cpu_used)
    times, size = [], 0
    for i, f in enumerate(frames):
        t = time.perf_counter()
        vf = av.VideoFrame.from_ndarray(f.image, format="rgb24").reformat(format="yuv420p")
        vf.pts = i
        packets = ctx.encode(vf)
        times.append((time.perf_counter() - t) * 1000)
        size += sum(p.size for p in packets)
    kbps = size * 8 / (len(frames) / FPS) / 1000
    return times, kbps


def aperture(image: np.ndarray) -> tuple[float, np.ndarray] | None:
    pts = fit_mesh(image, None)
    if pts is None:
        return None
    gap = float(np.hypot(*(pts[13, :2] - pts[14, :2])))
    width = float(np.hypot(*(pts[61, :2] - pts[291, :2])))
    return gap / width, pts


def pearson_lags(a: np.ndarray, b: np.ndarray, max_lag: int = 8) -> dict[int, float]:
    """r(a shifted by lag, b): lag > 0 means ``a`` (the mouth) leads ``b`` (the audio)."""
    out = {}
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            x, y = a[: len(a) - lag], b[lag:]
        else:
            x, y = a[-lag:], b[: len(b) + lag]
        if len(x) > 3 and np.std(x) > 0 and np.std(y) > 0:
            out[lag] = float(np.corrcoef(x, y)[0, 1])
    return out


def lip_sync(
    frames: list[VideoFrameOut], audio: np.ndarray, sr: int, n_speech: int
) -> dict[str, object]:
    spf = sr / FPS
    rms, measured, commanded = [], [], []
    for i, f in enumerate(frames[:n_speech]):
        centre = int((i + 0.5) * spf)
        half = int(0.02 * sr)
        win = audio[max(0, centre - half) : centre + half].astype(np.float64) / 32768
        rms.append(float(np.sqrt(np.mean(win**2))) if len(win) else 0.0)
        m = aperture(f.image)
        measured.append(m[0] if m else np.nan)
        commanded.append(f.params.open * (1 - f.params.press))
    meas = np.array(measured)
    ok = ~np.isnan(meas)
    meas[~ok] = np.nanmean(meas)
    rms_a = np.array(rms)
    lags = pearson_lags(meas, rms_a)
    best = max(lags, key=lambda k: lags[k])
    fidelity = float(np.corrcoef(meas, np.array(commanded))[0, 1])
    cmd_lags = pearson_lags(np.array(commanded), rms_a)
    return {
        "frames": n_speech,
        "frames_measured": int(ok.sum()),
        "r_lag0": round(lags[0], 3),
        "best_lag_frames": best,
        "r_best": round(lags[best], 3),
        "r_by_lag": {str(k): round(v, 3) for k, v in lags.items()},
        "aperture_vs_commanded_r": round(fidelity, 3),
        "commanded_vs_rms_r_lag0": round(cmd_lags[0], 3),
    }


def silence_motion(renderer: WarpRenderer, seconds: float = 6.0) -> dict[str, float]:
    gen = FaceVideoGenerator(renderer, sample_rate=22050, fps=FPS, seed=3)
    gaps, widths, lip_rel, cmd = [], [], [], []
    lips = [61, 291, 13, 14, 0, 17]
    for _ in range(int(seconds * FPS)):
        f = gen.next_frame()
        m = aperture(f.image)
        p = f.params
        cmd.append(max(abs(p.open), p.pucker, p.spread, p.press, p.upper_lift))
        if m is None:
            continue
        pts = m[1]
        gaps.append(float(np.hypot(*(pts[13, :2] - pts[14, :2]))))
        widths.append(float(np.hypot(*(pts[61, :2] - pts[291, :2]))))
        # lips relative to the nose tip and the eyes' midpoint, i.e. without the head's motion
        ref = (pts[1, :2] + (pts[468, :2] + pts[473, :2]) / 2) / 2
        lip_rel.append(pts[lips, :2] - ref)
    rel = np.array(lip_rel)
    dev = np.linalg.norm(rel - np.median(rel, axis=0), axis=2)
    return {
        "frames": int(seconds * FPS),
        "commanded_mouth_shape_max": round(float(max(cmd)), 4),
        "inner_gap_range_px": round(float(np.ptp(gaps)), 2),
        "mouth_width_range_px": round(float(np.ptp(widths)), 2),
        "lip_points_vs_face_p95_px": round(float(np.percentile(dev, 95)), 2),
    }


def drift(
    renderer: WarpRenderer,
    audio: np.ndarray,
    sr: int,
    phonemes: list[PhonemeTiming],
    minutes: float,
) -> dict[str, object]:
    """Does the face wander? Mean eye/nose position in the first vs the last minute."""
    gen = FaceVideoGenerator(renderer, sample_rate=sr, fps=FPS, seed=5)
    period = 10 * FPS
    total = int(minutes * 60 * FPS)
    window = min(60 * FPS, total // 3)
    idx = [468, 473, 1]
    rest_cmd = renderer.vertices(FaceParams())[idx]
    rest_meas = aperture(renderer.still)
    assert rest_meas is not None
    measured, commanded, times = [], [], []
    t0 = time.perf_counter()
    for k in range(total):
        if k % period == 0:
            gen.push_audio(AudioChunk(audio, sr, phonemes))
            gen.end_segment()
        f = gen.next_frame()
        commanded.append(renderer.vertices(f.params)[idx] - rest_cmd)
        if k % FPS == 0 and (k < window or k >= total - window):
            m = aperture(f.image)
            if m is not None:
                measured.append(m[1][idx, :2] - rest_meas[1][idx, :2])
                times.append(k)
    elapsed = time.perf_counter() - t0
    cmd = np.array(commanded)
    meas = np.array(measured)
    first = np.array(times) < window
    meas_shift = np.linalg.norm(meas[first].mean(axis=0) - meas[~first].mean(axis=0), axis=1)
    cmd_shift = np.linalg.norm(cmd[:window].mean(axis=0) - cmd[-window:].mean(axis=0), axis=1)
    return {
        "minutes": minutes,
        "frames": total,
        "window_s": window / FPS,
        "measured_points": len(measured),
        "measured_mean_shift_first_vs_last_px": round(float(meas_shift.max()), 2),
        "commanded_mean_shift_first_vs_last_px": round(float(cmd_shift.max()), 2),
        "commanded_max_excursion_px": round(float(np.linalg.norm(cmd, axis=2).max()), 2),
        "render_ms_per_frame_mean": round(elapsed / total * 1000, 2),
    }


def look(
    renderer: WarpRenderer,
    frames: list[VideoFrameOut],
    speech: tuple[np.ndarray, int, list[PhonemeTiming]],
    n_speech: int,
) -> dict[str, object]:
    """Teeth, jaw and head turn as a viewer sees them (``tests/face_metrics.py``)."""
    widest: list[int] = []  # the three widest openings, in different syllables
    for i in sorted(range(n_speech), key=lambda i: -frames[i].params.open):
        if all(abs(i - j) >= 5 for j in widest):
            widest.append(i)
        if len(widest) == 3:
            break
    decoded = face_metrics.decode_vp8(f.image for f in frames)
    teeth = [face_metrics.teeth_gaps(decoded[i]) for i in widest]
    chin = []
    for i in widest:  # the same head pose, the mouth opening from rest over 8 frames
        p = frames[i].params
        ramp = face_metrics.decode_vp8(renderer.render(p.scaled_mouth(k / 7)) for k in range(8))
        chin.append(face_metrics.chin_follow(ramp[0], ramp[-1], between=ramp[1:-1]))
    minute = [f.image for f in face_metrics.speech_frames(renderer, speech, 60.0, every=5)]
    turn = face_metrics.head_turn(minute)
    rest = face_metrics.head_turn([renderer.still])
    limits = HeadLimits()  # the default, which speech_frames' generator uses
    limit = limits.yaw
    bounds = list(face_metrics.turn_envelope(renderer, limits))
    return {
        "teeth": {
            "frames": widest,
            "open": [round(frames[i].params.open, 3) for i in widest],
            "gaps": [t["gaps"] for t in teeth],
            "depths": [t["depths"][:6] for t in teeth],
            "brightness": [t["brightness"] for t in teeth],
            "contrast": [t["contrast"] for t in teeth],
            "opening_over_width": [
                round(t["opening_px"] / max(t["width_px"], 1), 3) for t in teeth
            ],
            "min_depth": face_metrics.TEETH_GAP_DEPTH,
            "min_gaps": face_metrics.MIN_TEETH_GAPS,
        },
        "chin_follow": [round(c, 3) for c in chin],
        "head_turn_minute": {
            "frames_measured": turn["frames"],
            "found": turn["found"],
            "yaw_span": turn["yaw_span"],
            "yaw_low": turn["yaw_low"],
            "yaw_high": turn["yaw_high"],
            "yaw_rest": rest["yaw"][0],
            "yaw_max_from_rest": round(
                max(abs(turn["yaw_high"] - rest["yaw"][0]), abs(turn["yaw_low"] - rest["yaw"][0])),
                4,
            ),
            "pitch_span": turn["pitch_span"],
            "pitch_rest": rest["pitch"][0],
            "yaw_limit_rad": limit,
            "yaw_envelope_at_limits": bounds,
        },
    }


def look_targets(lk: dict[str, object]) -> dict[str, bool]:
    teeth, turn = lk["teeth"], lk["head_turn_minute"]
    assert isinstance(teeth, dict) and isinstance(turn, dict)
    chin = lk["chin_follow"]
    assert isinstance(chin, list)
    out = {
        f"teeth_gaps_ge_{face_metrics.MIN_TEETH_GAPS}": statistics.median(teeth["gaps"])
        >= face_metrics.MIN_TEETH_GAPS,
        "chin_follow_ge_0.6": statistics.median(chin) >= face_metrics.CHIN_FOLLOW_MIN,
        "head_turn_span_ge_0.08": turn["yaw_span"] >= face_metrics.HEAD_TURN_SPAN_MIN,
    }
    lo, hi = turn["yaw_envelope_at_limits"]
    out["head_turn_within_limit"] = lo - 0.01 <= turn["yaw_low"] and turn["yaw_high"] <= hi + 0.01
    return out


def look_only(out: Path) -> None:
    """``--only look``: the look of Hopper in portrait, without the timings."""
    speech = speak()
    audio, sr, phonemes = speech
    n_speech = int(np.ceil(len(audio) / sr * FPS))
    data = hopper_bytes()
    renderer = WarpRenderer(data, analyse(data, orientation="portrait"))
    gen = FaceVideoGenerator(renderer, sample_rate=sr, fps=FPS, seed=0)
    frames, _ = run_generator(gen, audio, sr, phonemes, n_speech + FPS)
    lk = look(renderer, frames, speech, n_speech)
    results = {"look_hopper_portrait": lk, "targets_met": look_targets(lk)}
    print("look", json.dumps(lk), flush=True)
    print("targets", json.dumps(results["targets_met"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("wrote", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1-minute drift, one run per size")
    parser.add_argument("--out", default=None, help="default bench/results/face[-look].json")
    parser.add_argument("--only", choices=["look"], help="measure only the face's look")
    args = parser.parse_args()
    results_dir = ROOT / "bench" / "results"
    if args.only == "look":
        look_only(Path(args.out or results_dir / "face-look.json"))
        return

    audio, sr, phonemes = speak()
    n_speech = int(np.ceil(len(audio) / sr * FPS))
    n_frames = n_speech + 2 * FPS
    results: dict[str, object] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "affinity": sorted(os.sched_getaffinity(0)),
            "load_avg_at_start": [round(v, 2) for v in os.getloadavg()],
            "opencv": cv2.__version__,
            "numpy": np.__version__,
            "av": av.__version__,
        },
        "speech": {
            "seconds": round(len(audio) / sr, 2),
            "sample_rate": sr,
            "phonemes": len(phonemes),
        },
        "render": {},
    }
    render: dict[str, object] = {}
    keep = {}
    for name, data in avatars().items():
        for orient, size in SIZES.items():
            t = time.perf_counter()
            analysis = analyse(data, orientation=orient)
            t_analyse = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            renderer = WarpRenderer(data, analysis)
            t_setup = (time.perf_counter() - t) * 1000
            times: list[float] = []
            frames: list[VideoFrameOut] = []
            for run in range(1 if args.quick else 2):
                gen = FaceVideoGenerator(renderer, sample_rate=sr, fps=FPS, seed=run)
                frames, ts = run_generator(gen, audio, sr, phonemes, n_frames)
                times += ts
            enc8, kbps8 = encode_cost(frames, 8)
            enc16, kbps16 = encode_cost(frames, 16)
            r = statistics.median(times)
            e8, e16 = statistics.median(enc8), statistics.median(enc16)
            face_h = analysis["faceBox"][3] * renderer.framing.scale
            render[f"{name}_{orient}"] = {
                "size": f"{size[0]}x{size[1]}",
                "face_height_px": round(face_h),
                "analyse_ms": round(t_analyse, 1),
                "session_setup_ms": round(t_setup, 1),
                "render_ms": stats(times),
                "vp8_rt8_ms": stats(enc8),
                "vp8_rt16_ms": stats(enc16),
                "vp8_kbps": {"rt8": round(kbps8), "rt16": round(kbps16)},
                "fps_one_core_rt8": round(1000 / (r + e8), 1),
                "fps_one_core_rt16": round(1000 / (r + e16), 1),
                "core_share_at_25fps_rt8": round(25 * (r + e8) / 1000, 3),
                "core_share_at_25fps_rt16": round(25 * (r + e16) / 1000, 3),
            }
            print(name, orient, json.dumps(render[f"{name}_{orient}"]), flush=True)
            keep[(name, orient)] = (renderer, frames)
    results["render"] = render

    renderer, frames = keep[("hopper", "portrait")]
    results["lip_sync_hopper_portrait"] = lip_sync(frames, audio, sr, n_speech)
    print("lip sync", json.dumps(results["lip_sync_hopper_portrait"]), flush=True)
    renderer_a, frames_a = keep[("astronaut", "portrait")]
    results["lip_sync_astronaut_portrait"] = lip_sync(frames_a, audio, sr, n_speech)
    print("lip sync astronaut", json.dumps(results["lip_sync_astronaut_portrait"]), flush=True)
    results["silence_hopper_portrait"] = silence_motion(renderer)
    print("silence", json.dumps(results["silence_hopper_portrait"]), flush=True)
    results["drift_hopper_portrait"] = drift(
        renderer, audio, sr, phonemes, 1.0 if args.quick else 5.0
    )
    print("drift", json.dumps(results["drift_hopper_portrait"]), flush=True)
    results["look_hopper_portrait"] = look(renderer, frames, (audio, sr, phonemes), n_speech)
    print("look", json.dumps(results["look_hopper_portrait"]), flush=True)

    targets = {}
    hp = render["hopper_portrait"]
    assert isinstance(hp, dict)
    targets["fps_25_within_half_core_rt16"] = hp["core_share_at_25fps_rt16"] <= 0.5
    ls = results["lip_sync_hopper_portrait"]
    assert isinstance(ls, dict)
    targets["lip_sync_r_ge_0.6_lag_le_1"] = ls["r_best"] >= 0.6 and abs(ls["best_lag_frames"]) <= 1
    sil = results["silence_hopper_portrait"]
    assert isinstance(sil, dict)
    targets["silence_mouth_le_1px"] = sil["inner_gap_range_px"] <= 1.0
    dr = results["drift_hopper_portrait"]
    assert isinstance(dr, dict)
    targets["drift_le_2px"] = dr["measured_mean_shift_first_vs_last_px"] <= 2.0
    lk = results["look_hopper_portrait"]
    assert isinstance(lk, dict)
    targets.update(look_targets(lk))
    results["targets_met"] = targets
    print("targets", json.dumps(targets))
    out = Path(args.out or results_dir / "face.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
