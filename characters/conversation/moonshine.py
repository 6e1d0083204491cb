"""Speech to text with Moonshine base (English), run by onnxruntime.

Moonshine's encoder takes the audio as it is (no 30 s window, no log-mel features), so its cost
grows with the utterance (the encoder about 0.04–0.1 s per second of speech, then about 10 ms
per output token on one core) instead of Whisper's fixed window. The weights come from the
``moonshine-cpp`` package (``models/base-en``: ``encoder_model.ort``,
``decoder_model_merged.ort``, ``tokenizer.bin``). Its own Python wrapper is not used: its
``transcribe()`` on float arrays is broken and it loads a second, bundled onnxruntime into the
process. The ``.ort`` files load with the project's onnxruntime.

Decoding is greedy with the merged decoder's key/value cache, and capped at
``_TOKENS_PER_S`` tokens per second of audio so a looping decoder stops. Moonshine has no
prompt: each piece the :class:`~characters.conversation.stt.IncrementalTranscriber` commits is
decoded on its own. The audio is decoded as it is: padding it with silence made Moonshine drop
its punctuation.
"""

from __future__ import annotations

import ctypes
import re
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from characters.conversation.stt import HALLUCINATIONS, drop_loops, normalise_text
from characters.conversation.vad import SAMPLE_RATE
from characters.errors import InvalidInput
from characters.pcm import as_float32

if TYPE_CHECKING:
    import onnxruntime as ort  # type: ignore[import-untyped]

_FILES = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
_BOS = 1
_EOS = 2
_TOKENS_PER_S = 8.0
"""Most output tokens per second of audio (English speech is 3–5; Moonshine's own rule is 6)."""
_MIN_TOKENS = 6
_SILENT_PEAK = 0.01
"""Peak amplitude under which audio is "near silence" (about -40 dBFS)."""
_SPACE = "\u2581"
_QUOTES = "\"'\u201c\u201d\u2018\u2019"
_LATIN = re.compile(r"[A-Za-z0-9]")
"""English text has a Latin letter or digit; other output (Arabic script at times) is noise."""
_RETRY_PAD = SAMPLE_RATE // 4
"""Silence added to audio whose first decode is empty (see :meth:`MoonshineRecognizer.transcribe`)."""


def _read_tokenizer(path: Path) -> list[bytes]:
    """``tokenizer.bin``: each token is one length byte then its UTF-8 bytes (``▁`` = space)."""
    data = path.read_bytes()
    tokens: list[bytes] = []
    i = 0
    while i < len(data):
        n = data[i]
        tokens.append(data[i + 1 : i + 1 + n])
        i += 1 + n
    return tokens


def _as_onnx(path: Path) -> bytes:
    """The ``.ort`` model at ``path`` as an ONNX model (serialised).

    The ``.ort`` files keep their weights as uint8 and dequantise all of them (Cast, Mul, Add)
    on every run: 40 of the decoder's 50 ms per token on one core. ORT-format models are not
    constant-folded when loaded; the same graph loaded as ONNX is, so a token costs 10 ms.
    onnxruntime writes the ONNX form; the ``If`` branches of the merged decoder get the names
    the ONNX checker requires."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.optimized_model_filepath = str(out)
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model = onnx.load(str(out))
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH and not attribute.g.name:
                attribute.g.name = f"{node.name}_{attribute.name}"
    serialised: bytes = model.SerializeToString()
    return serialised


def _trim_heap() -> None:
    """Give the conversion's freed buffers back to the system (about 250 MB of resident memory
    that glibc would otherwise keep); a no-op without glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class MoonshineRecognizer:
    """Moonshine base English, greedy. Thread-safe: one lock around the model.

    Has the interface of :class:`~characters.conversation.stt.SpeechRecognizer` that
    :class:`~characters.conversation.stt.IncrementalTranscriber` needs; ``prompt`` is ignored.
    """

    def __init__(self, model_dir: Path, cpu_threads: int = 2) -> None:
        missing = [name for name in _FILES if not (model_dir / name).is_file()]
        if missing:
            raise InvalidInput(f"Moonshine model not found (no {', '.join(missing)}): {model_dir}")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads
        options.inter_op_num_threads = 1
        # Spinning worker threads wait for work by burning a core: with the listener sharing
        # the CPU with the face and voice, 2 spinning threads made a decode 1.8x slower.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self._encoder: ort.InferenceSession = ort.InferenceSession(
            _as_onnx(model_dir / "encoder_model.ort"), options, providers=providers
        )
        self._decoder: ort.InferenceSession = ort.InferenceSession(
            _as_onnx(model_dir / "decoder_model_merged.ort"), options, providers=providers
        )
        self._past = [i.name for i in self._decoder.get_inputs() if i.name.startswith("past_")]
        first = self._decoder.get_inputs()[2]  # past_key_values.0.decoder.key: (b, heads, t, d)
        self._heads, self._head_dim = int(first.shape[1]), int(first.shape[3])
        self._tokens = _read_tokenizer(model_dir / "tokenizer.bin")
        self._lock = threading.Lock()
        _trim_heap()

    def transcribe(self, audio: npt.NDArray[np.generic], prompt: str = "") -> str:
        """The text of 16 kHz mono audio (empty when it holds no speech). ``prompt`` is unused."""
        x = as_float32(audio)
        peak = float(np.abs(x).max(initial=0.0))
        if len(x) < SAMPLE_RATE // 10 or peak < 1e-4:
            return ""
        max_tokens = _MIN_TOKENS + int(_TOKENS_PER_S * len(x) / SAMPLE_RATE)
        with self._lock:
            text = drop_loops([self._detokenize(self._generate(x, max_tokens))])
            if not _LATIN.search(text) and peak >= _SILENT_PEAK:
                # At some clip lengths Moonshine says nothing, or a line in another script, for
                # speech it otherwise hears; a slightly longer clip decodes normally.
                padded = np.concatenate([x, np.zeros(_RETRY_PAD, np.float32)])
                text = drop_loops([self._detokenize(self._generate(padded, max_tokens))])
        if not _LATIN.search(text):
            return ""
        if peak < _SILENT_PEAK and normalise_text(text) in HALLUCINATIONS:
            return ""
        return text

    def _generate(self, audio: npt.NDArray[np.float32], max_tokens: int) -> list[int]:
        hidden = self._encoder.run(None, {"input_values": audio[None]})[0]
        empty = np.zeros((1, self._heads, 0, self._head_dim), dtype=np.float32)
        past = dict.fromkeys(self._past, empty)
        ids: list[int] = []
        token, cached = _BOS, False
        for _ in range(max_tokens):
            outputs = self._decoder.run(
                None,
                {
                    "input_ids": np.array([[token]], dtype=np.int64),
                    "encoder_hidden_states": hidden,
                    "use_cache_branch": np.array([cached]),
                    **past,
                },
            )
            token = int(outputs[0][0, -1].argmax())
            for name, value in zip(self._past, outputs[1:], strict=True):
                if not (cached and ".encoder." in name):  # cross-attention keys: first step only
                    past[name] = value
            cached = True
            if token == _EOS:
                break
            ids.append(token)
        return ids

    def _detokenize(self, ids: list[int]) -> str:
        raw = b"".join(self._tokens[t] for t in ids if _EOS < t < len(self._tokens))
        text = raw.decode("utf-8", errors="replace").replace(_SPACE, " ")
        return text.strip().strip(_QUOTES).strip()  # it sometimes quotes the whole utterance
