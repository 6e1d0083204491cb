"""Offline models: which pip package ships each model, and where its files are on this machine.

::

    from characters.models import resolve, ModelMissing
    path = resolve("whisper-tiny.en", settings.resolved_models_dir)   # a folder, or a .onnx/.gguf/.npz file

The registry (:data:`MODELS`) records, per model id, the pinned packages, the files inside them
with sizes and SHA-256 digests, the licence and the provenance. Models split across several
packages are assembled into ``<models dir>/<id>/`` (default ``<data dir>/models``) on first use. ``characters models check``
reports all of it (docs/models.md).
"""

from characters.models.errors import ModelCorrupt, ModelMissing, UnknownModel
from characters.models.registry import (
    MODELS,
    Model,
    ModelFile,
    Package,
    Part,
    get_model,
    required_models,
)
from characters.models.store import Progress, is_assembled, resolve, resolve_model

__all__ = [
    "MODELS",
    "Model",
    "ModelCorrupt",
    "ModelFile",
    "ModelMissing",
    "Package",
    "Part",
    "Progress",
    "UnknownModel",
    "get_model",
    "is_assembled",
    "required_models",
    "resolve",
    "resolve_model",
]
