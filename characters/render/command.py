"""``characters render``: the work behind the CLI command (options are declared in ``cli.py``,
which imports this module only when the command runs).

Every failure the user can fix ends the command with one line on stderr, ``error: ...``, and
exit status 1; the output file is written under a temporary name and only renamed into place
when the video is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from characters.errors import CharactersError, InvalidImage
from characters.face.analysis import NO_FACE, analyse
from characters.face.framing import Orientation
from characters.face.keypoints import InvalidKeypoints
from characters.render.audio import UnreadableAudio, decode_audio
from characters.render.video import render_video
from characters.voices.presets import PRESET_IDS
from characters.voices.tts import SpeechChunk, synthesize

DEFAULT_VOICE = "vincent"


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Hide what native libraries (mediapipe's TFLite and glog) write straight to fd 2."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _ProgressLine:
    """``rendering  42%`` on stderr: redrawn in place on a terminal, every 10% otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.shown = -1

    def say(self, message: str) -> None:
        if self.enabled:
            click.echo(message, err=True)

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        pct = int(fraction * 100)
        if self.tty:
            if pct != self.shown:
                click.echo(f"\rrendering {pct:3d}%", nl=False, err=True)
        elif pct // 10 != self.shown // 10 or self.shown < 0:
            click.echo(f"rendering {pct:3d}%", err=True)
        self.shown = pct

    def done(self) -> None:
        if self.tty and self.shown >= 0:
            click.echo("", err=True)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        _fail(f"{what} {path} does not exist.")
    except IsADirectoryError:
        _fail(f"{what} {path} is a directory, not a file.")
    except OSError as e:
        _fail(f"cannot read {what} {path}: {e.strerror or e}.")


def render_command(
    *,
    image_path: Path,
    text: str | None,
    audio_path: Path | None,
    voice: str | None,
    keypoints_path: Path | None,
    fps: float,
    orientation: Orientation,
    seed: int,
    output_path: Path,
    quiet: bool,
) -> None:
    # Everything the user can get wrong is checked before the slow work starts.
    if (text is None) == (audio_path is None):
        _fail("give the speech with either --text or --audio (one of them).")
    if text is not None and not text.strip():
        _fail("--text is empty.")
    if audio_path is not None and voice is not None:
        _fail("--voice applies to --text only; --audio is lip-synced as recorded.")
    preset = (voice or DEFAULT_VOICE).strip().lower()
    if preset not in PRESET_IDS:
        _fail(f"unknown voice {voice!r}; choose one of: {', '.join(PRESET_IDS)}.")
    if output_path.suffix.lower() != ".mp4":
        _fail(f"the output {output_path} must end in .mp4.")
    out_dir = output_path.parent
    if not out_dir.is_dir():
        _fail(f"cannot write {output_path}: the folder {out_dir} does not exist.")
    image = _read(image_path, "image")
    keypoints: dict[str, Any] | None = None
    if keypoints_path is not None:
        try:
            keypoints = json.loads(_read(keypoints_path, "keypoints file"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            _fail(f"{keypoints_path} is not valid JSON ({e}).")
        if not isinstance(keypoints, dict):
            _fail(f"{keypoints_path} must hold a JSON object of named keypoints.")
    audio = _read(audio_path, "audio file") if audio_path is not None else None

    progress = _ProgressLine(not quiet)
    started = time.perf_counter()

    speech: list[SpeechChunk] = []
    if audio is not None:
        progress.say(f"decoding {audio_path}")
        try:
            speech = [decode_audio(audio, what=str(audio_path))]
        except UnreadableAudio as e:
            _fail(e.message)

    progress.say(f"analysing the face in {image_path}")
    try:
        with _native_stderr_silenced():
            analysis = analyse(image, keypoints, orientation=orientation)
    except InvalidKeypoints as e:
        _fail(f"{keypoints_path}: {e.message}")
    except InvalidImage as e:
        if e.message == NO_FACE:
            _fail(
                f"no face was found in {image_path}. Use a clear, front-facing photo, or for a "
                "drawn or stylised face pass --keypoints points.json with its eye, mouth, chin "
                "and face-outline points (format: docs/face-keypoints.md)."
            )
        _fail(f"{image_path}: {e.message}")

    if audio is None:
        assert text is not None
        progress.say(f"speaking the text with voice {preset} (Piper)")
        speech = list(synthesize(text, preset))
        if not speech:
            _fail("--text produced no speech (is it only punctuation?).")

    tmp = out_dir / f".{output_path.name}.{os.getpid()}.tmp"
    try:
        result = render_video(
            image,
            speech,
            tmp,
            analysis=analysis,
            fps=fps,
            seed=seed,
            progress=progress,
        )
        os.replace(tmp, output_path)
    except KeyboardInterrupt:
        progress.done()
        click.echo("interrupted", err=True)
        sys.exit(130)
    except CharactersError as e:
        progress.done()
        _fail(e.message)
    except OSError as e:
        progress.done()
        _fail(f"cannot write {output_path}: {e.strerror or e}.")
    finally:
        tmp.unlink(missing_ok=True)
    progress.done()
    total = time.perf_counter() - started
    progress.say(
        f"wrote {output_path}: {result.duration_s:.2f} s of video ({result.speech_s:.2f} s of "
        f"speech), {result.width}x{result.height} at {result.fps:g} fps, in {total:.1f} s "
        f"(rendering {result.cost_per_second:.2f} s per second of video)"
    )
    click.echo(str(output_path))
