"""``characters voices``: list the preset voices and hear (save) a preview of one.

Register with ``main.add_command(voices)`` in ``characters/cli.py``. Errors the user can fix end
the command with one line on stderr, ``error: ...``, and exit status 1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import NoReturn

import click

from characters.errors import CharactersError
from characters.voices.presets import PRESETS


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group("voices")
def voices() -> None:
    """List the 30 preset voices and preview them."""


@voices.command("list")
def list_voices() -> None:
    """Print each preset: id, name, gender, engine voice and description."""
    from characters.voices.tts import ENGINE_VOICES

    for preset in PRESETS.values():
        voice = ENGINE_VOICES[preset.id]
        click.echo(
            f"{preset.id:<9} {preset.name:<9} {preset.gender:<7} "
            f"{voice.describe():<44} {preset.description}"
        )


@voices.command("preview")
@click.argument("name")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="WAV file to write [default: NAME.wav].",
)
@click.option("--text", "-t", default=None, help="What to say [default: a short introduction].")
def preview(name: str, output: Path | None, text: str | None) -> None:
    """Synthesize a preset voice (NAME is a preset id such as clara) to a WAV file."""
    from characters.voices.preview import render
    from characters.voices.tts import engine_voice

    preset_id = name.lower()
    out = output or Path(f"{preset_id}.wav")
    started = time.perf_counter()
    try:
        voice = engine_voice(preset_id)
        data = render(preset_id, text)
        out.write_bytes(data)
    except CharactersError as e:
        _fail(e.message)
    except OSError as e:
        _fail(f"cannot write {out}: {e.strerror or e}")
    elapsed = time.perf_counter() - started
    click.echo(f"{out}: {preset_id} ({voice.describe()}), made in {elapsed:.1f} s", err=True)
