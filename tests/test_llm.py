"""Language models with real weights: the embedded llama.cpp engine (Qwen 0.5B, SmolLM2) and the
OpenAI-compatible engine against a real llama.cpp server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from characters.config import Settings
from characters.conversation.llm import (
    LlamaCppLLM,
    LLMUnavailable,
    OpenAICompatibleLLM,
    make_llm,
)
from characters.conversation.prompt import Character, ToolCall, build_messages, tools_from_runway
from characters.conversation.spoken import Speech, SpokenStream, ToolCallEvent
from characters.errors import InvalidInput
from characters.models import resolve

BELLA = Character(
    name="Bella",
    personality="You are Bella, the receptionist of Sunny Dental. The clinic is open from "
    "8 am to 6 pm on weekdays.",
    start_script="Hi, this is Bella from Sunny Dental. How can I help you?",
)
TOOLS = tools_from_runway(
    [
        {
            "type": "client_event",
            "name": "show_map",
            "description": "Show the user a map of the clinic's location.",
        },
        {
            "type": "backend_rpc",
            "name": "book_appointment",
            "description": "Book a dental appointment.",
            "parameters": [{"type": "string", "name": "day", "description": "Day of the week"}],
        },
    ]
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def qwen(data_dir: Path) -> LlamaCppLLM:
    llm = LlamaCppLLM(resolve("qwen2.5-coder-0.5b-instruct", data_dir))
    llm.check()
    return llm


@pytest.fixture(scope="module")
def smol_path(data_dir: Path) -> Path:
    return resolve("smollm2-135m-instruct", data_dir)


def answer(
    llm: LlamaCppLLM | OpenAICompatibleLLM,
    character: Character,
    question: str,
    max_tokens: int = 80,
) -> list[Speech | ToolCallEvent]:
    """The spoken events of one answer, at temperature 0."""
    messages = build_messages(
        character, [{"role": "user", "content": question}], native_tools=llm.native_tools
    )
    stream = SpokenStream(tools=character.tools or None)
    events: list[Speech | ToolCallEvent] = []
    for delta in llm.stream(
        messages,
        tools=character.tools or None,
        max_tokens=max_tokens,
        temperature=0.0,
        cancel=threading.Event(),
    ):
        events += stream.feed(delta)
    return events + stream.flush()


def said(events: list[Speech | ToolCallEvent]) -> str:
    return " ".join(e.text for e in events if isinstance(e, Speech))


def test_qwen_answers_on_persona_with_a_fact_from_the_personality(qwen: LlamaCppLLM) -> None:
    text = said(answer(qwen, BELLA, "When are you open?"))
    assert "8" in text or "eight" in text.lower(), text
    assert not set(text) & set("*#`|[]<>{}"), text


def test_qwen_calls_a_tool_when_asked_for_the_action(qwen: LlamaCppLLM) -> None:
    bella = Character(BELLA.name, BELLA.personality, tools=TOOLS)
    calls = [
        e.call
        for e in answer(qwen, bella, "Please book me an appointment for Tuesday.")
        if isinstance(e, ToolCallEvent)
    ]
    assert [(c.name, dict(c.arguments)) for c in calls] == [
        ("book_appointment", {"day": "Tuesday"})
    ]
    calls = [
        e.call for e in answer(qwen, bella, "Show me the map.") if isinstance(e, ToolCallEvent)
    ]
    assert [c.name for c in calls] == ["show_map"]
    assert not any(isinstance(e, ToolCallEvent) for e in answer(qwen, bella, "When are you open?"))


def first_delta_s(llm: LlamaCppLLM, question: str) -> float:
    started = time.monotonic()
    deltas = llm.stream(
        build_messages(LONG, [{"role": "user", "content": question}]),
        max_tokens=4,
        temperature=0.0,
        cancel=threading.Event(),
    )
    next(iter(deltas))
    took = time.monotonic() - started
    deltas.close()  # type: ignore[attr-defined]
    return took


LONG = Character(
    "Bella",
    (BELLA.personality or "")
    + " "
    + " ".join(f"Fact {i}: room {i} has a blue chair." for i in range(20)),
)


def test_warm_prefix_cuts_time_to_first_token(smol_path: Path) -> None:
    cold_llm = LlamaCppLLM(smol_path)
    cold_llm.check()
    cold = first_delta_s(cold_llm, "Hello?")
    warm_llm = LlamaCppLLM(smol_path)
    warm_llm.warm(build_messages(LONG, []))
    warm = first_delta_s(warm_llm, "Hello?")
    again = first_delta_s(warm_llm, "Which room has a chair?")
    assert warm < cold / 3 and again < cold / 3, (cold, warm, again)


def test_warming_the_words_so_far_leaves_only_the_rest_to_evaluate(smol_path: Path) -> None:
    # While the user speaks, their settled words go into the cache as an unfinished turn; the
    # answer's prompt then extends the cached tokens and only its tail is evaluated.
    llm = LlamaCppLLM(smol_path)
    llm.warm(build_messages(LONG, [{"role": "user", "content": "Which room has a blue"}]))
    llama = llm._model()
    cached = list(llama.input_ids[: llama.n_tokens])
    question = [{"role": "user", "content": "Which room has a blue chair?"}]
    full = llm._tokens(llama, build_messages(LONG, question), answer=True)
    assert full[: len(cached)] == cached, "the warmed turn is a prefix of the answer's prompt"
    assert 0 < len(full) - len(cached) <= 8, len(full) - len(cached)
    evaluated: list[int] = []
    evaluate = llama.eval

    def recording_eval(tokens: list[int]) -> None:
        evaluated.append(len(tokens))
        evaluate(tokens)

    llama.eval = recording_eval  # type: ignore[method-assign]
    first_delta_s(llm, "Which room has a blue chair?")
    assert evaluated and evaluated[0] <= len(full) - len(cached), evaluated


def test_cancel_stops_within_a_token_and_frees_the_model(smol_path: Path) -> None:
    llm = LlamaCppLLM(smol_path)
    cancel = threading.Event()
    messages = build_messages(BELLA, [{"role": "user", "content": "Tell me a very long story."}])
    deltas = llm.stream(messages, max_tokens=500, temperature=0.7, cancel=cancel)
    got: list[str] = []
    stopped_at: list[float] = []

    def consume() -> None:
        for delta in deltas:
            got.append(str(delta))
        stopped_at.append(time.monotonic())

    worker = threading.Thread(target=consume)
    worker.start()
    while len(got) < 3:
        time.sleep(0.005)
    cancelled = time.monotonic()
    cancel.set()
    worker.join(5)
    assert stopped_at and stopped_at[0] - cancelled < 0.5
    assert len(got) < 60
    text = said(answer(llm, BELLA, "When are you open?", max_tokens=30))
    assert text, "the model answers again right after a cancel"


def test_every_llama_call_runs_on_one_thread_whoever_calls(smol_path: Path) -> None:
    # llama.cpp's OpenMP keeps a worker team per calling thread; two teams on 2 cores halved
    # its speed, so the engine must do all its work on one thread of its own.
    llm = LlamaCppLLM(smol_path)
    llm.check()
    llama = llm._model()
    ran_on: set[int] = set()
    evaluate = llama.eval

    def recording_eval(tokens: list[int]) -> None:
        ran_on.add(threading.get_ident())
        evaluate(tokens)

    llama.eval = recording_eval  # type: ignore[method-assign]
    llm.warm(build_messages(BELLA, [{"role": "user", "content": ""}]))  # from this thread
    answers: list[str] = []
    for _ in range(2):  # and from two other threads, one after the other
        caller = threading.Thread(
            target=lambda: answers.append(said(answer(llm, BELLA, "Hi!", max_tokens=8)))
        )
        caller.start()
        caller.join(60)
    # Stopping early (the consumer closes the stream) frees the model for the next answer.
    stream = llm.stream(build_messages(BELLA, [{"role": "user", "content": "Hello?"}]))
    next(stream)
    stream.close()
    answers.append(said(answer(llm, BELLA, "Bye!", max_tokens=8)))
    assert all(answers) and len(answers) == 3
    assert len(ran_on) == 1 and threading.get_ident() not in ran_on


def test_loading_a_model_keeps_what_other_threads_write(
    smol_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # llama-cpp-python points the process's stdout and stderr at /dev/null while a model loads;
    # a worker's "registered worker" line, logged meanwhile from its event loop, was lost.
    llm = LlamaCppLLM(smol_path)
    loaded = threading.Event()
    loader = threading.Thread(target=lambda: (llm._model(), loaded.set()))
    written = 0
    loader.start()
    while not loaded.is_set() and written < 5000:
        os.write(2, f"tick {written}\n".encode())
        written += 1
        time.sleep(0.001)
    loader.join(60)
    assert loaded.is_set() and written > 1
    ticks = [line for line in capfd.readouterr().err.splitlines() if line.startswith("tick ")]
    assert ticks == [f"tick {n}" for n in range(written)]


def test_a_cancel_before_the_start_yields_nothing(smol_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    llm = LlamaCppLLM(smol_path)
    assert (
        list(llm.stream(build_messages(BELLA, []), max_tokens=5, temperature=0, cancel=cancel))
        == []
    )


def test_a_prompt_too_long_for_the_context_is_a_clear_error(smol_path: Path) -> None:
    llm = LlamaCppLLM(smol_path, n_ctx=256)
    long = [{"role": "user", "content": "word " * 400}]
    with pytest.raises(InvalidInput, match="no room for an answer"):
        list(
            llm.stream(
                build_messages(BELLA, long, max_chars=10_000),
                max_tokens=20,
                temperature=0,
                cancel=threading.Event(),
            )
        )


def test_a_missing_or_broken_model_file_fails_check(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match="does not exist"):
        LlamaCppLLM(tmp_path / "nope.gguf").check()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(LLMUnavailable, match="cannot load bad.gguf"):
        LlamaCppLLM(bad).check()


def test_make_llm_picks_the_engine(tmp_path: Path) -> None:
    embedded = make_llm(Settings(data_dir=tmp_path, llm_model="smollm2-135m-instruct"), tmp_path)
    assert isinstance(embedded, LlamaCppLLM)
    remote = make_llm(Settings(data_dir=tmp_path, llm_url="http://127.0.0.1:9/v1"), tmp_path)
    assert isinstance(remote, OpenAICompatibleLLM)
    with pytest.raises(InvalidInput):
        make_llm(Settings(data_dir=tmp_path, llm_model="gpt-17-local"), tmp_path)


def test_live_calls_leave_a_core_to_the_media_unless_threads_are_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    settings = Settings(data_dir=tmp_path, llm_model="smollm2-135m-instruct")
    for cores, chat, live in ((1, 1, 1), (2, 2, 1), (3, 3, 2), (16, 4, 3)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)))
        assert make_llm(settings, tmp_path).threads == chat  # type: ignore[attr-defined]
        assert make_llm(settings, tmp_path, live=True).threads == live  # type: ignore[attr-defined]
    fixed = settings.model_copy(update={"llm_threads": 2})
    assert make_llm(fixed, tmp_path, live=True).threads == 2  # type: ignore[attr-defined]


# OpenAI-compatible engine against llama-cpp-python's own server

SERVER = """
import runpy, sys
import llama_cpp.llama_cpp as native
default = native.llama_model_default_params
def params():
    p = default()
    p.use_extra_bufts = False  # see characters.conversation.llm._load_llama
    return p
native.llama_model_default_params = params
sys.argv = ["llama_cpp.server"] + sys.argv[1:]
runpy.run_module("llama_cpp.server", run_name="__main__")
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(smol_path: Path, data_dir: Path) -> Iterator[str]:
    pytest.importorskip("sse_starlette")
    port = free_port()
    log = (data_dir / "llama-server.log").open("wb")
    args = [
        "--model",
        str(smol_path),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (data_dir / "llama-server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama.cpp server did not start: {tail}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_remote_engine_streams_an_answer(server: str) -> None:
    llm = OpenAICompatibleLLM(server, "smollm2", timeout_s=30)
    llm.check()
    events = answer(llm, BELLA, "When are you open?", max_tokens=40)
    assert said(events)


def test_remote_engine_passes_tools_natively(server: str) -> None:
    llm = OpenAICompatibleLLM(server, "smollm2", timeout_s=30)
    bella = Character(BELLA.name, BELLA.personality, tools=TOOLS)
    messages = build_messages(
        bella, [{"role": "user", "content": "Show me the map."}], native_tools=True
    )
    assert "<call>" not in messages[0]["content"]
    deltas = list(
        llm.stream(messages, tools=TOOLS, max_tokens=40, temperature=0, cancel=threading.Event())
    )
    assert deltas and all(isinstance(d, str | ToolCall) for d in deltas)


def test_remote_engine_stops_on_cancel(server: str) -> None:
    llm = OpenAICompatibleLLM(server, "smollm2", timeout_s=30)
    cancel = threading.Event()
    got = []
    messages = build_messages(BELLA, [{"role": "user", "content": "Tell me a very long story."}])
    for delta in llm.stream(messages, max_tokens=300, temperature=0.7, cancel=cancel):
        got.append(delta)
        if len(got) == 3:
            cancel.set()
    assert len(got) == 3


def test_remote_check_names_an_unknown_model(server: str) -> None:
    with pytest.raises(LLMUnavailable, match="does not serve model 'gpt-x'; it serves: smollm2"):
        OpenAICompatibleLLM(server, "gpt-x").check()


def test_remote_check_names_a_wrong_path(server: str) -> None:
    base = server.removesuffix("/v1") + "/api"
    with pytest.raises(LLMUnavailable, match=r"/api/models does not exist \(404\)"):
        OpenAICompatibleLLM(base, "smollm2").check()


def test_remote_check_names_an_unreachable_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMUnavailable, match=f"Cannot reach the language model at {url}/models"):
        OpenAICompatibleLLM(url, "m", timeout_s=2).check()
    with pytest.raises(LLMUnavailable, match="chat/completions failed"):
        list(
            OpenAICompatibleLLM(url, "m", timeout_s=2).stream(
                [{"role": "user", "content": "hi"}],
                max_tokens=5,
                temperature=0,
                cancel=threading.Event(),
            )
        )
