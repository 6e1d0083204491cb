"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, without torch.

The model (``all-minilm-l6-v2-int8``) and its WordPiece tokenizer (``all-minilm-l6-v2-tokenizer``,
only ``tokenizer.json`` is read) come from the model registry. Texts are tokenized (lower case,
at most :data:`MAX_INPUT_TOKENS` word pieces), run through the model, mean-pooled over their
tokens and scaled to unit length, so the dot product of two vectors is their cosine.

One :class:`Embedder` per process (:func:`load_embedder`): loading takes about 0.3 s. It runs on
one CPU thread, on the calling thread: a question (about 5 ms) is never queued behind a document
being embedded on another thread, and ingestion leaves the other cores to live calls.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from characters.models import resolve

MODEL_ID = "all-minilm-l6-v2-int8"
TOKENIZER_ID = "all-minilm-l6-v2-tokenizer"
DIMENSIONS = 384
MAX_INPUT_TOKENS = 256
"""Word pieces the model reads of one text (its ``max_seq_length``); the rest is cut off."""
BATCH = 16
"""Texts per model run (sorted by length first, so a batch pads little)."""

Vectors = npt.NDArray[np.float32]
"""``(n, DIMENSIONS)`` float32 rows of unit length."""


class Embedder:
    """Turns texts into unit vectors, and counts their tokens. Thread-safe."""

    def __init__(self, model_path: Path, tokenizer_path: Path, *, threads: int = 1) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]
        from tokenizers import Tokenizer

        self._counter = Tokenizer.from_file(str(tokenizer_path))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_INPUT_TOKENS)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self.model = MODEL_ID

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text (without the model's [CLS] and [SEP]; nothing cut off)."""
        if not texts:
            return []
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text, in order (``(0, DIMENSIONS)`` for no texts)."""
        out = np.zeros((len(texts), DIMENSIONS), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            out[batch] = self._run([texts[i] for i in batch])
        return out

    def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        vector: npt.NDArray[np.float32] = self._run([text])[0]
        return vector

    def _run(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], np.int64)
        mask = np.array([e.attention_mask for e in encodings], np.int64)
        hidden: npt.NDArray[np.float32] = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


_loaded: dict[str, Embedder] = {}
_lock = threading.Lock()


def load_embedder(models_dir: Path) -> Embedder:
    """The process's embedder (loaded on first use, about 0.3 s). Raises the registry's
    ``ModelMissing`` (with the ``pip install`` that fixes it) when a package is absent."""
    key = str(models_dir)
    embedder = _loaded.get(key)
    if embedder is not None:
        return embedder
    with _lock:
        embedder = _loaded.get(key)
        if embedder is None:
            embedder = Embedder(resolve(MODEL_ID, models_dir), resolve(TOKENIZER_ID, models_dir))
            _loaded[key] = embedder
        return embedder
