"""A small, pure-Python reader of GGUF headers (the llama.cpp model format, versions 2 and 3).

It reads the header, every metadata key/value pair and every tensor's name, shape and type, but
never the tensor data, so it tells what a ``.gguf`` file really holds without loading it:
``general.name``, the architecture and its hyper-parameters, the quantisation
(``general.file_type``), whether a chat template ships, and the parameter count.

Layout (little-endian): ``b"GGUF"``, ``uint32`` version, ``uint64`` tensor count, ``uint64``
key/value count, the key/value pairs (key string, ``uint32`` value type, value), then one info
record per tensor (name string, ``uint32`` dimension count, ``uint64`` dimensions, ``uint32``
ggml type, ``uint64`` data offset). A string is a ``uint64`` length and UTF-8 bytes.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from characters.errors import InvalidInput

MAGIC = b"GGUF"
MAX_KEPT_ARRAY = 64
"""Arrays longer than this (token lists, merges) are summarised as :class:`GGUFArray`."""

FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    24: "IQ1_S",
    25: "IQ4_NL",
    30: "IQ4_XS",
    32: "BF16",
}
"""``general.file_type`` (llama.cpp's ``llama_ftype``) → the usual quantisation name."""

# GGUF value type → struct format of one scalar (8 = string and 9 = array are handled apart).
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9

Value: TypeAlias = "int | float | bool | str | list[Value] | GGUFArray"


class InvalidGGUF(InvalidInput):
    """A file that is not a readable GGUF model."""


@dataclass(frozen=True, slots=True)
class GGUFArray:
    """A long metadata array, kept as its element type and length only."""

    item_type: int
    length: int


@dataclass(frozen=True, slots=True)
class GGUFTensor:
    """One tensor's header record. ``shape`` is in GGUF order (fastest-varying first)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What a GGUF file's header says."""

    version: int
    metadata: Mapping[str, Value]
    tensors: tuple[GGUFTensor, ...] = field(repr=False)

    @property
    def tensor_count(self) -> int:
        return len(self.tensors)

    @property
    def name(self) -> str | None:
        return _str(self.metadata.get("general.name"))

    @property
    def architecture(self) -> str | None:
        return _str(self.metadata.get("general.architecture"))

    @property
    def file_type(self) -> str | None:
        """The quantisation, e.g. ``Q4_K_M`` (``None`` when the file does not say)."""
        value = self.metadata.get("general.file_type")
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        return FILE_TYPES.get(value, f"type {value}")

    @property
    def has_chat_template(self) -> bool:
        return bool(_str(self.metadata.get("tokenizer.chat_template")))

    def arch_value(self, key: str) -> int | None:
        """An integer hyper-parameter of the architecture, e.g. ``block_count``."""
        value = self.metadata.get(f"{self.architecture}.{key}")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def context_length(self) -> int | None:
        return self.arch_value("context_length")

    @property
    def block_count(self) -> int | None:
        return self.arch_value("block_count")

    @property
    def embedding_length(self) -> int | None:
        return self.arch_value("embedding_length")

    @property
    def vocab_size(self) -> int | None:
        """Rows of the token embedding (``token_embd.weight``), else the tokenizer's list."""
        for tensor in self.tensors:
            if tensor.name == "token_embd.weight" and len(tensor.shape) == 2:
                return tensor.shape[1]
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        if isinstance(tokens, GGUFArray):
            return tokens.length
        return len(tokens) if isinstance(tokens, list) else None

    @property
    def parameter_count(self) -> int:
        return sum(t.elements for t in self.tensors)

    def summary(self) -> dict[str, object]:
        """The facts ``characters models check`` shows, as plain JSON-able values."""
        return {
            "gguf_version": self.version,
            "name": self.name,
            "architecture": self.architecture,
            "file_type": self.file_type,
            "chat_template": self.has_chat_template,
            "context_length": self.context_length,
            "block_count": self.block_count,
            "embedding_length": self.embedding_length,
            "vocab_size": self.vocab_size,
            "tensor_count": self.tensor_count,
            "parameters": self.parameter_count,
        }


def _str(value: Value | None) -> str | None:
    return value if isinstance(value, str) else None


class _Cursor:
    """Sequential little-endian reads over a memory map, with bounds checks."""

    def __init__(self, buf: mmap.mmap, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def take(self, fmt: str) -> int | float | bool:
        size = struct.calcsize(fmt)
        self.need(size)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value  # type: ignore[no-any-return]

    def u32(self) -> int:
        return int(self.take("<I"))

    def u64(self) -> int:
        return int(self.take("<Q"))

    def string(self) -> str:
        length = self.u64()
        self.need(length)
        raw = self.buf[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.u64()
        self.need(length)
        self.pos += length

    def need(self, size: int) -> None:
        if self.pos + size > len(self.buf):
            raise InvalidGGUF(f"{self.path} is truncated: its GGUF header ends early.")

    def value(self, value_type: int) -> Value:
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            return self.array()
        fmt = _SCALARS.get(value_type)
        if fmt is None:
            raise InvalidGGUF(f"{self.path}: unknown GGUF value type {value_type}.")
        return self.take(fmt)

    def array(self) -> Value:
        item_type, length = self.u32(), self.u64()
        if length <= MAX_KEPT_ARRAY:
            return [self.value(item_type) for _ in range(length)]
        if item_type == _STRING:
            for _ in range(length):
                self.skip_string()
        elif item_type in _SCALARS:
            size = struct.calcsize(_SCALARS[item_type]) * length
            self.need(size)
            self.pos += size
        else:  # arrays of arrays: walk them
            for _ in range(length):
                self.value(item_type)
        return GGUFArray(item_type, length)


def read_gguf(path: Path) -> GGUFInfo:
    """Read the header, metadata and tensor records of the GGUF file at ``path``.

    Raises :class:`InvalidGGUF` for a file that is not GGUF, or is cut short."""
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(_Cursor(buf, path))
    except (OSError, ValueError) as e:  # ValueError: mmap of an empty file
        raise InvalidGGUF(f"cannot read {path} as GGUF: {e}") from e


def _parse(cur: _Cursor) -> GGUFInfo:
    cur.need(4)
    if cur.buf[:4] != MAGIC:
        raise InvalidGGUF(f"{cur.path} is not a GGUF file (it does not start with 'GGUF').")
    cur.pos = 4
    version = cur.u32()
    if version not in (2, 3):
        raise InvalidGGUF(f"{cur.path}: GGUF version {version} is not supported (2 or 3).")
    tensor_count, kv_count = cur.u64(), cur.u64()
    metadata: dict[str, Value] = {}
    for _ in range(kv_count):
        key = cur.string()
        metadata[key] = cur.value(cur.u32())
    tensors = []
    for _ in range(tensor_count):
        name = cur.string()
        dims = tuple(cur.u64() for _ in range(cur.u32()))
        ggml_type = cur.u32()
        cur.u64()  # data offset
        tensors.append(GGUFTensor(name, dims, ggml_type))
    return GGUFInfo(version, metadata, tuple(tensors))
