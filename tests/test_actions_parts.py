"""Actions without a call: checking a tool call's arguments, the tool loop of an answer (with a
scripted language model and the real voice), webhook signatures and the example verifier."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from characters.config import Settings
from characters.conversation import engine as engine_module
from characters.conversation.engine import (
    DONE_LINE,
    FILLER_LINE,
    AgentDone,
    AgentToolCall,
    AgentToolResult,
    Conversation,
    Engines,
)
from characters.conversation.prompt import (
    Character,
    Message,
    ToolCall,
    ToolSpec,
    build_messages,
    tools_from_runway,
)
from characters.conversation.tools import (
    ArgumentError,
    ToolResult,
    check_arguments,
    result_text,
    spoken_result,
    uses_result,
)
from characters.errors import InvalidInput
from characters.sessions.manager import merge_tools
from characters.webhooks import signing
from characters.webhooks.client import check_url
from tests.conftest import ROOT

TOOLS = tools_from_runway(
    [
        {
            "type": "client_event",
            "name": "show_map",
            "description": "Show the museum map of one room.",
            "parameters": [
                {
                    "type": "string",
                    "name": "room",
                    "description": "The room",
                    "enum": ["lobby", "gallery", "cafe"],
                }
            ],
        },
        {
            "type": "backend_rpc",
            "name": "check_order",
            "description": "Look up a ticket order.",
            "timeoutSeconds": 2,
            "parameters": [
                {"type": "integer", "name": "order_number", "description": "The number"},
                {
                    "type": "boolean",
                    "name": "gift",
                    "description": "A gift order?",
                    "required": False,
                },
                {
                    "type": "array",
                    "name": "tags",
                    "description": "Tags",
                    "required": False,
                    "items": {"type": "string"},
                },
                {
                    "type": "object",
                    "name": "contact",
                    "description": "Who to tell",
                    "required": False,
                    "properties": [
                        {"type": "string", "name": "email", "description": "Email"},
                        {"type": "number", "name": "priority", "description": "P"},
                    ],
                },
            ],
        },
    ]
)
SHOW_MAP, CHECK_ORDER = TOOLS


def load_example_verifier() -> Any:
    spec = importlib.util.spec_from_file_location(
        "example_verify", ROOT / "examples" / "webhooks" / "verify.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- arguments -----------------------------------------------------------------------------------


def test_arguments_are_checked_and_near_misses_mended() -> None:
    assert check_arguments(SHOW_MAP, {"room": "gallery"}) == {"room": "gallery"}
    assert check_arguments(SHOW_MAP, {"room": " Gallery", "invented": 1}) == {"room": "gallery"}
    args = {
        "order_number": "4,417",
        "gift": "yes",
        "tags": "vip",
        "contact": '{"email": "a@b.c", "priority": "2.5"}',
    }
    assert check_arguments(CHECK_ORDER, args) == {
        "order_number": 4417,
        "gift": True,
        "tags": ["vip"],
        "contact": {"email": "a@b.c", "priority": 2.5},
    }
    assert check_arguments(CHECK_ORDER, {"order_number": 12.0}) == {"order_number": 12}


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        (SHOW_MAP, {}, "room is required (one of lobby, gallery, cafe)"),
        (SHOW_MAP, {"room": "kitchen"}, "room must be one of lobby, gallery, cafe (not 'kitchen')"),
        (SHOW_MAP, {"room": ["a"]}, "room must be text"),
        (CHECK_ORDER, {"order_number": "soon"}, "order_number must be an integer"),
        (CHECK_ORDER, {"order_number": 4.5}, "order_number must be a whole number"),
        (CHECK_ORDER, {"order_number": True}, "order_number must be an integer"),
        (CHECK_ORDER, {"order_number": 1, "gift": "maybe"}, "gift must be true or false"),
        (CHECK_ORDER, {"order_number": 1, "contact": {"priority": 1}}, "contact.email is required"),
        (CHECK_ORDER, {"order_number": 1, "contact": 3}, "contact must be an object"),
    ],
)
def test_invalid_arguments_name_the_problem(
    tool: ToolSpec, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(ArgumentError) as e:
        check_arguments(tool, args)
    assert message in str(e.value) and str(e.value).startswith(f"{tool.name}: ")


def test_runways_page_actions_leave_the_highlight_duration_optional() -> None:
    (highlight,) = tools_from_runway(
        [
            {
                "type": "client_event",
                "name": "highlight",
                "description": "Highlights an element on the page by its target ID",
                "parameters": [
                    {"name": "target", "type": "string", "description": "The element's ID"},
                    {
                        "name": "duration",
                        "type": "number",
                        "description": "How long to highlight in milliseconds. Defaults to 2000",
                    },
                ],
            }
        ]
    )
    target, duration = highlight.parameters
    assert target.required and not duration.required
    assert check_arguments(highlight, {"target": "prices"}) == {"target": "prices"}


def test_avatar_tools_merge_under_the_sessions() -> None:
    avatar = [{"name": "a", "d": 1}, {"name": "b", "d": 1}]
    session = [{"name": "b", "d": 2}, {"name": "c", "d": 2}]
    assert merge_tools(avatar, session) == [{"name": "a", "d": 1}, *session]


def test_results_are_said_plainly_when_the_model_does_not() -> None:
    ok = ToolResult("c1", "check_order", {"status": "shipped", "arrivesOn": "Thursday"})
    assert result_text(ok.result) == "status: shipped; arrives on: Thursday"
    assert uses_result("Your order shipped and arrives on Thursday.", [ok])
    assert not uses_result("Your order is on its way.", [ok])  # no word of the result
    assert not uses_result("The action check_order answered: shipped.", [ok])  # read out
    assert not uses_result("Status: shipped.", [ok])
    failed = ToolResult("c2", "check_order", error="no answer in 2 s")
    assert uses_result("Sorry, I couldn't check that right now.", [failed])
    assert not uses_result("It arrives Thursday!", [failed])
    said = spoken_result([ok], "Sorry.")
    assert said == "Here is what I found. Status: shipped. Arrives on: Thursday."
    assert spoken_result([ToolResult("c", "x", {"say": "Done, see you Friday"})], "-") == (
        "Done, see you Friday."
    )
    assert spoken_result([ToolResult("c", "x", "Ready at the desk.")], "-") == "Ready at the desk."
    assert spoken_result([failed], "Sorry, no.") == "Sorry, no."


# -- the tool loop, with a scripted model -------------------------------------------------------


class ScriptedLLM:
    """Answers each round with the next scripted text; records the prompts."""

    native_tools = False

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[list[Message]] = []

    def check(self) -> None:
        pass

    def warm(self, messages: Sequence[Message]) -> None:
        pass

    def stream(self, messages: Sequence[Message], **_: Any) -> Iterator[str]:
        self.prompts.append(list(messages))
        text = self.answers.pop(0) if self.answers else ""
        for i in range(0, len(text), 7):
            yield text[i : i + 7]


class FakeBackend:
    def __init__(self, result: Any = None, delay_s: float = 0.0, error: str | None = None):
        self.result, self.delay_s, self.error = result, delay_s, error
        self.calls: list[ToolCall] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(2)

    def start(self, tool: ToolSpec, call: ToolCall) -> concurrent.futures.Future[ToolResult]:
        self.calls.append(call)

        def run() -> ToolResult:
            time.sleep(self.delay_s)
            return ToolResult(call.id, tool.name, self.result, self.error, 1000 * self.delay_s)

        return self._pool.submit(run)


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> None:
    """No speech synthesis: the loop's words are what is checked."""
    monkeypatch.setattr(engine_module, "synthesize", lambda _t, _v: iter(()))


def conversation(llm: ScriptedLLM, actions: Any = None, **settings: Any) -> Conversation:
    settings = {"action_filler_after_s": 0.3, "action_results": "model", **settings}
    engines = Engines(Settings(**settings), llm)  # type: ignore[arg-type]
    return Conversation(engines, Character("Ada", "A guide.", tools=TOOLS), actions=actions)


CALL = '<call>{"name": "check_order", "arguments": {"order_number": "4417"}}</call>'


def run(conv: Conversation, text: str, **kw: Any) -> tuple[list[Any], AgentDone]:
    events = list(conv.respond(text, **kw))
    done = events[-1]
    assert isinstance(done, AgentDone)
    return events[:-1], done


def test_a_backend_result_goes_back_to_the_model_which_speaks_it(silent: None) -> None:
    llm = ScriptedLLM(CALL, "Good news: it shipped and arrives on Thursday.")
    backend = FakeBackend({"status": "shipped", "arrives": "Thursday"})
    events, done = run(conversation(llm, backend), "Where is my order 4417?")
    (call,) = [e for e in events if isinstance(e, AgentToolCall)]
    assert (call.name, call.arguments, call.kind, call.valid) == (
        "check_order",
        {"order_number": 4417},
        "backend_rpc",
        True,
    )
    assert [c.arguments for c in backend.calls] == [{"order_number": 4417}]
    (result,) = [e.result for e in events if isinstance(e, AgentToolResult)]
    assert result.result == {"status": "shipped", "arrives": "Thursday"} and result.id == call.id
    assert done.text == "Good news: it shipped and arrives on Thursday."
    # the second round read: its own call, then the result, after the first prompt
    second = llm.prompts[1]
    assert second[: len(llm.prompts[0])] == llm.prompts[0]
    assert "shipped" in second[-1]["content"] and second[-2]["role"] == "assistant"
    assert [m["role"] for m in done.actions] == ["assistant", "system"]
    conv = conversation(llm)
    conv.remember("Where is my order 4417?", done.remembered, done.actions)
    assert [m["role"] for m in conv.history] == ["user", "assistant", "system", "assistant"]
    conv.forget_last_turn()
    assert conv.history == []


def test_a_model_that_repeats_its_call_gets_the_result_said_for_it(silent: None) -> None:
    llm = ScriptedLLM(CALL, CALL)  # the 0.5B model's habit
    backend = FakeBackend({"status": "shipped", "arrives": "Thursday"})
    events, done = run(conversation(llm, backend), "Where is my order 4417?")
    assert len(backend.calls) == 1, "a repeated call is not run again"
    assert done.text == "Here is what I found. Status: shipped. Arrives: Thursday."
    assert done.raw == done.text


def test_the_embedded_model_has_its_results_said_plainly_at_once(silent: None) -> None:
    llm = ScriptedLLM(CALL, "never asked")
    backend = FakeBackend({"status": "shipped", "arrives": "Thursday"})
    _, done = run(conversation(llm, backend, action_results="auto"), "Where is my order 4417?")
    assert done.text == "Here is what I found. Status: shipped. Arrives: Thursday."
    assert len(llm.prompts) == 1, "no second pass of the model"
    assert [m["role"] for m in done.actions] == ["assistant", "system"]


def test_a_say_result_is_spoken_as_it_is_without_a_second_round(silent: None) -> None:
    llm = ScriptedLLM(CALL, "never asked")
    backend = FakeBackend({"say": "Order 4417 ships on Thursday"})
    _, done = run(conversation(llm, backend), "Where is my order 4417?")
    assert done.text == "Order 4417 ships on Thursday."
    assert len(llm.prompts) == 1


def test_an_invalid_call_goes_back_to_the_model_never_out(silent: None) -> None:
    bad = '<call>{"name": "show_map", "arguments": {"room": "kitchen"}}</call>'
    good = 'Here it is. <call>{"name": "show_map", "arguments": {"room": "Cafe"}}</call>'
    llm = ScriptedLLM(bad, good)
    events, done = run(conversation(llm), "Show me the kitchen.")
    calls = [e for e in events if isinstance(e, AgentToolCall)]
    assert [(c.arguments, c.valid) for c in calls] == [
        ({"room": "kitchen"}, False),
        ({"room": "cafe"}, True),
    ]
    results = [e for e in events if isinstance(e, AgentToolResult)]
    assert not results[0].shown and "must be one of lobby, gallery, cafe" in str(
        results[0].result.error
    )
    assert results[1].shown and results[1].result.result == {"status": "event_sent"}
    assert "not valid" in llm.prompts[1][-1]["content"]
    assert done.text == "Here it is."


def test_a_silent_client_action_is_confirmed(silent: None) -> None:
    llm = ScriptedLLM('<call>{"name": "show_map", "arguments": {"room": "lobby"}}</call>')
    _, done = run(conversation(llm), "Map of the lobby please")
    assert done.text == DONE_LINE


def test_a_slow_backend_gets_a_filler_then_its_result(silent: None) -> None:
    llm = ScriptedLLM(CALL, "It arrives on Thursday.")
    backend = FakeBackend({"arrives": "Thursday"}, delay_s=1.0)
    started = time.monotonic()
    events, done = run(conversation(llm, backend), "Where is my order 4417?")
    assert done.text == f"{FILLER_LINE} It arrives on Thursday."
    assert 1.0 <= time.monotonic() - started < 3


def test_a_hanging_backend_times_out_and_the_character_says_so(silent: None) -> None:
    llm = ScriptedLLM(CALL, "It arrives on Thursday!")  # the model claims success anyway
    backend = FakeBackend({"arrives": "Thursday"}, delay_s=30)
    started = time.monotonic()
    events, done = run(conversation(llm, backend), "Where is my order 4417?")
    took = time.monotonic() - started
    (result,) = [e.result for e in events if isinstance(e, AgentToolResult)]
    assert result.error == "no answer in 2 s"
    assert done.text == f"{FILLER_LINE} {engine_module.FAILED_LINE}"
    assert 3.5 < took < 6, took  # timeoutSeconds + the engine's margin


def test_a_cancelled_answer_stops_waiting_for_its_backend(silent: None) -> None:
    llm = ScriptedLLM(CALL)
    backend = FakeBackend({"arrives": "Thursday"}, delay_s=30)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    _, done = run(conversation(llm, backend), "Where is my order 4417?", cancel=cancel)
    assert done.interrupted and time.monotonic() - started < 1.5


def test_a_speculative_answer_calls_no_backend_until_committed(silent: None) -> None:
    llm = ScriptedLLM(CALL, "It shipped on Thursday.")
    backend = FakeBackend({"when": "Thursday"})
    committed = threading.Event()
    threading.Timer(0.4, committed.set).start()
    asked_at: list[float] = []

    def gate() -> bool:
        committed.wait()
        asked_at.append(time.monotonic())
        return True

    started = time.monotonic()
    run(conversation(llm, backend), "Where is my order 4417?", gate=gate)
    assert backend.calls and asked_at[0] - started >= 0.39
    backend2 = FakeBackend({"when": "Thursday"})
    _, done = run(
        conversation(ScriptedLLM(CALL), backend2), "Where is my order?", gate=lambda: False
    )
    assert backend2.calls == [], "a cancelled speculation has no side effects"


def test_the_prompt_describes_tools_with_their_call_line() -> None:
    system = build_messages(Character("Ada", "A guide.", tools=TOOLS), [])[0]["content"]
    assert (
        "When the user asks you to show the museum map of one room, or asks about it, write: "
        '<call>{"name": "show_map", "arguments": {"room": "lobby"}}</call>'
    ) in system


# -- signatures ---------------------------------------------------------------------------------


def test_signatures_follow_standard_webhooks_and_the_example_verifier_checks_them() -> None:
    example = load_example_verifier()
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    body = b'{"type":"session.started"}'
    headers = signing.headers(secret, "msg_1", body)
    signing.verify(secret, headers, body)
    assert example.verify(secret, headers, body) == "msg_1"
    # Standard Webhooks' published test vector
    vector = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    payload = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.signature(vector, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, payload) == (
        expected
    )
    example.verify(
        vector,
        {
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            "webhook-signature": f"v1,bad {expected}",
        },
        payload,
        now=1614265330,
    )


@pytest.mark.parametrize(
    "tamper",
    ["body", "secret", "signature", "old", "future", "missing"],
)
def test_the_example_verifier_rejects_a_bad_signature(tamper: str) -> None:
    example = load_example_verifier()
    secret = signing.new_secret()
    body = b'{"type":"backend_rpc","tool":"check_order","args":{"order_number":4417}}'
    now = time.time()
    signed_at = now - 3600 if tamper == "old" else now + 600 if tamper == "future" else now
    headers = signing.headers(secret, "call_1", body, now=signed_at)
    if tamper == "body":
        body = body.replace(b"4417", b"4418")
    if tamper == "secret":
        secret = signing.new_secret()
    if tamper == "signature":
        headers["webhook-signature"] = "v1," + "A" * 44
    if tamper == "missing":
        del headers["webhook-signature"]
    with pytest.raises(example.InvalidSignature):
        example.verify(secret, headers, body)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, headers, body)


def test_webhook_urls_are_https_and_http_only_to_loopback_when_allowed() -> None:
    assert check_url("https://hooks.example.com/x", allow_http_loopback=False)
    for url in ("http://127.0.0.1:9/x", "ftp://x/y", "https://u:p@x.example/", "nonsense"):
        with pytest.raises(InvalidInput):
            check_url(url, allow_http_loopback=False)
    assert check_url("http://127.0.0.1:9/x", allow_http_loopback=True)
    assert check_url("http://localhost:9/x", allow_http_loopback=True)
    assert check_url("http://[::1]:9/x", allow_http_loopback=True)
    with pytest.raises(InvalidInput, match="only to loopback"):
        check_url("http://10.0.0.1/x", allow_http_loopback=True)
