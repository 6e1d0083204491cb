"""The preset voices: every engine streams sentence chunks with phoneme timings on the chunk's
clock, presets sound distinct (pitch, brightness), and speech is understood by Whisper.

Real models only (hibari heart, Piper joe, Kokoro int8, flite, festival, faster-whisper tiny.en),
loaded once per module.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from characters.voices import models, tts
from characters.voices.hibari import HIBARI
from characters.voices.kokoro import KOKORO, patch_model
from characters.voices.metrics import median_f0, spectral_centroid, word_error_rate
from characters.voices.phones import MISAKI_IPA, timings_from_ends
from characters.voices.presets import PRESET_IDS, PRESETS
from characters.voices.text import FIRST_PIECE_CHARS, MAX_PIECE_CHARS, split_for_speech
from characters.voices.tts import EngineUnavailable, EngineVoice, SpeechChunk, UnknownVoice

LINE = "Thanks for calling. I can help you with your booking today."
SHORT = "Sure, I can help with that."
LEAD = ("clara", "victoria", "vincent")
FEMALE = tuple(p for p in PRESET_IDS if PRESETS[p].gender == "female")
Spoken = dict[str, tuple[np.ndarray[Any, Any], int, list[SpeechChunk]]]


@pytest.fixture(scope="module", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("voices")
    models.configure(path)
    yield path


def speak(text: str, preset: str) -> tuple[np.ndarray[Any, Any], int, list[SpeechChunk]]:
    chunks = list(tts.synthesize(text, preset))
    return np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate, chunks


def assert_timed(chunk: SpeechChunk) -> None:
    assert chunk.pcm.dtype == np.int16 and len(chunk.pcm) > 0
    assert chunk.phonemes, "every chunk carries phoneme timings"
    assert sum(p.num_samples for p in chunk.phonemes) == len(chunk.pcm)
    assert all(p.num_samples > 0 for p in chunk.phonemes)


# Text splitting and timing estimates


def test_text_is_split_into_sentences_with_a_short_first_piece() -> None:
    text = (
        "Well, I looked at your order this morning, and everything seems to be in place. "
        "It ships tomorrow! Anything else?"
    )
    pieces = split_for_speech(text)
    assert pieces[0] == "Well, I looked at your order this morning,"
    assert len(pieces[0]) <= FIRST_PIECE_CHARS or pieces[0].endswith(",")
    assert pieces[1:] == [
        "and everything seems to be in place.",
        "It ships tomorrow!",
        "Anything else?",
    ]
    assert split_for_speech("Short one. Two.") == ["Short one.", "Two."]
    long = " ".join(["word"] * 120) + "."
    assert all(len(p) <= MAX_PIECE_CHARS for p in split_for_speech(long))
    assert split_for_speech("  \n ") == []


def test_cmu_phone_end_times_become_ipa_timings_that_cover_the_chunk() -> None:
    fixed = timings_from_ends([("pau", 0.1), ("hh", 0.2), ("ay", 0.45)], 16_000, 8_000)
    assert [p.phoneme for p in fixed] == ["", "h", "aɪ"]
    assert sum(p.num_samples for p in fixed) == 8_000


# Kokoro: the patched model and its own durations


def test_kokoro_patch_keeps_the_audio_and_adds_per_phoneme_durations() -> None:
    import onnxruntime as ort  # type: ignore[import-untyped]

    session, tokenizer, packs = KOKORO.load()
    tokens = tokenizer.tokenize(tokenizer.known(tokenizer.phonemize("Hello there.", "en-us")))
    feed = {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64), "style": packs["jf_alpha"][0]}
    original = ort.InferenceSession(
        str(models.model_path("kokoro-v1.0-int8")), providers=["CPUExecutionProvider"]
    )
    speed = np.array([1.0], dtype=np.float32)
    (expected,) = original.run(None, {**feed, "speed": speed})
    audio, frames = session.run(None, {**feed, "speed": speed})
    # Same graph, same inputs: the patch changes nothing but what comes out.
    np.testing.assert_array_equal(audio, expected)
    assert frames.shape[-1] == len(tokens) + 2 and (frames >= 1).all()
    assert len(audio.reshape(-1)) == 600 * int(frames.sum())  # 25 ms per frame at 24 kHz
    _, slower = session.run(None, {**feed, "speed": np.array([0.5], dtype=np.float32)})
    assert slower.sum() > 1.8 * frames.sum()


def test_kokoro_patch_rejects_a_graph_without_the_duration_predictor(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["speed"], ["audio"])],
        "not-kokoro",
        [helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(EngineUnavailable, match="does not have the expected layout"):
        patch_model(path)


def test_kokoro_timings_follow_the_speech() -> None:
    (chunk,) = KOKORO.synthesize("Pick it up.", EngineVoice("kokoro", "jf_nezumi"))
    assert_timed(chunk)
    pcm = chunk.pcm.astype(np.float64)
    spans, start = [], 0
    for p in chunk.phonemes or ():
        spans.append((p.phoneme, start, start + p.num_samples))
        start += p.num_samples

    def rms(a: int, b: int) -> float:
        return float(np.sqrt(np.mean(pcm[a:b] ** 2)))

    speech = [ph for ph, _, _ in spans if ph.strip() and ph not in "ˈˌː"]
    assert speech == ["p", "ɪ", "k", "ɪ", "ɾ", "ʌ", "p"]
    lead, pause = spans[0], spans[-1]
    assert lead[0] == "" and lead[2] - lead[1] <= int(0.2 * 24_000)  # the onset, not 0.4 s
    assert rms(0, 240) < 0.01 * np.abs(pcm).max()  # ...which starts in silence
    assert pause[0] == "" and not pcm[pause[1] :].any()  # the sentence pause is silence
    # The vowels are loud and the /k/ closure between them is quiet where the timings say.
    vowels = [rms(a, b) for ph, a, b in spans if ph in ("ɪ", "ʌ")]
    (closure,) = [rms(a, b) for ph, a, b in spans if ph == "k"]
    assert len(vowels) == 3 and min(vowels) > 3 * closure


# hibari: the patched model's durations, pitch without pace


def spans_of(chunk: SpeechChunk) -> list[tuple[str, int, int]]:
    spans, start = [], 0
    for p in chunk.phonemes or ():
        spans.append((p.phoneme, start, start + p.num_samples))
        start += p.num_samples
    return spans


@pytest.mark.timeout(60)
def test_hibari_timings_follow_the_speech() -> None:
    (chunk,) = HIBARI.synthesize("Pick it up.", tts.ENGINE_VOICES["nina"])
    assert_timed(chunk)
    pcm = chunk.pcm.astype(np.float64)
    spans = spans_of(chunk)

    def rms(a: int, b: int) -> float:
        return float(np.sqrt(np.mean(pcm[a:b] ** 2)))

    speech = [ph for ph, _, _ in spans if ph.strip() and ph not in "ˈˌː"]
    assert speech == ["p", "ɪ", "k", "ɪ", "t", "ʌ", "p"]
    lead, pause = spans[0], spans[-1]
    assert lead[0] == "" and lead[2] - lead[1] <= int(0.2 * 24_000)  # the onset, not 0.4 s
    assert rms(0, 240) < 0.01 * np.abs(pcm).max()  # ...which starts in silence
    assert pause[0] == "" and not pcm[pause[1] :].any()  # the sentence pause is silence
    # The vowels are loud and the /k/ closure between them is quiet where the timings say.
    vowels = [rms(a, b) for ph, a, b in spans if ph in ("ɪ", "ʌ")]
    (closure,) = [rms(a, b) for ph, a, b in spans if ph == "k"]
    assert len(vowels) == 3 and min(vowels) > 2 * closure, (vowels, closure)


@pytest.mark.timeout(60)
def test_hibari_timings_are_ipa_and_cover_every_chunk() -> None:
    text = "Okay, I'll show you how the joyful chair works. Why not?"
    chunks = list(HIBARI.synthesize(text, tts.ENGINE_VOICES["clara"]))
    assert len(chunks) == len(split_for_speech(text)) == 2
    symbols = {p.phoneme for c in chunks for p in c.phonemes or ()}
    for chunk in chunks:
        assert_timed(chunk)
    # misaki's capitals and ligatures reach the face as IPA (eɪ, aɪ, aʊ, ɔɪ, oʊ, tʃ).
    assert not symbols & set(MISAKI_IPA), symbols
    assert {"eɪ", "aɪ", "aʊ", "ɔɪ", "oʊ", "tʃ"} <= symbols, symbols


@pytest.mark.timeout(60)
def test_hibari_pitch_moves_pitch_not_pace() -> None:
    low, high = (
        EngineVoice("hibari", "heart", pitch=0.88),
        EngineVoice("hibari", "heart", pitch=1.16),
    )
    a = np.concatenate([c.pcm for c in HIBARI.synthesize(LINE, low)])
    b = np.concatenate([c.pcm for c in HIBARI.synthesize(LINE, high)])
    assert median_f0(b, 24_000) > 1.2 * median_f0(a, 24_000)
    assert 0.85 < len(a) / len(b) < 1.2
    with pytest.raises(UnknownVoice, match="pitch"):
        HIBARI.check(EngineVoice("hibari", "heart", pitch=2.0))
    with pytest.raises(UnknownVoice, match="heart"):
        HIBARI.check(EngineVoice("hibari", "fenrir"))  # downloads at run time: not offered


# Engines


@pytest.mark.parametrize(
    "voice",
    [
        EngineVoice("hibari", "heart", 0.95, pitch=1.1),
        EngineVoice("piper", "joe", 1.05, 0.6, 0.7),
        EngineVoice("kokoro", "jf_alpha*0.6+jf_nezumi*0.4"),
        EngineVoice("flite", "slt"),
        EngineVoice("flite", "rms", 1.1),
        EngineVoice("festival", "slt_hts"),
    ],
    ids=lambda v: f"{v.engine}-{v.voice}",
)
def test_each_engine_streams_sentence_chunks_with_timings(voice: EngineVoice) -> None:
    engine = tts.engine_for(voice)
    try:
        engine.check(voice)
    except EngineUnavailable as e:
        pytest.skip(e.message)
    chunks = list(engine.synthesize("Hello there. How are you today?", voice))
    assert len(chunks) == 2  # one per sentence
    rate = engine.sample_rate(voice)
    for chunk in chunks:
        assert chunk.sample_rate == rate
        assert_timed(chunk)
        assert np.abs(chunk.pcm).max() > 2000
    assert 1.0 < sum(c.duration_s for c in chunks) < 5.0


def test_streaming_yields_the_first_chunk_before_the_rest_is_made() -> None:
    tts.warm_up(["clara"])
    text = "Good morning, and welcome back to our studio. Today we talk about voices. Enjoy."
    started = time.perf_counter()
    stream = tts.synthesize(text, "clara")
    first = next(stream)
    first_s = time.perf_counter() - started
    rest = list(stream)
    total_s = time.perf_counter() - started
    assert len(rest) >= 2
    assert first.duration_s < 2.0  # the first piece is a short clause
    assert first_s < 0.5 * total_s


def test_unknown_voices_and_missing_engines_fail_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(UnknownVoice, match="choose one of: victoria"):
        tts.check_voice("nobody")
    with pytest.raises(UnknownVoice, match="jf_nobody"):
        tts.engine_for(EngineVoice("kokoro", "jf_nobody")).check(EngineVoice("kokoro", "jf_nobody"))
    assert tts.check_voice("clara") == tts.ENGINE_VOICES["clara"]
    monkeypatch.setenv("PATH", str(tmp_path))  # no flite, no festival on this PATH
    for voice in tts.FALLBACK_VOICES.values():
        with pytest.raises(EngineUnavailable, match="apt-get install") as err:
            tts.engine_for(voice).check(voice)
        assert "\n" not in err.value.message


# The 30 presets


@pytest.fixture(scope="module")
def spoken() -> Spoken:
    """Every preset saying SHORT."""
    return {pid: speak(SHORT, pid) for pid in PRESET_IDS}


@pytest.fixture(scope="module")
def lead() -> Spoken:
    """The three lead presets saying LINE."""
    return {pid: speak(LINE, pid) for pid in LEAD}


@pytest.mark.slow
def test_every_preset_speaks_with_timings_and_its_gender(spoken: Spoken) -> None:
    assert set(tts.ENGINE_VOICES) == set(PRESET_IDS) == set(PRESETS)
    neural = {"hibari", "piper", "kokoro"}
    for pid, (pcm, rate, chunks) in spoken.items():
        assert tts.ENGINE_VOICES[pid].engine in neural, pid
        for chunk in chunks:
            assert_timed(chunk)
        assert 1.0 < len(pcm) / rate < 4.0, pid
        f0 = median_f0(pcm, rate)
        gender = PRESETS[pid].gender
        if gender == "female":
            assert f0 > 160, (pid, f0)
        elif gender == "male":
            assert 70 < f0 < 150, (pid, f0)
        else:
            assert 110 < f0 < 200, (pid, f0)
    # No two presets share the same engine voice and settings.
    assert len(set(tts.ENGINE_VOICES.values())) == len(PRESET_IDS)


def test_the_lead_presets_sound_distinct(lead: Spoken) -> None:
    f0 = {p: median_f0(*lead[p][:2]) for p in LEAD}
    centroid = {p: spectral_centroid(*lead[p][:2]) for p in LEAD}
    assert f0["clara"] > 160 and f0["victoria"] > 160 and f0["vincent"] < 130, f0
    assert abs(f0["clara"] - f0["victoria"]) > 10 or (
        abs(centroid["clara"] - centroid["victoria"]) > 150
    ), (f0, centroid)
    assert f0["victoria"] > 1.5 * f0["vincent"]


@pytest.fixture(scope="module")
def female() -> Spoken:
    """The female presets saying LINE."""
    return {pid: speak(LINE, pid) for pid in FEMALE}


@pytest.mark.timeout(120)
def test_the_female_presets_are_female_and_differ(female: Spoken) -> None:
    f0 = {p: median_f0(*female[p][:2]) for p in FEMALE}
    assert all(tts.ENGINE_VOICES[p].engine == "hibari" for p in FEMALE)
    assert all(165 < f < 260 for f in f0.values()), f0
    assert max(f0.values()) - min(f0.values()) > 40, f0
    # Measured pitch follows each preset's pitch factor, and its length follows its pace.
    pitch = [tts.ENGINE_VOICES[p].pitch for p in FEMALE]
    assert (
        np.corrcoef(np.argsort(np.argsort(pitch)), np.argsort(np.argsort(list(f0.values()))))[0, 1]
        > 0.8
    ), f0
    slow, fast = female["luna"], female["skye"]
    assert len(slow[0]) / slow[1] > 1.1 * len(fast[0]) / fast[1]
    for pid, (_, rate, chunks) in female.items():
        assert rate == 24_000 and all(c.phonemes for c in chunks), pid


@pytest.fixture(scope="module")
def whisper() -> Any:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

    return WhisperModel(
        str(models.model_path("whisper-tiny.en")), device="cpu", compute_type="int8", cpu_threads=2
    )


def transcribe(model: Any, pcm: np.ndarray[Any, Any], rate: int) -> str:
    audio = pcm.astype(np.float32) / 32768.0
    n = int(len(audio) * 16_000 / rate)
    audio16 = np.interp(np.linspace(0, len(audio) - 1, n), np.arange(len(audio)), audio)
    segments, _ = model.transcribe(
        audio16.astype(np.float32), language="en", beam_size=1, without_timestamps=True
    )
    return " ".join(s.text for s in segments)


@pytest.mark.parametrize("preset", LEAD)
def test_whisper_understands_the_lead_presets(preset: str, whisper: Any, lead: Spoken) -> None:
    pcm, rate, _ = lead[preset]
    heard = transcribe(whisper, pcm, rate)
    for word in ("thanks", "calling", "help", "booking", "today"):
        assert word in heard.lower(), heard
    assert word_error_rate(LINE, heard) <= 0.2, heard


@pytest.mark.timeout(120)
@pytest.mark.parametrize("preset", ("petra", "clara", "skye", "luna"))
def test_whisper_understands_the_hibari_presets(preset: str, whisper: Any, female: Spoken) -> None:
    # The lowest and highest pitch, the fastest and slowest pace.
    pcm, rate, _ = female[preset]
    heard = transcribe(whisper, pcm, rate)
    for word in ("thanks", "calling", "help", "booking", "today"):
        assert word in heard.lower(), heard
    assert word_error_rate(LINE, heard) <= 0.2, heard


def test_word_error_rate() -> None:
    assert word_error_rate("Hello there, friend.", "hello there friend") == 0.0
    assert word_error_rate("a b c d", "a x c") == 0.5
    assert word_error_rate("", "") == 0.0


# CLI


def test_cli_lists_presets_and_writes_a_preview(tmp_path: Path) -> None:
    from characters.voices.commands import voices

    runner = CliRunner()
    listed = runner.invoke(voices, ["list"])
    assert listed.exit_code == 0
    lines = listed.output.strip().splitlines()
    assert len(lines) == 30 and lines[2].startswith("clara") and "Soft, approachable" in lines[2]
    out = tmp_path / "v.wav"
    made = runner.invoke(voices, ["preview", "vincent", "-o", str(out), "--text", "Hi there."])
    assert made.exit_code == 0, made.output
    assert out.read_bytes()[:4] == b"RIFF" and out.stat().st_size > 10_000
    bad = runner.invoke(voices, ["preview", "nobody"])
    assert bad.exit_code == 1
    assert bad.output.count("\n") == 1 and bad.output.startswith("error: Unknown voice 'nobody'")
    assert "clara" in bad.output


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")
def test_flite_pace_changes_timing_only() -> None:
    slow, fast = EngineVoice("flite", "slt", 1.3), EngineVoice("flite", "slt", 0.8)
    engine = tts.engine_for(slow)
    a = np.concatenate([c.pcm for c in engine.synthesize(LINE, slow)])
    b = np.concatenate([c.pcm for c in engine.synthesize(LINE, fast)])
    assert len(a) > 1.3 * len(b)
    assert abs(median_f0(a, 16_000) - median_f0(b, 16_000)) < 25
