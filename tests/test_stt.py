"""Moonshine speech recognition: transcripts, guards, incremental decoding and the Listener.

Real models from the installed packages (``moonshine-cpp``), real speech from espeak-ng and our
Piper voice. Whisper's own tests are in ``test_listening.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from characters.config import Settings
from characters.conversation.listener import EndOfTurnCandidate, SpeechStarted, TurnEnded
from characters.conversation.moonshine import MoonshineRecognizer
from characters.conversation.stt import SpeechRecognizer, load_recognizer
from characters.conversation.vad import SileroVAD
from characters.errors import InvalidInput
from characters.models import required_models, resolve
from tests.test_listening import (
    SR,
    Audio,
    espeak,
    feed,
    incremental_and_one_shot,
    kinds,
    make_listener,
    piper,
    silence,
)
from tests.test_listening import words as words_of

pytestmark = [
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng"),
    pytest.mark.timeout(180),
]

QUESTION = "What time does the museum open on Sunday morning?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def moonshine(data_dir: Path) -> MoonshineRecognizer:
    stt = load_recognizer("moonshine-base-en", data_dir)
    assert isinstance(stt, MoonshineRecognizer)
    return stt


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Audio]:
    tmp = tmp_path_factory.mktemp("speech")
    return {
        "question": espeak(QUESTION, tmp),
        "first": espeak("My name is Sarah.", tmp),
        "second": espeak("I live in Boston with my family.", tmp),
        "yes": espeak("Yes.", tmp),
        "thanks": espeak("Thank you.", tmp),
    }


def test_espeak_question(moonshine: MoonshineRecognizer, speech: dict[str, Audio]) -> None:
    text = moonshine.transcribe(in_turn(speech["question"]))
    assert words_of(text) == words_of(QUESTION), text


def test_tts_question(moonshine: MoonshineRecognizer) -> None:
    text = moonshine.transcribe(in_turn(piper("Can you tell me how to get to the train station?")))
    assert words_of(text) == words_of("Can you tell me how to get to the train station?"), text


def in_turn(audio: Audio) -> Audio:
    """``audio`` as the listener cuts a turn: 300 ms before the speech, a 150 ms pause after."""
    return np.concatenate([silence(0.3), audio, silence(0.15)])


def test_short_words(moonshine: MoonshineRecognizer, speech: dict[str, Audio]) -> None:
    # Cut at the first and last loud sample, espeak's "Yes." is heard as "us": the listener
    # never cuts a turn that tightly.
    assert words_of(moonshine.transcribe(in_turn(speech["yes"]))) == ["yes"]
    assert words_of(moonshine.transcribe(in_turn(speech["thanks"]))) == ["thank", "you"]


def test_silence_and_noise_give_no_text(moonshine: MoonshineRecognizer) -> None:
    rng = np.random.default_rng(0)
    hum = (0.05 * np.sin(np.arange(2 * SR) * 2 * np.pi * 100 / SR)).astype(np.float32)
    click = np.concatenate([silence(0.5), rng.normal(0, 0.3, 800).astype(np.float32), silence(0.5)])
    assert moonshine.transcribe(silence(1.0)) == ""
    assert moonshine.transcribe(silence(0.05) + 0.5) == ""  # under 0.1 s: not decoded
    assert moonshine.transcribe(rng.normal(0, 0.01, 2 * SR).astype(np.float32)) == ""  # -40 dBFS
    assert moonshine.transcribe(rng.normal(0, 0.1, 2 * SR).astype(np.float32)) == ""  # -20 dBFS
    assert moonshine.transcribe(hum) == ""
    assert moonshine.transcribe(click) == ""


def test_incremental_matches_one_shot(
    moonshine: MoonshineRecognizer, speech: dict[str, Audio]
) -> None:
    """Moonshine takes no prompt, so a phrase after a pause is heard without the words before
    it. On 8 two-phrase sentences (espeak and Piper, a 0.4 s pause) the incremental words equaled
    the one-shot ones 6 times (Whisper tiny.en with its prompt: 5); the misses were single words
    ("tomorrow" as "to model" in espeak's "For two people tomorrow evening")."""
    first, second = speech["first"], speech["second"]
    one_shot, final, tail_start, final_s = incremental_and_one_shot(moonshine, first, second)
    assert words_of(final) == words_of(one_shot)
    assert words_of(final) == words_of("My name is Sarah. I live in Boston with my family.")
    assert tail_start > (0.3 + len(first) / SR) * SR  # only the second phrase was left
    assert final_s < 1.5


def test_listener_end_to_end(
    data_dir: Path, moonshine: MoonshineRecognizer, speech: dict[str, Audio]
) -> None:
    vad = SileroVAD(resolve("silero-vad", data_dir))
    question = speech["question"]
    events = feed(
        make_listener(vad, None, moonshine),
        np.concatenate([silence(1.0), question, silence(1.5)]),  # the turn ends at 0.9 s
        48_000,
    )
    assert kinds(events) == ["SpeechStarted", "EndOfTurnCandidate", "TurnEnded"]
    started, candidate, ended = (e for e in events if type(e).__name__ != "Partial")
    assert isinstance(started, SpeechStarted) and started.at_s == pytest.approx(1.0, abs=0.1)
    assert isinstance(candidate, EndOfTurnCandidate) and isinstance(ended, TurnEnded)
    assert ended.text == candidate.text
    assert words_of(ended.text) == words_of(QUESTION), ended.text
    assert ended.reason == "silence"


def test_setting_selects_the_recognizer(data_dir: Path) -> None:
    settings = Settings(stt_model="moonshine-base-en")
    assert "moonshine-base-en" in required_models(settings)
    assert "whisper-tiny.en" not in required_models(settings)
    assert isinstance(load_recognizer("whisper-tiny.en", data_dir), SpeechRecognizer)
    with pytest.raises(InvalidInput, match="not a speech recognition model"):
        load_recognizer("silero-vad", data_dir)
    with pytest.raises(InvalidInput, match="Moonshine model not found"):
        MoonshineRecognizer(data_dir)
