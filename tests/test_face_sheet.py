"""scripts/face_sheet.py: the matched frames, the sheets' layout, --before, and the mascot face."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from characters.face import FaceParams, WarpRenderer, analyse
from characters.face.keypoints import check_keypoints
from tests.face_assets import MASCOT_SIZE, espeak_available, mascot_keypoints, mascot_rgb

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "face_sheet.py"
needs_espeak = pytest.mark.skipif(
    not espeak_available(), reason="needs espeak-ng (apt-get install espeak-ng)"
)


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("face_sheet", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fs = _load_script()


def _changed(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int] | None = None) -> float:
    """The share of pixels (inside ``box``, x y w h) that differ clearly between a and b."""
    if box is not None:
        x, y, w, h = box
        a, b = a[y : y + h, x : x + w], b[y : y + h, x : x + w]
    return float((np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 40).mean())


Rendered = tuple[Any, list[Any]]
"""The job and the faces rendered by this tree (``face_sheet.Job``, ``face_sheet.Rendered``)."""


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    job = fs.make_job()
    return job, fs.render_all(job)


def test_picks_are_the_middle_of_the_longest_phoneme_of_each_class() -> None:
    sr = 16_000  # 640 samples a frame at 25 fps
    phonemes = [("_", 3200), ("ˈæ", 1280), ("m", 640), ("ɪ", 960), ("eɪ", 2000)]
    phonemes += [("ɔː", 1280), ("f", 640), ("ɑ", 1920), ("oʊɹ", 4000)]
    picks = {p.column: p for p in fs.pick_frames(phonemes, sr)}
    speech = fs.IDLE_FRAMES
    assert picks["A"].phoneme == "ɑ"  # the longer of æ and ɑ
    assert picks["E"].phoneme == "eɪ"
    assert picks["O"].phoneme == "ɔː"  # an r-coloured vowel is no O
    # ɑ starts at sample 10_000 and lasts 1920: its middle (10_960) is in frame 17 of speech
    assert picks["A"].frame == speech + 10_960 // 640
    assert picks["A"].time_s == pytest.approx(10_960 / sr)
    assert picks["M"].frame == speech + (4480 + 320) // 640
    with pytest.raises(ValueError, match="no F phoneme"):
        fs.pick_frames([("a", 1000), ("o", 1000), ("e", 1000), ("m", 1000)], sr)


@needs_espeak
@pytest.mark.timeout(180)
def test_matched_frames_differ_where_they_must(rendered: Rendered) -> None:
    job, faces = rendered
    assert [r.name for r in faces] == ["hopper", "astronaut", "cartoon", "mascot"]
    assert {p.column for p in job.picks} == {"A", "O", "E", "M", "F"}
    for r in faces:
        f = r.frames
        shapes = {img.shape for img in f.values()}
        assert len(shapes) == 1, r.name  # one crop for every frame of a face
        h, w, _ = shapes.pop()
        assert abs(w / h - fs.CELL_W / fs.CELL_H) < 0.01
        assert set(r.mouths) == set(fs.MOUTH_COLUMNS)
        rest, mouth, eyes = f["rest"], r.mouth_box, r.eye_box
        assert _changed(f["A"], rest, mouth) > 0.1, r.name
        assert _changed(f["O"], rest, mouth) > 0.05, r.name
        assert _changed(f["E"], rest, mouth) > 0.05, r.name
        assert _changed(f["A"], f["M"], mouth) > 0.05, r.name  # open vs closed
        assert _changed(f["blink"], rest, eyes) > 0.03, r.name
        assert _changed(f["blink"], rest, mouth) < 0.005, r.name  # a blink is rest otherwise
        assert _changed(f["turn"], rest) > 0.03, r.name
        assert np.array_equal(r.mouths["A"], fs.crop(f["A"], mouth))


@needs_espeak
@pytest.mark.timeout(180)
def test_sheets_have_a_row_per_face_and_version(rendered: Rendered) -> None:
    job, faces = rendered
    n = len(faces)
    for versions in ([("", faces)], [("before: x", faces), ("after: y", faces)]):
        rows = n * len(versions)
        sheet = fs.contact_sheet(versions, fs.COLUMNS, fs.column_titles(job, fs.COLUMNS), "t")
        w, h = fs.sheet_size(rows, n, len(fs.COLUMNS), (fs.CELL_W, fs.CELL_H))
        assert sheet.shape == (h, w, 3)
        assert fs.CELL_H * rows < h < 1.3 * fs.CELL_H * rows
        titles = fs.column_titles(job, fs.MOUTH_COLUMNS)
        mouths = fs.contact_sheet(versions, fs.MOUTH_COLUMNS, titles, "t", mouth=True)
        w, h = fs.sheet_size(rows, n, len(fs.MOUTH_COLUMNS), fs.MOUTH_CELL)
        assert mouths.shape == (h, w, 3)
    # the first cell is the first face at rest, scaled to the cell
    y, x = fs.TITLE_H + fs.HEADER_H, fs.LABEL_W
    cell = sheet[y : y + fs.CELL_H, x : x + fs.CELL_W].astype(int)
    rest = Image.fromarray(faces[0].frames["rest"]).resize((fs.CELL_W, fs.CELL_H))
    assert np.abs(cell - np.asarray(rest, int)).mean() < 2


@pytest.mark.slow  # two processes render every face: about 15 s on a quiet core
@needs_espeak
@pytest.mark.timeout(300)
def test_before_head_renders_in_a_worktree_it_removes(tmp_path: Path) -> None:
    out, mouths = tmp_path / "sheet.png", tmp_path / "mouths.png"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--before", "HEAD", "--out", str(out)]
        + ["--mouth-out", str(mouths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "before: HEAD" in done.stderr and "characters from " in done.stderr
    n = 4
    w, h = fs.sheet_size(2 * n, n, len(fs.COLUMNS), (fs.CELL_W, fs.CELL_H))
    assert Image.open(out).size == (w, h)
    w, h = fs.sheet_size(2 * n, n, len(fs.MOUTH_COLUMNS), fs.MOUTH_CELL)
    assert Image.open(mouths).size == (w, h)
    trees = subprocess.run(
        ["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "face-sheet-" not in trees.stdout


def test_mascot_analyses_with_its_keypoints_and_renders() -> None:
    rgb, kp = mascot_rgb(), mascot_keypoints()
    assert rgb.shape == (MASCOT_SIZE[1], MASCOT_SIZE[0], 3)
    assert check_keypoints(kp, MASCOT_SIZE)["chin"] == kp["chin"]  # the API's checks, no folds
    analysis = analyse(rgb, kp)
    assert analysis["source"] == "keypoints"
    assert not analysis["mouth"]["openAtRest"]
    r = WarpRenderer(rgb, analysis)
    rest = r.render(FaceParams())
    assert np.array_equal(rest, r.still)
    face, mouth, eyes = fs.face_boxes(analysis, r.width, r.height)
    crops = {
        k: fs.crop(r.render(p), face)
        for k, p in {
            "rest": FaceParams(),
            "open": FaceParams(open=0.85, spread=0.1),
            "blink": FaceParams(blink_left=1.0, blink_right=1.0),
        }.items()
    }
    assert _changed(crops["open"], crops["rest"], mouth) > 0.1
    assert _changed(crops["open"], crops["rest"], eyes) < 0.01
    assert _changed(crops["blink"], crops["rest"], eyes) > 0.05
    assert _changed(crops["blink"], crops["rest"], mouth) < 0.005
