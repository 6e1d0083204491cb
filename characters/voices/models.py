"""Where the voice engines find their models.

Models come from the model registry (:func:`characters.models.resolve`), which assembles split
packages into the models dir (``Settings.resolved_models_dir``, by default ``<data dir>/models``).
That folder is the server's (set by :func:`configure` at start; by default the one the
environment gives, see :mod:`characters.config`).
"""

from __future__ import annotations

import threading
from pathlib import Path

_lock = threading.Lock()
_models_dir: Path | None = None


def configure(models_dir: Path) -> None:
    """Use ``models_dir`` for the voice models (call once at start)."""
    global _models_dir
    with _lock:
        _models_dir = models_dir


def models_dir() -> Path:
    """The models dir voices use: the configured one, or the environment's."""
    global _models_dir
    with _lock:
        if _models_dir is None:
            from characters.config import load_settings

            _models_dir = load_settings().resolved_models_dir
        return _models_dir


def model_path(model_id: str) -> Path:
    """The local file of an installed model, or :class:`characters.models.ModelMissing` (whose
    message gives the ``pip install`` that fixes it)."""
    from characters.models import resolve

    return resolve(model_id, models_dir())
