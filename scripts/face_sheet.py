#!/usr/bin/env python3
"""Contact sheets of the face: the same sentence on several faces, matched frames side by side.

    .venv/bin/python scripts/face_sheet.py                     # the current code only
    .venv/bin/python scripts/face_sheet.py --before HEAD~1     # HEAD~1 above this tree, per face
    .venv/bin/python scripts/face_sheet.py --before main --out /tmp/s.png --mouth-out /tmp/m.png

Each face from ``tests/face_assets.py`` (Grace Hopper, the astronaut, the drawn cartoon and the
bear mascot, both with keypoints) says the test sentence (espeak-ng speech with IPA phoneme
timings) through ``FaceVideoGenerator``, and eight frames are picked: rest (the first idle frame,
before speech), the middle of the longest A, O, E, M and F phoneme of the sentence, a blink (rest
with both eyes closed) and a turned head (rest with ``--yaw-deg`` and ``--pitch-deg``). ``--out``
gets one row per face, each frame cropped around the face (the same crop for all frames of a
face); ``--mouth-out`` gets the mouth at rest, A, O and E, zoomed 3x further.

With ``--before REV`` the script checks REV out in a temporary git worktree (removed at the end,
also on failure) and runs itself there in a subprocess with ``PYTHONPATH`` set to it, so
``import characters`` comes from REV; that row goes above this tree's row. Faces, speech and the
picked frame numbers come from this tree, so both versions render exactly the same input.

Needs espeak-ng (``apt-get install espeak-ng``). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
RGB = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]
"""x, y, width, height in pixels."""

COLUMNS = ("rest", "A", "O", "E", "M", "F", "blink", "turn")
MOUTH_COLUMNS = ("rest", "A", "O", "E")
PHONEME_CLASSES = {
    "A": ("ɑ", "a", "æ", "ʌ", "ɒ"),
    "O": ("ɔ", "o", "oʊ", "əʊ"),
    "E": ("ɛ", "e", "i", "ɪ", "eɪ"),
    "M": ("m", "b", "p"),
    "F": ("f", "v"),
}
"""The phonemes (stress and length marks removed) each speech column may show."""
FPS = 25.0
IDLE_FRAMES = 5
"""Frames drawn before the speech is queued; the first is the rest frame."""
CELL_W, CELL_H = 160, 200
"""Size of one face cell on the sheet; every face is cropped to this aspect."""
MOUTH_ZOOM = 3.0
MOUTH_SHAPE = (0.5, 0.3)
"""The mouth box's width and height as fractions of the face crop's."""
MOUTH_CELL = (
    round(MOUTH_ZOOM * CELL_W * MOUTH_SHAPE[0]),
    round(MOUTH_ZOOM * CELL_H * MOUTH_SHAPE[1]),
)
"""Mouth cells show the mouth box at :data:`MOUTH_ZOOM` times the face cells' scale."""
LABEL_W, TITLE_H, HEADER_H, GAP, FACE_GAP = 180, 48, 26, 2, 10
BACKGROUND, INK, MUTED = (255, 255, 255), (20, 20, 20), (110, 110, 110)


def log(message: str) -> None:
    sys.stderr.write(f"face_sheet: {message}\n")
    sys.stderr.flush()


@dataclass(frozen=True, slots=True)
class Face:
    name: str
    image: bytes
    keypoints: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Pick:
    """A speech column: which phoneme, and the frame whose audio has its middle."""

    column: str
    phoneme: str
    frame: int
    time_s: float


@dataclass(frozen=True, slots=True)
class Job:
    """Everything a version needs to render: the same for before and after."""

    faces: list[Face]
    audio: npt.NDArray[np.int16]
    sample_rate: int
    phonemes: list[tuple[str, int]]
    picks: list[Pick]
    yaw_deg: float
    pitch_deg: float
    seed: int


@dataclass(slots=True)
class Rendered:
    """One face as one version draws it: crops of the matched frames, and where things are."""

    name: str
    frames: dict[str, RGB]
    """Column → the frame cropped around the face."""
    mouths: dict[str, RGB]
    """Mouth column → the frame cropped around the mouth."""
    mouth_box: Box
    """The mouth's zoom box in face-crop pixels."""
    eye_box: Box
    """Both eyes in face-crop pixels."""


# Choosing the frames


def _bare(phoneme: str) -> str:
    """An IPA phoneme without stress and length marks (``ˈɔː`` → ``ɔ``); r-coloured vowels
    (``ɛɹ``) keep their ``ɹ``, so they match no column."""
    return "".join(c for c in unicodedata.normalize("NFC", phoneme) if c not in "ˈˌːˑ")


def pick_frames(phonemes: Sequence[tuple[str, int]], sample_rate: int) -> list[Pick]:
    """For each speech column, the middle of its longest phoneme, as a frame of a generator at
    :data:`FPS` that drew :data:`IDLE_FRAMES` idle frames before the speech was queued."""
    spans: list[tuple[str, int, int]] = []
    start = 0
    for name, n in phonemes:
        spans.append((name, start, n))
        start += n
    speech_pts = round(IDLE_FRAMES * sample_rate / FPS)

    def centre(k: int) -> float:  # the sample at the middle of frame k's audio
        return (round(k * sample_rate / FPS) + round((k + 1) * sample_rate / FPS)) / 2

    picks = []
    for column, symbols in PHONEME_CLASSES.items():
        found = [s for s in spans if _bare(s[0]) in symbols]
        if not found:
            raise ValueError(f"the sentence has no {column} phoneme ({' '.join(symbols)})")
        name, begin, n = max(found, key=lambda s: s[2])  # the first of the longest
        middle = speech_pts + begin + n / 2
        guess = int(middle * FPS / sample_rate)
        frame = min(range(guess - 1, guess + 2), key=lambda k: abs(centre(k) - middle))
        picks.append(Pick(column, name, frame, (begin + n / 2) / sample_rate))
    return picks


def make_job(yaw_deg: float = 6.0, pitch_deg: float = 3.0, seed: int = 0) -> Job:
    """The faces and the sentence from this tree's ``tests/face_assets.py``."""
    from tests.face_assets import (
        astronaut_rgb,
        cartoon_keypoints,
        cartoon_rgb,
        hopper_bytes,
        mascot_keypoints,
        mascot_rgb,
        png,
        speak,
    )

    faces = [
        Face("hopper", hopper_bytes()),
        Face("astronaut", png(astronaut_rgb())),
        Face("cartoon", png(cartoon_rgb()), cartoon_keypoints()),
        Face("mascot", png(mascot_rgb()), mascot_keypoints()),
    ]
    audio, sr, timings = speak()
    phonemes = [(p.phoneme, p.num_samples) for p in timings]
    picks = pick_frames(phonemes, sr)
    return Job(faces, audio, sr, phonemes, picks, yaw_deg, pitch_deg, seed)


# Rendering (with whichever ``characters`` is importable)


def _fit(box: tuple[float, float, float, float], width: int, height: int) -> Box:
    """``box`` rounded and moved (not shrunk) to lie inside a width × height frame."""
    x, y, w, h = (round(v) for v in box)
    x = max(0, min(x, width - w)) if w <= width else (width - w) // 2
    y = max(0, min(y, height - h)) if h <= height else (height - h) // 2
    return x, y, w, h


def crop(image: RGB, box: Box) -> RGB:
    """The box of ``image``; parts outside the image are grey."""
    x, y, w, h = box
    out = np.full((h, w, 3), 128, np.uint8)
    ih, iw = image.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, iw), min(y + h, ih)
    if x1 > x0 and y1 > y0:
        out[y0 - y : y1 - y, x0 - x : x1 - x] = image[y0:y1, x0:x1]
    return out


def face_boxes(analysis: dict[str, Any], width: int, height: int) -> tuple[Box, Box, Box]:
    """The face crop (frame pixels), and the mouth zoom and eye boxes inside it.

    From the analysis' ``faceBox`` and ``framing`` (source pixels → frame pixels) and, where
    the mesh has mediapipe's numbering, its mouth corners, inner lips and eye corners."""
    crop_x, crop_y, crop_w, _ = analysis["framing"]["crop"]
    scale = width / crop_w
    bx, by, bw, bh = analysis["faceBox"]
    fx, fy, fw, fh = (bx - crop_x) * scale, (by - crop_y) * scale, bw * scale, bh * scale
    verts = np.asarray(analysis.get("mesh", {}).get("vertices", []), np.float64)
    if verts.ndim == 2 and len(verts) > 291:
        pts = (verts[:, :2] - (crop_x, crop_y)) * scale
        mouth_c = (pts[61] + pts[291] + pts[13] + pts[14]) / 4
        eyes = pts[[33, 133, 362, 263, 159, 145, 386, 374]]
    else:
        mouth_c = np.array([fx + fw / 2, fy + 0.8 * fh])
        eyes = np.array([[fx + 0.2 * fw, fy + 0.4 * fh], [fx + 0.8 * fw, fy + 0.4 * fh]])
    ch = max(1.35 * fh, 1.25 * fw * CELL_H / CELL_W)
    cw = ch * CELL_W / CELL_H
    face = _fit((fx + fw / 2 - cw / 2, fy + fh / 2 - 0.52 * ch, cw, ch), width, height)
    mw, mh = face[2] * MOUTH_SHAPE[0], face[3] * MOUTH_SHAPE[1]
    mx, my = mouth_c[0] - face[0], mouth_c[1] - face[1]
    mouth = _fit((mx - mw / 2, my - 0.4 * mh, mw, mh), face[2], face[3])
    (ex0, ey0), (ex1, ey1) = eyes.min(axis=0), eyes.max(axis=0)
    pad = 0.15 * (ex1 - ex0)
    eye = _fit(
        (ex0 - pad - face[0], ey0 - pad - face[1], ex1 - ex0 + 2 * pad, ey1 - ey0 + 2 * pad),
        face[2],
        face[3],
    )
    return face, mouth, eye


def _advance(gen: Any) -> Any:
    """The next step of the clock; generators older than ``advance()`` draw it at once."""
    return gen.advance() if hasattr(gen, "advance") else gen.next_frame()


def _draw(gen: Any, renderer: Any, step: Any, params: Any = None) -> RGB:
    """Draw ``step``, or ``step`` with other ``params``, the way the generator draws."""
    if hasattr(gen, "draw"):
        if params is not None:
            step = dataclasses.replace(step, params=params)
        return np.asarray(gen.draw(step).image)
    if params is None:
        return np.asarray(step.image)
    return np.asarray(renderer.render(params))


def render_face(face: Face, job: Job) -> Rendered:
    """Analyse ``face``, speak the job's sentence with it, and crop the picked frames."""
    from characters.face import (
        AudioChunk,
        FaceVideoGenerator,
        PhonemeTiming,
        WarpRenderer,
        analyse,
    )

    analysis = analyse(face.image, face.keypoints)
    renderer = WarpRenderer(face.image, analysis)
    gen = FaceVideoGenerator(renderer, sample_rate=job.sample_rate, fps=FPS, seed=job.seed)
    images: dict[str, RGB] = {}
    # Every frame is drawn in order, as in a call, in case a renderer keeps state between them.
    rest = _advance(gen)
    images["rest"] = _draw(gen, renderer, rest)
    for _ in range(IDLE_FRAMES - 1):
        _draw(gen, renderer, _advance(gen))
    timings = [PhonemeTiming(name, n) for name, n in job.phonemes]
    gen.push_audio(AudioChunk(job.audio, job.sample_rate, timings))
    gen.end_segment()
    wanted = {p.frame: p.column for p in job.picks}
    for k in range(IDLE_FRAMES, max(wanted) + 1):
        image = _draw(gen, renderer, _advance(gen))
        if k in wanted:
            images[wanted[k]] = image
    # Blink and turn: attributes changed on the generator's own params (FaceParams may gain
    # fields), drawn last.
    blink = copy.copy(rest.params)
    blink.blink_left = blink.blink_right = 1.0
    images["blink"] = _draw(gen, renderer, rest, blink)
    turn = copy.copy(rest.params)
    turn.yaw = math.radians(job.yaw_deg)
    turn.pitch = math.radians(job.pitch_deg)
    images["turn"] = _draw(gen, renderer, rest, turn)
    h, w = images["rest"].shape[:2]
    face_box, mouth_box, eye_box = face_boxes(analysis, w, h)
    frames = {c: crop(images[c], face_box) for c in COLUMNS}
    mouths = {c: crop(frames[c], mouth_box) for c in MOUTH_COLUMNS}
    return Rendered(face.name, frames, mouths, mouth_box, eye_box)


def render_all(job: Job, prefix: str = "") -> list[Rendered]:
    out = []
    for face in job.faces:
        t = time.perf_counter()
        out.append(render_face(face, job))
        log(f"{prefix}{face.name}: rendered in {time.perf_counter() - t:.1f} s")
    return out


# Passing jobs and results between processes


def save_job(job: Job, path: Path) -> None:
    spec = {
        "faces": [{"name": f.name, "keypoints": f.keypoints} for f in job.faces],
        "sample_rate": job.sample_rate,
        "phonemes": job.phonemes,
        "picks": [dataclasses.asdict(p) for p in job.picks],
        "yaw_deg": job.yaw_deg,
        "pitch_deg": job.pitch_deg,
        "seed": job.seed,
    }
    images = {f"image_{i}": np.frombuffer(f.image, np.uint8) for i, f in enumerate(job.faces)}
    np.savez(path, spec=np.array(json.dumps(spec)), audio=job.audio, **images)  # type: ignore[arg-type]


def load_job(path: Path) -> Job:
    with np.load(path) as data:
        spec = json.loads(str(data["spec"]))
        faces = [
            Face(f["name"], data[f"image_{i}"].tobytes(), f["keypoints"])
            for i, f in enumerate(spec["faces"])
        ]
        audio = data["audio"].astype(np.int16)
    return Job(
        faces,
        audio,
        int(spec["sample_rate"]),
        [(str(name), int(n)) for name, n in spec["phonemes"]],
        [Pick(**p) for p in spec["picks"]],
        float(spec["yaw_deg"]),
        float(spec["pitch_deg"]),
        int(spec["seed"]),
    )


def save_rendered(rendered: list[Rendered], path: Path) -> None:
    arrays: dict[str, Any] = {"names": np.array([r.name for r in rendered])}
    for i, r in enumerate(rendered):
        arrays[f"frames_{i}"] = np.stack([r.frames[c] for c in COLUMNS])
        arrays[f"mouths_{i}"] = np.stack([r.mouths[c] for c in MOUTH_COLUMNS])
        arrays[f"boxes_{i}"] = np.array([r.mouth_box, r.eye_box])
    np.savez_compressed(path, **arrays)


def load_rendered(path: Path) -> list[Rendered]:
    out = []
    with np.load(path) as data:
        for i, name in enumerate(data["names"]):
            frames, mouths, boxes = data[f"frames_{i}"], data[f"mouths_{i}"], data[f"boxes_{i}"]
            mb, eb = (tuple(int(v) for v in b) for b in boxes)
            out.append(
                Rendered(
                    str(name),
                    dict(zip(COLUMNS, frames, strict=True)),
                    dict(zip(MOUTH_COLUMNS, mouths, strict=True)),
                    (mb[0], mb[1], mb[2], mb[3]),
                    (eb[0], eb[1], eb[2], eb[3]),
                )
            )
    return out


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"face_sheet: git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A detached git worktree of ``rev`` in a temporary folder, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="face-sheet-"))
    tree = tmp / "tree"
    try:
        _git("worktree", "add", "--detach", str(tree), rev)
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=False)


def _strays(label: str) -> bool:
    """Whether a loaded ``characters`` module comes from outside the current folder: an
    editable install of another tree fills in the modules that an old revision lacks."""
    root = Path.cwd().resolve()
    strays = sorted(
        f"{name} ({module.__file__})"
        for name, module in list(sys.modules.items())
        if (name == "characters" or name.startswith("characters."))
        and getattr(module, "__file__", None)
        and not Path(str(module.__file__)).resolve().is_relative_to(root)
    )
    if strays:
        log(f"{label}: these modules do not come from {root}: {', '.join(strays)}")
    return bool(strays)


def render_at(rev: str, job: Job, label: str) -> list[Rendered]:
    """Render ``job`` with the ``characters`` package of git revision ``rev``."""
    with worktree(rev) as tree, tempfile.TemporaryDirectory(prefix="face-sheet-job-") as tmp:
        job_path, out_path = Path(tmp) / "job.npz", Path(tmp) / "frames.npz"
        save_job(job, job_path)
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])
        )
        cmd = [sys.executable, str(Path(__file__).resolve()), "--render-job", str(job_path)]
        cmd += ["--render-out", str(out_path), "--render-label", label]
        done = subprocess.run(cmd, cwd=tree, env=env)
        if done.returncode:
            raise SystemExit(f"face_sheet: rendering {rev} failed (exit {done.returncode})")
        return load_rendered(out_path)


# The sheets


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (it has the IPA symbols), else Pillow's own font."""
    for path in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def column_titles(job: Job, columns: Sequence[str]) -> list[str]:
    picks = {p.column: p for p in job.picks}
    titles = {
        "rest": "rest",
        "blink": "blink",
        "turn": f"yaw {job.yaw_deg:g}° pitch {job.pitch_deg:g}°",
    }
    for c, p in picks.items():
        titles[c] = f"{c}  /{p.phoneme}/ {p.time_s:.2f}s"
    return [titles[c] for c in columns]


def sheet_size(n_rows: int, n_faces: int, n_columns: int, cell: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a sheet with ``n_rows`` rows of ``n_faces`` faces."""
    w = LABEL_W + n_columns * (cell[0] + GAP)
    h = TITLE_H + HEADER_H + n_rows * (cell[1] + GAP) + (n_faces - 1) * FACE_GAP
    return w, h


def contact_sheet(
    versions: Sequence[tuple[str, list[Rendered]]],
    columns: Sequence[str],
    titles: Sequence[str],
    title: str,
    *,
    mouth: bool = False,
) -> RGB:
    """Rows: for each face, one per version (in the given order); columns: ``columns``.

    ``title`` is one or two lines; ``titles`` are the columns' titles."""
    first = versions[0][1]
    cell_size = MOUTH_CELL if mouth else (CELL_W, CELL_H)
    n_faces = len(first)
    size = sheet_size(n_faces * len(versions), n_faces, len(columns), cell_size)
    sheet = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    big, small = _font(15), _font(12)
    for k, line in enumerate(title.split("\n")[:2]):  # a heading and a muted line under it
        draw.text((8, 6 + 20 * k), line, fill=MUTED if k else INK, font=small if k else big)
    for j, t in enumerate(titles):
        x = LABEL_W + j * (cell_size[0] + GAP)
        draw.text((x + 4, TITLE_H + 5), t, fill=INK, font=small)
    y = TITLE_H + HEADER_H
    for i in range(n_faces):
        for label, rendered in versions:
            r = rendered[i]
            draw.text((8, y + 8), r.name, fill=INK, font=big)
            if label:
                draw.text((8, y + 30), label, fill=MUTED, font=small)
            for j, c in enumerate(columns):
                img = Image.fromarray(r.mouths[c] if mouth else r.frames[c])
                img = img.resize(cell_size, Image.Resampling.LANCZOS)
                sheet.paste(img, (LABEL_W + j * (cell_size[0] + GAP), y))
            y += cell_size[1] + GAP
        y += FACE_GAP
    return np.asarray(sheet)


def _tree_label() -> str:
    """This tree's commit, and whether the code that draws the sheet has changed since."""
    code = ("characters", "scripts", "tests")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", *code))
    return f"{_git('rev-parse', '--short', 'HEAD')}{' + changes' if dirty else ''}"


def _sentence() -> str:
    from tests.face_assets import SENTENCE

    return SENTENCE


def _differences(before: list[Rendered], after: list[Rendered]) -> None:
    for b, a in zip(before, after, strict=True):
        changed = [
            c
            for c in COLUMNS
            if b.frames[c].shape != a.frames[c].shape
            or not np.array_equal(b.frames[c], a.frames[c])
        ]
        log(
            f"{a.name}: before and after differ in {len(changed)} of {len(COLUMNS)} frames {changed}"
        )


def _render_job(job: Path, out: Path, label: str) -> int:
    """Render a job with the ``characters`` of the current folder (a revision's worktree)."""
    import characters.face

    log(f"{label}: characters from {Path(characters.__file__).parent}")
    if _strays(label):
        return 1
    rendered = render_all(load_job(job), f"{label}: ")
    if _strays(label):  # modules imported while rendering
        return 1
    save_rendered(rendered, out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
        pass

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=Formatter)
    parser.add_argument(
        "--before",
        metavar="REV",
        help="also render with the code of git revision REV (in a temporary worktree); its "
        "rows go above this tree's",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PNG",
        default=ROOT / "docs/img/face-sheet.png",
        help="the contact sheet",
    )
    parser.add_argument(
        "--mouth-out",
        type=Path,
        metavar="PNG",
        default=ROOT / "docs/img/face-mouths.png",
        help="the mouth zooms (rest, A, O, E)",
    )
    parser.add_argument(
        "--yaw-deg",
        type=float,
        default=8.0,
        help="head yaw of the turned-head column, degrees (default: the largest turn)",
    )
    parser.add_argument(
        "--pitch-deg", type=float, default=3.0, help="head pitch of the turned-head column, degrees"
    )
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed")
    parser.add_argument(
        "--render-job",
        type=Path,
        metavar="NPZ",
        help="internal: render this job file with the importable code",
    )
    parser.add_argument(
        "--render-out", type=Path, metavar="NPZ", help="internal: where --render-job writes"
    )
    parser.add_argument("--render-label", default="", help="internal: prefix of progress lines")
    args = parser.parse_args(argv)

    if args.render_job:  # the subprocess of --before: PYTHONPATH points at that tree
        return _render_job(args.render_job, args.render_out, args.render_label)

    sys.path.insert(0, str(ROOT))
    from tests.face_assets import espeak_available

    if not espeak_available():
        log("needs espeak-ng: apt-get install espeak-ng")
        return 1
    started = time.perf_counter()
    job = make_job(args.yaw_deg, args.pitch_deg, args.seed)
    picked = ", ".join(f"{p.column}=/{p.phoneme}/ frame {p.frame}" for p in job.picks)
    log(f"{len(job.audio) / job.sample_rate:.2f} s of speech; {picked}")
    versions: list[tuple[str, list[Rendered]]] = []
    if args.before:
        full = _git("rev-parse", f"{args.before}^{{commit}}")
        sha = _git("rev-parse", "--short", full)
        label = f"before: {sha}" if full.startswith(args.before) else f"before: {args.before} {sha}"
        log(f"rendering {label} in a temporary worktree")
        versions.append((label, render_at(args.before, job, label)))
    tree = _tree_label()
    log(f"rendering this tree ({tree})")
    versions.append((f"after: {tree}" if args.before else "", render_all(job)))
    if args.before:
        _differences(versions[0][1], versions[1][1])
    what = f"{versions[0][0]}, after: {tree}" if args.before else tree
    title = f"scripts/face_sheet.py: {what}\n“{_sentence()}”"
    outputs = (
        (args.out, COLUMNS, False),
        (args.mouth_out, MOUTH_COLUMNS, True),
    )
    for path, columns, mouth in outputs:
        sheet = contact_sheet(versions, columns, column_titles(job, columns), title, mouth=mouth)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(path, optimize=True)
        log(f"wrote {path} ({sheet.shape[1]}x{sheet.shape[0]})")
    log(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
