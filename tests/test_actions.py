"""Actions in live calls: a real server with the real models, a real WebRTC client, and the
integrator's backend as a real HTTP server on loopback (``tests/webhooks.py``).

The user asks (typed, and spoken) for something: the client gets Runway's ``client_event``
with the right arguments. A ``backend_rpc`` call reaches the backend signed, and its result is
spoken. A backend that hangs never stalls the call: the character says it is checking, then
that it could not, and answers the next question. The organisation's webhook URL gets the
session's events, signed: started, then completed with the transcript and the recording.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import pytest

from characters.conversation.engine import FILLER_LINE
from characters.conversation.tools import PAGE_ACTIONS
from tests.calls import (
    LIVE_SETTINGS,
    assistant_text,
    is_session,
    is_state,
    models_ready,
    open_call,
    spoken,
    transcribe,
)
from tests.conftest import Server, start_server, stop_server, wait_for
from tests.webhooks import Receiver, hang, receiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SHOW_MAP = {
    "type": "client_event",
    "name": "show_map",
    "description": "Show the museum map of one room on the user's screen.",
    "parameters": [
        {
            "type": "string",
            "name": "room",
            "description": "The room to show",
            "enum": ["lobby", "gallery", "cafe"],
        }
    ],
}
CHECK_ORDER = {
    "type": "backend_rpc",
    "name": "check_order",
    "description": "Look up the status of a ticket order by its order number.",
    "timeoutSeconds": 3,
    "parameters": [{"type": "integer", "name": "order_number", "description": "The order number"}],
}
SPOKEN_REQUEST = "Please show me the map of the cafe."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The live server of these tests: greedy decoding (the same answer every run), webhooks
    to loopback allowed, a short filler delay."""
    settings = {
        **LIVE_SETTINGS,
        "LLM_TEMPERATURE": "0",
        "WEBHOOK_ALLOW_HTTP_LOOPBACK": "true",
        "WEBHOOK_BACKOFF_S": "0.5",
        "ACTION_FILLER_AFTER_S": "1",
    }
    srv, pg = start_server(
        tmp_path_factory.mktemp("actions"), {f"CHARACTERS_{k}": v for k, v in settings.items()}
    )
    models_ready(srv)
    yield srv
    stop_server(srv, pg)


@pytest.fixture(scope="module")
def backend(live: Server, key: str) -> Iterator[Receiver]:
    """The organisation's backend: session events at /events, backend_rpc at /rpc."""
    with receiver() as me:
        config = live.http(key).put(
            "/v1/organization/webhooks",
            json={"url": me.url + "/events", "backendRpcUrl": me.url + "/rpc"},
        )
        assert config.status_code == 200, config.text
        me.secret = config.json()["secret"]
        yield me


@pytest.fixture(scope="module")
def request_audio() -> tuple[np.ndarray, int]:
    return spoken(SPOKEN_REQUEST)


def events_of(client: Any, kind: str, after: float = 0.0) -> list[dict[str, Any]]:
    return [e for at, e in client.events if e.get("type") == kind and at >= after]


async def started(client: Any) -> None:
    """Wait until the start script has been said."""
    await client.wait_event(is_state("speaking"), 30)
    await client.wait_event(
        is_state("listening"), 30, after=client.event_time(is_state("speaking")) or 0
    )


async def answered(client: Any, asked: float, timeout_s: float = 60) -> None:
    """Wait until the answer to what was asked at ``asked`` has been said."""
    speaking = await client.wait_event(is_state("speaking"), timeout_s, after=asked)
    assert speaking
    at = client.event_time(is_state("speaking"), after=asked) or asked
    await client.wait_event(is_state("listening"), timeout_s, after=at)


async def end(live: Server, key: str, client: Any, session_id: str) -> Any:
    client.send({"type": "END_CALL"})
    await client.wait_event(is_session("COMPLETED", "FAILED", "CANCELLED"), 15)
    await client.close()
    sdk = live.sdk(key, max_retries=0)
    return await asyncio.to_thread(
        wait_for,
        lambda: (c := sdk.avatar_conversations.retrieve(session_id)).status == "ended" and c,
        30,
    )


async def test_asked_typed_or_spoken_the_client_gets_the_client_event(
    live: Server,
    key: str,
    avatar: str,
    backend: Receiver,
    request_audio: tuple[np.ndarray, int],
) -> None:
    call = await open_call(live, key, avatar, tools=[SHOW_MAP])
    client = call.client
    await started(client)

    asked = time.monotonic()
    client.send({"type": "user_message", "text": "Can you show me the map of the gallery?"})
    event = await client.wait_event(lambda e: e.get("type") == "client_event", 60, after=asked)
    assert event == {"type": "client_event", "tool": "show_map", "args": {"room": "gallery"}}
    (shown,) = events_of(client, "tool_call", asked)
    assert shown == {**shown, "tool": "show_map", "kind": "client_event", "turn": 1}
    await answered(client, asked)
    (result,) = events_of(client, "tool_result", asked)
    assert result["id"] == shown["id"] and result["result"] == {"status": "event_sent"}
    assert assistant_text(client, 1).strip(), "the character said something with it"

    # by voice, the same
    asked = time.monotonic()
    pcm, rate = request_audio
    client.play(pcm, rate)
    event = await client.wait_event(lambda e: e.get("type") == "client_event", 60, after=asked)
    assert event == {"type": "client_event", "tool": "show_map", "args": {"room": "cafe"}}
    await answered(client, asked)

    conversation = await end(live, key, client, call.session_id)
    acted = [t for t in conversation.transcript if t.role == "assistant" and t.tool_calls]
    assert [(c.name, c.arguments) for t in acted for c in t.tool_calls] == [
        ("show_map", {"room": "gallery"}),
        ("show_map", {"room": "cafe"}),
    ]
    first = acted[0]
    assert first.tool_calls[0].id == shown["id"]
    (stored,) = first.tool_results
    assert (stored.id, stored.name, stored.result) == (
        shown["id"],
        "show_map",
        shown and {"status": "event_sent"},
    )
    assert stored.duration_ms is not None
    assert not backend.of("/rpc"), "client events never reach the backend"


async def test_a_backend_call_is_signed_answered_and_spoken_and_the_session_reported(
    live: Server, key: str, avatar: str, backend: Receiver
) -> None:
    orders = {4417: {"status": "shipped", "arrives": "Thursday"}}
    backend.rpc["check_order"] = lambda args: (200, orders[args["order_number"]])
    call = await open_call(live, key, avatar, tools=[CHECK_ORDER])
    client = call.client
    await started(client)
    asked = time.monotonic()
    client.send({"type": "user_message", "text": "What's the status of my ticket order 4417?"})
    await answered(client, asked)
    answer_end = time.monotonic()

    (request,) = backend.of("/rpc")
    assert request.verified
    body = request.json
    assert body == {
        "type": "backend_rpc",
        "id": body["id"],
        "tool": "check_order",
        "args": {"order_number": 4417},
        "sessionId": call.session_id,
        "avatarId": avatar,
    }
    assert request.headers["webhook-id"] == body["id"]
    said = assistant_text(client, 1)
    assert "thursday" in said.lower(), said
    heard = transcribe(audio_between_events(client, asked, answer_end))
    # The result is in the voice too (Whisper tiny once heard "Thursday" as "thirsty": any of
    # the result's words will do).
    assert "thursday" in heard or "shipped" in heard, heard
    (result,) = events_of(client, "tool_result", asked)
    assert result["result"] == orders[4417] and result["durationMs"] > 0

    conversation = await end(live, key, client, call.session_id)
    (entry,) = [t for t in conversation.transcript if t.tool_calls]
    assert entry.tool_calls[0].arguments == {"order_number": 4417}
    assert entry.tool_results[0].result == orders[4417]
    assert "thursday" in (entry.content or "").lower()

    # the session's events, signed, in order; the last one with the transcript and recording
    def events() -> list[dict[str, Any]]:
        return [
            r.json
            for r in backend.of("/events")
            if r.verified and r.json["data"]["session"]["id"] == call.session_id
        ]

    await asyncio.to_thread(backend.wait, lambda: len(events()) >= 2, 40)
    begun, completed = events()
    assert [begun["type"], completed["type"]] == ["session.started", "session.completed"]
    assert begun["data"]["session"]["status"] == "RUNNING"
    final = completed["data"]
    assert final["session"]["status"] == "COMPLETED" and final["session"]["duration"] >= 1
    assert [t["role"] for t in final["transcript"]][:3] == ["assistant", "user", "assistant"]
    assert any(t.get("toolResults") for t in final["transcript"])
    assert final["links"]["recording"] == final["recordingUrl"]
    recording = await asyncio.to_thread(httpx.get, final["recordingUrl"], timeout=30)
    assert recording.status_code == 200 and recording.headers["content-type"] == "video/mp4"
    assert len(recording.content) > 10_000
    listed = live.http(key).get(
        "/v1/organization/webhook_deliveries", params={"sessionId": call.session_id}
    )
    assert {d["status"] for d in listed.json()["data"]} == {"delivered"}


def audio_between_events(client: Any, start: float, end: float) -> np.ndarray:
    times, samples = client.audio_array()
    return samples[(times >= start) & (times <= end + 0.3)]


async def test_a_hanging_backend_does_not_stall_the_call(
    live: Server, key: str, avatar: str, backend: Receiver
) -> None:
    backend.rpc["check_order"] = hang(backend)
    call = await open_call(live, key, avatar, tools=[CHECK_ORDER])
    client = call.client
    await started(client)
    asked = time.monotonic()
    client.send({"type": "user_message", "text": "Please check order number 1234 for me."})
    failed = await client.wait_event(
        lambda e: e.get("type") == "tool_result" and "error" in e, 30, after=asked
    )
    assert failed["error"] == "no answer within 3 s", failed
    await answered(client, asked)
    said = assistant_text(client, 1)
    assert said.startswith(FILLER_LINE), said  # said while the backend was silent
    assert said != FILLER_LINE, "and then that it could not"
    # the face kept moving all along: video arrived at full rate while the backend hung
    arrivals = [t for t in client.video.arrivals if asked + 1 <= t <= asked + 4]
    assert len(arrivals) >= 2.5 * 18, len(arrivals)

    # the call goes on: the next question is answered
    asked = time.monotonic()
    client.send({"type": "user_message", "text": "How much is a ticket?"})
    await answered(client, asked)
    price = assistant_text(client, 2).lower()
    assert "12" in price or "twelve" in price, price
    conversation = await end(live, key, client, call.session_id)
    (entry,) = [t for t in conversation.transcript if t.tool_results]
    assert entry.tool_results[0].error and entry.tool_results[0].duration_ms >= 2900


# -- page actions, in a real browser --------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Blue Lake Museum</title>
<script type="module" src="{characters}/widget/characters-call.js"></script>
<style>[data-avatar-highlighted] {{ background: rgb(255, 236, 179); }}</style>
</head><body>
<h1>Blue Lake Museum</h1>
<characters-call character-name="Ada"></characters-call>
<section id="ticket-prices"><h2>Ticket prices</h2><p>12 dollars.</p></section>
<div style="height: 1500px"></div>
<section id="opening-hours"><h2>Opening hours</h2><p>9 am to 5 pm, closed on Mondays.</p></section>
<button data-avatar-target="buy-tickets" onclick="window.__bought = (window.__bought || 0) + 1">
  Buy tickets</button>
</body></html>"""
HIGHLIGHTS = """
window.__highlights = [];
new MutationObserver((changes) => {
  for (const change of changes) {
    const el = change.target;
    if (!el.hasAttribute("data-avatar-highlighted")) continue;
    const box = el.getBoundingClientRect();
    window.__highlights.push({
      id: el.id,
      background: getComputedStyle(el).backgroundColor,
      inView: box.bottom > 0 && box.top < innerHeight + 2000,
    });
  }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-avatar-highlighted"] });
"""
PAGE_PERSONA = (
    "You are Ada, the guide of the Blue Lake Museum. Facts: the museum opens at 9 am and closes "
    "at 5 pm, every day except Monday. A ticket costs 12 dollars. The web page has these "
    "parts: ticket-prices, opening-hours, buy-tickets (a button)."
)


@contextmanager
def integrator_page(html: str) -> Iterator[str]:
    """The integrator's page, served by a real HTTP server on loopback (another origin than the
    Characters server; a secure context, so the microphone is allowed); its URL."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def silence(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import wave

    path = tmp_path_factory.mktemp("microphone") / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(b"\0\0" * 96_000)
    return path


def test_page_actions_highlight_and_click_on_the_integrators_page(
    live: Server, key: str, avatar: str, silence: Any
) -> None:
    from tests.browser import chromium, new_page, screenshot
    from tests.calls import consume, create_session
    from tests.test_web_widget import RECORDER, events, transcript, wait_state

    session_id, session_key = create_session(
        live, key, avatar, tools=PAGE_ACTIONS, personality=PAGE_PERSONA
    )
    creds = consume(live, session_id, session_key)
    with (
        integrator_page(PAGE.format(characters=live.base_url)) as site,
        chromium(silence) as browser,
    ):
        page = new_page(browser, timeout_ms=60_000)
        page.add_init_script(RECORDER.replace('"warning"', '"warning", "pageaction", "toolcall"'))
        page.add_init_script(HIGHLIGHTS)
        page.goto(site)
        page.wait_for_function("customElements.get('characters-call') !== undefined")
        widget = page.locator("characters-call")
        widget.evaluate(
            "(el, creds) => { el.credentials = creds; return el.start(); }",
            {"sessionId": session_id, "url": creds["url"], "token": creds["token"]},
        )
        assert wait_state(page, "active") == "active"
        page.wait_for_function(
            """() => document.querySelector('characters-call').transcript.some(
                 (e) => e.role === 'assistant' && e.turn === 0 && e.final)""",
            timeout=40_000,
        )

        def ask(text: str) -> dict[str, Any]:
            """Type ``text``; the client event of the answer, once the answer was said."""
            before = len(events(page, "clientevent"))
            turn = 1 + max([e["turn"] for e in transcript(page) if e["role"] == "user"] or [0])
            widget.evaluate("(el, text) => el.sendText(text)", text)
            try:
                page.wait_for_function(
                    """(turn) => document.querySelector('characters-call').transcript.some(
                         (e) => e.role === 'assistant' && e.turn === turn && e.final)""",
                    arg=turn,
                    timeout=90_000,
                )
            except Exception as e:
                raise AssertionError(f"no answer: {transcript(page)}") from e
            sent = events(page, "clientevent")[before:]
            assert sent, f"no client event: {transcript(page)}"
            return sent[0]

        highlighted = ask("Highlight the ticket prices on the page.")
        assert highlighted["tool"] == "highlight"
        assert highlighted["args"]["target"].lstrip("#").lower() == "ticket-prices"
        page.wait_for_function("window.__highlights.length > 0", timeout=5_000)
        (mark,) = page.evaluate("window.__highlights")
        assert mark["id"] == "ticket-prices"
        assert mark["background"] == "rgb(255, 236, 179)", "the page's own highlight style"
        assert mark["inView"], "scrolled into view"
        screenshot(page, "page-action-highlight")
        (action,) = [e for e in events(page, "pageaction") if e["tool"] == "highlight"]
        assert action["found"] is True and action["target"] == highlighted["args"]["target"]
        page.wait_for_selector(  # for `duration` ms (2 s by default), then not
            "#ticket-prices:not([data-avatar-highlighted])", state="attached", timeout=65_000
        )

        clicked = ask("Click the buy tickets button for me.")
        assert clicked["tool"] == "click" and clicked["args"]["target"]
        page.wait_for_function("window.__bought === 1", timeout=5_000)

        # page-actions="off": the event still comes, the page is left alone
        widget.evaluate("(el) => el.setAttribute('page-actions', 'off')")
        assert ask("Please highlight the opening hours.")["tool"] == "highlight"
        assert page.evaluate("window.__highlights.length") == 1, "the page was left alone"
        assert len(events(page, "pageaction")) == 2
        calls = events(page, "toolcall")
        assert len(calls) >= 3 and {c["kind"] for c in calls} == {"client_event"}
        widget.evaluate("(el) => el.end()")
        wait_state(page, "ended", timeout_s=15)
        assert page.errors == [], page.errors
