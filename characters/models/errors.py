"""Errors of the model registry. All are :class:`~characters.errors.InvalidInput`: a setting
names a model that is unknown, not installed or damaged, and the message says how to fix it."""

from __future__ import annotations

from characters.errors import InvalidInput


class UnknownModel(InvalidInput):
    """A model id that is not in the registry."""


class ModelMissing(InvalidInput):
    """The package(s) that ship the model are not installed; the message gives the pip command."""


class ModelCorrupt(InvalidInput):
    """A model file (or a part of a split model) is missing, cut short or has the wrong digest."""
