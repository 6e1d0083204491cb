"""The call widget: ``<characters-call>`` and its client module, in a real Chromium.

An integrator's site (``examples/integrator``, a real uvicorn process on another origin) holds
the API key and hands the browser the call's credentials; the page loads the widget from the
Characters server. Chromium's fake microphone plays a spoken question. What the user gets is
checked where the user gets it: the video element's pixels, the captions and messages in the
page, the states and DOM events; then what the API stored.

The client's credential rules (Runway's order, shapes A and B, errors, timeouts) are checked
without a browser too, in Node, with a stubbed ``fetch``.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from tests import browser
from tests.browser import (
    ARTIFACTS,
    chromium,
    new_page,
    open_session_in_portal,
    screenshot,
    sign_in,
)
from tests.calls import consume, create_session, heard_words, spoken
from tests.conftest import ROOT, Server, wait_for
from tests.integrator import Integrator, start_integrator, stop_integrator

WIDGET = ROOT / "characters" / "web" / "widget"
QUESTION = "What time does the museum open?"
TYPED = "When does the museum close?"
EVENT_TYPES = [
    "statechange",
    "transcript",
    "clientevent",
    "error",
    "end",
    "characterstate",
    "session",
    "warning",
]
RECORDER = """
window.__events = [];
for (const type of EVENT_TYPES) {
  document.addEventListener(type, (event) => {
    if (event.target?.localName !== "characters-call") return;
    const { error, stream, ...detail } = event.detail || {};
    window.__events.push({ type, detail: JSON.parse(JSON.stringify(detail)) });
  });
}
""".replace("EVENT_TYPES", json.dumps(EVENT_TYPES))


# -- the client's rules, in Node -------------------------------------------------------------------

NODE_CASES = r"""
const { resolveCredentials, parseIceLinks } = await import(process.argv[2]);
const calls = [];
const replies = [];
globalThis.fetch = async (url, init = {}) => {
  calls.push({ url: String(url), method: init.method, headers: init.headers || {},
               body: init.body ?? null });
  const reply = replies.shift();
  if (reply === "hang") {
    return new Promise((_, reject) => init.signal.addEventListener("abort",
      () => reject(new DOMException("aborted", "AbortError"))));
  }
  return new Response(JSON.stringify(reply.body), { status: reply.status });
};
const out = {};
async function run(name, options, queued = [], timeouts = {}) {
  calls.length = 0;
  replies.splice(0, replies.length, ...queued);
  const all = { connect: 2000, consume: 2000, ...timeouts };
  try {
    out[name] = { creds: await resolveCredentials(options, { timeouts: all }), calls: [...calls] };
  } catch (e) {
    out[name] = { error: { code: e.code, message: e.message }, calls: [...calls] };
  }
}
const webrtc = "http://chars:8000/v1/realtime_sessions/s/webrtc";
const consumed = { status: 200, body: { url: webrtc, token: "t", roomName: "s" } };
await run("credentials", { credentials: { sessionId: "s", serverUrl: webrtc, token: "t" },
  sessionId: "x", sessionKey: "y", connectUrl: "http://site/connect" });
await run("credentials_url", { credentials: { sessionId: "s", url: webrtc, token: "t" } });
await run("session_key", { sessionId: "s1", sessionKey: "k1", connectUrl: "http://site/connect",
  baseUrl: "http://chars:8000/" }, [consumed]);
await run("shape_a", { avatarId: "a1", connectUrl: "http://site/connect" },
  [{ status: 200, body: { sessionId: "s", serverUrl: webrtc, token: "t", roomName: "s",
                          iceServers: [{ urls: "turn:t.example:3478" }] } }]);
await run("shape_b", { avatarId: "a1", connectUrl: "http://site/connect",
  baseUrl: "http://chars:8000" }, [{ status: 200, body: { sessionId: "s2", sessionKey: "k2" } },
  consumed]);
await run("connect_fn", { avatarId: "a1", connect: async (id) => ({ sessionId: id,
  serverUrl: webrtc, token: "t3" }), connectUrl: "http://site/connect" });
await run("connect_500", { avatarId: "a1", connectUrl: "http://site/connect" },
  [{ status: 500, body: { detail: "Out of credits." } }]);
await run("consume_409", { avatarId: "a1", connectUrl: "http://site/connect",
  baseUrl: "http://chars:8000" }, [{ status: 200, body: { sessionId: "s2", sessionKey: "k2" } },
  { status: 409, body: { error: "The credentials were already consumed." } }]);
await run("connect_hangs", { avatarId: "a1", connectUrl: "http://site/connect" }, ["hang"],
  { connect: 50 });
await run("consume_hangs", { sessionId: "s", sessionKey: "k", baseUrl: "http://chars:8000" },
  ["hang"], { consume: 50 });
await run("neither", { avatarId: "a1" });
await run("bad_shape", { avatarId: "a1", connectUrl: "http://site/connect" },
  [{ status: 200, body: { hello: 1 } }]);
out.links = parseIceLinks('<turn:t.example:3478?transport=udp>; rel="ice-server"; '
  + 'username="u"; credential="p, q"; credential-type="password", '
  + '<stun:s.example:3478>; rel="ice-server", <https://x.example/>; rel="other"');
console.log(JSON.stringify(out));
"""


@pytest.mark.timeout(60)
def test_the_client_resolves_credentials_as_runways_sdk_does(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is needed to run the client module outside a browser")
    script = tmp_path / "cases.mjs"
    script.write_text(NODE_CASES)
    done = subprocess.run(
        [node, str(script), (WIDGET / "client.js").as_uri()],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    webrtc = "http://chars:8000/v1/realtime_sessions/s/webrtc"

    # credentials win over everything, as given (Runway's serverUrl or consume's url)
    for case in ("credentials", "credentials_url"):
        assert out[case]["calls"] == [], case
        assert out[case]["creds"] == {
            "sessionId": "s",
            "url": webrtc,
            "token": "t",
            "roomName": None,
            "iceServers": [],
        }

    # a session key: consume at baseUrl, Bearer session key, no X-Runway-Version
    (call,) = out["session_key"]["calls"]
    assert call["method"] == "POST"
    assert call["url"] == "http://chars:8000/v1/realtime_sessions/s1/consume"
    assert call["headers"]["Authorization"] == "Bearer k1"
    assert not any(h.lower() == "x-runway-version" for h in call["headers"])
    assert out["session_key"]["creds"]["url"] == webrtc
    assert out["session_key"]["creds"]["sessionId"] == "s1"

    # shape A: one POST {avatarId}, used as it is (iceServers passed on)
    (call,) = out["shape_a"]["calls"]
    assert call["url"] == "http://site/connect" and json.loads(call["body"]) == {"avatarId": "a1"}
    assert call["headers"]["Content-Type"] == "application/json"
    assert out["shape_a"]["creds"]["token"] == "t"
    assert out["shape_a"]["creds"]["iceServers"] == [{"urls": "turn:t.example:3478"}]

    # shape B: the browser consumes at baseUrl
    connect, consume = out["shape_b"]["calls"]
    assert consume["url"] == "http://chars:8000/v1/realtime_sessions/s2/consume"
    assert consume["headers"]["Authorization"] == "Bearer k2"
    assert out["shape_b"]["creds"] == {**out["shape_b"]["creds"], "sessionId": "s2", "url": webrtc}

    # connect() before connectUrl
    assert out["connect_fn"]["calls"] == [] and out["connect_fn"]["creds"]["token"] == "t3"

    # errors: the code, and the server's own words
    assert out["connect_500"]["error"] == {
        "code": "SESSION_CREATE_FAILED",
        "message": "Failed to connect: 500 Out of credits.",
    }
    assert out["consume_409"]["error"] == {
        "code": "CONSUME_FAILED",
        "message": "Failed to consume session: 409 The credentials were already consumed.",
    }
    assert out["connect_hangs"]["error"]["code"] == "SESSION_CREATE_FAILED"
    assert "did not answer within" in out["connect_hangs"]["error"]["message"]
    assert out["consume_hangs"]["error"]["code"] == "CONSUME_FAILED"
    assert "did not answer within" in out["consume_hangs"]["error"]["message"]
    assert out["neither"]["error"]["code"] == "MISSING_CREDENTIALS"
    assert out["bad_shape"]["error"]["code"] == "SESSION_CREATE_FAILED"

    # RFC 9725 Link headers: ice-server links only; quoted commas kept
    assert out["links"] == [
        {"urls": "turn:t.example:3478?transport=udp", "username": "u", "credential": "p, q"},
        {"urls": "stun:s.example:3478"},
    ]


# -- the integrator example ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_example_serves_the_embed_and_guards_its_connect_endpoint(tmp_path: Path) -> None:
    """``python examples/integrator/app.py`` runs; its page embeds the widget from the
    Characters server; /connect refuses other characters (the key is never used for them)."""
    site = start_integrator(
        tmp_path,
        {
            "CHARACTERS_URL": "http://characters.example:8000/",
            "CHARACTERS_API_KEY": "key_secret",
            "AVATAR_ID": "0f6e0f6e-aaaa-bbbb-cccc-000000000001",
        },
        as_script=True,
    )
    try:
        page = httpx.get(site.url + "/", timeout=10).text
        assert (
            '<script type="module" src="http://characters.example:8000/widget/characters-call.js">'
            in page
        )
        assert re.search(
            r'<characters-call avatar-id="0f6e0f6e-aaaa-bbbb-cccc-000000000001"\s+'
            r'connect-url="/connect"',
            page,
        )
        assert "key_secret" not in page
        refused = httpx.post(site.url + "/connect", json={"avatarId": "someone-else"}, timeout=10)
        assert refused.status_code == 403
        assert httpx.post(site.url + "/connect", json={}, timeout=10).status_code == 422
    finally:
        stop_integrator(site)


@pytest.fixture(scope="module")
def integrator(
    live: Server, key: str, avatar: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Integrator]:
    """The example integrator (uvicorn, another origin) against the live server."""
    site = start_integrator(
        tmp_path_factory.mktemp("integrator"),
        {"CHARACTERS_URL": live.base_url, "CHARACTERS_API_KEY": key, "AVATAR_ID": avatar},
    )
    yield site
    stop_integrator(site)


@pytest.fixture(scope="module")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """WAVs for the fake microphone (it loops them): the question after 8 s (the start script
    is over by then), then 16 s of silence for the answer; and silence alone."""
    from characters.pcm import resample

    folder = tmp_path_factory.mktemp("microphone")
    pcm, rate = spoken(QUESTION)
    question = resample(pcm.astype(np.int16), rate, 48_000)

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(48_000 * seconds), np.int16)

    out = {}
    for name, samples in (
        ("question", np.concatenate([silence(8), question, silence(16)])),
        ("silence", silence(2)),
    ):
        path = folder / f"{name}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(48_000)
            w.writeframes(samples.astype("<i2").tobytes())
        out[name] = path
    return out


# -- page helpers ----------------------------------------------------------------------------------


def open_site(browser: Any, site: Integrator) -> Any:
    page = new_page(browser)
    page.add_init_script(RECORDER)
    page.goto(site.url + "/")
    page.wait_for_function("customElements.get('characters-call') !== undefined", timeout=10_000)
    return page


def events(page: Any, kind: str | None = None) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = page.evaluate("window.__events")
    return [e["detail"] for e in recorded if kind is None or e["type"] == kind]


def states(page: Any) -> list[str]:
    return [e["state"] for e in events(page, "statechange")]


def wait_state(page: Any, *wanted: str, timeout_s: float = 30) -> str:
    page.wait_for_function(
        "(states) => states.includes(document.querySelector('characters-call').state)",
        arg=list(wanted),
        timeout=timeout_s * 1000,
    )
    state: str = page.evaluate("document.querySelector('characters-call').getAttribute('state')")
    return state


def transcript(page: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = page.evaluate(
        "document.querySelector('characters-call').transcript"
    )
    return entries


def wait_answer(page: Any, after_turn: int = 0, timeout_s: float = 60) -> dict[str, Any]:
    """The character's first finished answer after ``after_turn``."""
    page.wait_for_function(
        """(turn) => document.querySelector('characters-call').transcript.some(
             (e) => e.role === 'assistant' && e.turn > turn && e.final && e.text.trim())""",
        arg=after_turn,
        timeout=timeout_s * 1000,
    )
    return next(
        e
        for e in transcript(page)
        if e["role"] == "assistant" and e["turn"] > after_turn and e["final"]
    )


def brightness(page: Any) -> float:
    """The mean brightness (0-255) of the widget's video frame (-1: none yet)."""
    return browser.brightness(
        page, "document.querySelector('characters-call').shadowRoot.querySelector('video')"
    )


def message(page: Any) -> str:
    text: str = page.locator("characters-call .message").inner_text()
    return text


def says(text: str, digit: str, word: str) -> bool:
    """``text`` has the number (as a digit, "9 am", "9am", "9:00", or a word)."""
    return bool(re.search(rf"(?<!\d){digit}(?!\d)|\b{word}\b", text.lower()))


def unexpected(errors: list[str], *allowed: str) -> list[str]:
    return [e for e in errors if not any(a in e for a in allowed)]


def small_png(source: Path, target: Path, width: int = 560) -> None:
    """A docs-sized copy of a screenshot (scaled, 256 colours)."""
    from PIL import Image

    image = Image.open(source).convert("RGB")
    image = image.resize(
        (width, round(image.height * width / image.width)), Image.Resampling.LANCZOS
    )
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        target, optimize=True
    )


# -- calls -----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_spoken_call_from_an_integrators_page(
    live: Server, key: str, integrator: Integrator, microphone: dict[str, Path]
) -> None:
    """The whole path: a page on another origin, /connect (create → READY → consume with the
    official SDK, shape A), the microphone asking a question, the character's video and
    answer in the page, hang-up, and the API's record of it."""
    with chromium(microphone["question"]) as browser:
        page = open_site(browser, integrator)
        assert page.evaluate("location.origin") != live.base_url
        widget = page.locator("characters-call")
        assert widget.get_attribute("state") == "idle"
        page.get_by_role("button", name="Start call").click()
        wait_state(page, "active", timeout_s=45)
        assert states(page) == ["connecting", "active"]
        session_id = page.evaluate("document.querySelector('characters-call').sessionId")
        assert session_id

        # The character's face: non-black frames in the video element.
        deadline = time.monotonic() + 15
        while (level := brightness(page)) < 30 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert level >= 30, level

        # The question is heard and answered, in the captions.
        answer = wait_answer(page, 0, timeout_s=60)
        user = [e for e in transcript(page) if e["role"] == "user"]
        assert user and heard_words(user[0]["text"], QUESTION) >= 0.6, user
        assert says(answer["text"], "9", "nine"), answer
        page.wait_for_function(
            "document.querySelector('characters-call').shadowRoot"
            ".querySelectorAll('.line.assistant:not(.interim)').length >= 2",
            timeout=5_000,
        )
        captions = page.locator("characters-call .captions").inner_text()
        assert user[0]["text"].strip() in captions and answer["text"].strip() in captions
        assert "You" in captions and "Guide" in captions  # character-name="Guide"
        # the same lines reach screen readers once, finished
        spoken_log = page.locator("characters-call .transcript").inner_text()
        assert f"You: {user[0]['text'].strip()}" in spoken_log
        shot = screenshot(page, "widget-call-active")
        widget.screenshot(path=str(ARTIFACTS / "widget-call-element.png"))
        small_png(ARTIFACTS / "widget-call-element.png", ARTIFACTS / "widget-call.png")
        assert shot.exists()

        # Mute, then unmute: the call goes on (the character hears silence).
        page.get_by_role("button", name="Mute").click()
        assert page.get_by_role("button", name="Mute").get_attribute("aria-pressed") == "true"
        assert "muted" in page.locator("characters-call .status").inner_text()
        assert page.evaluate("document.querySelector('characters-call').call.muted"), (
            "the client muted"
        )
        page.get_by_role("button", name="Mute").click()
        assert page.get_by_role("button", name="Mute").get_attribute("aria-pressed") == "false"

        page.get_by_role("button", name="Hang up").click()
        wait_state(page, "ended", timeout_s=15)
        assert states(page) == ["connecting", "active", "ending", "ended"]
        assert events(page, "end") == [
            {
                "reason": "hangup",
                "status": "COMPLETED",
                "message": events(page, "end")[0]["message"],
            }
        ]
        assert "Call ended" in message(page)
        assert page.get_by_role("button", name="Start a new call").is_visible()
        screenshot(page, "widget-call-ended")
        assert events(page, "error") == []
        assert page.errors == [], page.errors

        sdk = live.sdk(key, max_retries=0)
        session = wait_for(
            lambda: (s := sdk.realtime_sessions.retrieve(session_id)).status != "RUNNING" and s,
            timeout=15,
        )
        assert session.status == "COMPLETED", session
        conversation = wait_for(
            lambda: (c := sdk.avatar_conversations.retrieve(session_id)).status == "ended" and c,
            timeout=15,
        )
        said = [t.content for t in conversation.transcript if t.role == "user"]
        answers = [t.content for t in conversation.transcript if t.role == "assistant"]
        assert said and heard_words(said[0], QUESTION) >= 0.6, said
        assert answer["text"].strip() in [a.strip() for a in answers if a], answers

        # The integrator's developer finds the call in the portal: transcript and recording.
        wait_for(
            lambda: sdk.avatar_conversations.retrieve(session_id).recording_url,
            timeout=30,
            interval=0.5,
        )
        portal = new_page(browser)
        sign_in(portal, live.base_url, key)
        text, duration = open_session_in_portal(portal, session_id)
        assert said[0].strip() in text and answer["text"].strip() in text, text
        # the browser knows the whole recording's length (a plain MP4, not fragments)
        recording = httpx.get(sdk.avatar_conversations.retrieve(session_id).recording_url)
        with av.open(io.BytesIO(recording.content)) as mp4:
            assert mp4.duration is not None and mp4.duration / 1e6 > 5
            assert abs(duration - mp4.duration / 1e6) < 0.5, (duration, mp4.duration)
        screenshot(portal, "portal-session-from-widget-call")
        assert portal.errors == [], portal.errors


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_shape_b_the_browser_consumes_and_a_typed_question_is_answered(
    live: Server, key: str, avatar: str, integrator: Integrator, microphone: dict[str, Path]
) -> None:
    """A connect endpoint that returns ``{sessionId, sessionKey}``: the widget consumes at the
    Characters server itself (cross-origin, Bearer session key, no X-Runway-Version)."""
    asked: list[dict[str, Any]] = []
    sessions: list[str] = []

    def shape_b(route: Any) -> None:
        asked.append(route.request.post_data_json)
        session_id, session_key = create_session(live, key, avatar)
        sessions.append(session_id)
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"sessionId": session_id, "sessionKey": session_key}),
        )

    with chromium(microphone["silence"]) as browser:
        page = open_site(browser, integrator)
        requests: list[Any] = []
        page.on("request", lambda r: requests.append(r))
        page.route(integrator.url + "/connect", shape_b)
        page.get_by_role("button", name="Start call").click()
        wait_state(page, "active", timeout_s=45)
        assert asked == [{"avatarId": page.locator("characters-call").get_attribute("avatar-id")}]
        (session_id,) = sessions
        (consume,) = [r for r in requests if r.url.endswith(f"/{session_id}/consume")]
        assert consume.url == f"{live.base_url}/v1/realtime_sessions/{session_id}/consume"
        headers = consume.all_headers()
        assert headers["origin"] == integrator.url
        assert headers["authorization"].startswith("Bearer ")
        assert "x-runway-version" not in headers

        # Let the start script finish, then type (keyboard only).
        page.wait_for_function(
            """() => document.querySelector('characters-call').transcript.some(
                 (e) => e.role === 'assistant' && e.turn === 0 && e.final)""",
            timeout=30_000,
        )
        box = page.get_by_label("Message to the character")
        box.fill(TYPED)
        box.press("Enter")
        assert box.input_value() == ""
        answer = wait_answer(page, 0, timeout_s=60)
        user = [e for e in transcript(page) if e["role"] == "user"]
        assert [u["text"] for u in user] == [TYPED]
        assert says(answer["text"], "5", "five"), answer
        assert TYPED in page.locator("characters-call .captions").inner_text()
        screenshot(page, "widget-typed")

        hang_up = page.get_by_role("button", name="Hang up")
        hang_up.focus()
        page.keyboard.press("Enter")
        wait_state(page, "ended", timeout_s=15)
        assert page.errors == [], page.errors

    sdk = live.sdk(key, max_retries=0)
    session = wait_for(
        lambda: (s := sdk.realtime_sessions.retrieve(session_id)).status != "RUNNING" and s,
        timeout=15,
    )
    assert session.status == "COMPLETED"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_call_cancelled_through_the_api_shows_it_in_the_page(
    live: Server, key: str, integrator: Integrator, microphone: dict[str, Path]
) -> None:
    """On a phone-sized screen, with captions off."""
    with chromium(microphone["silence"]) as browser:
        page = open_site(browser, integrator)
        page.set_viewport_size({"width": 360, "height": 740})
        page.locator("characters-call").evaluate("(el) => el.setAttribute('captions', 'off')")
        page.get_by_role("button", name="Start call").click()
        wait_state(page, "active", timeout_s=45)
        session_id = page.evaluate("document.querySelector('characters-call').sessionId")
        page.wait_for_function(
            "document.querySelector('characters-call').transcript.some((e) => e.text.trim())",
            timeout=20_000,
        )
        assert page.locator("characters-call .captions").is_hidden()
        for name in ("Mute", "Hang up", "Send"):  # every control fits, labels or not
            box = page.get_by_role("button", name=name).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, (name, box)
        screenshot(page, "widget-narrow")
        live.sdk(key, max_retries=0).realtime_sessions.delete(session_id)
        wait_state(page, "ended", "error", timeout_s=15)
        assert states(page) == ["connecting", "active", "ended"]
        (end,) = events(page, "end")
        assert end["reason"] == "cancelled" and end["status"] == "CANCELLED"
        assert "cancelled" in message(page).lower()
        assert "cancelled" in page.locator("characters-call .status").inner_text().lower()
        screenshot(page, "widget-cancelled")
        assert events(page, "error") == []
        assert page.errors == [], page.errors


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_credentials_given_by_the_page_and_a_call_that_reaches_its_cap(
    live: Server, key: str, avatar: str, integrator: Integrator, microphone: dict[str, Path]
) -> None:
    """The developer portal's way: ``el.credentials = {sessionId, url, token}; el.start()``
    (consumed by the page's own backend); the cap's warning, then the end, in the page."""
    session_id, session_key = create_session(live, key, avatar, max_duration=10)
    creds = consume(live, session_id, session_key)
    with chromium(microphone["silence"]) as browser:
        page = open_site(browser, integrator)
        widget = page.locator("characters-call")
        widget.evaluate("(el) => el.removeAttribute('connect-url')")
        widget.evaluate(
            "(el, creds) => { el.credentials = creds; return el.start(); }",
            {"sessionId": session_id, "url": creds["url"], "token": creds["token"]},
        )
        assert widget.get_attribute("state") == "active"
        assert page.evaluate("document.querySelector('characters-call').sessionId") == session_id
        page.wait_for_function(
            "document.querySelector('characters-call').shadowRoot.querySelector('.status')"
            ".textContent.includes('The call ends in')",
            timeout=15_000,
        )
        wait_state(page, "ended", "error", timeout_s=15)
        (end,) = events(page, "end")
        assert end["reason"] == "max-duration" and end["status"] == "COMPLETED", end
        assert "time limit" in message(page)
        # credentials work once: no button offers to start again with them
        assert not page.get_by_role("button", name="Start a new call").is_visible()
        screenshot(page, "widget-cap")
        assert page.errors == [], page.errors


# -- failures before a call ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_denied_microphone_is_explained_and_no_session_is_made(
    integrator: Integrator,
) -> None:
    with chromium(deny_microphone=True) as browser:
        page = open_site(browser, integrator)
        # the helper really denies: getUserMedia fails as after a click on "Block"
        denied = page.evaluate(
            """() => navigator.mediaDevices.getUserMedia({ audio: true })
                 .then(() => 'granted', (e) => e.name)"""
        )
        assert denied == "NotAllowedError"
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.get_by_role("button", name="Start call").click()
        assert wait_state(page, "ended", "error", timeout_s=15) == "error"
        (error,) = events(page, "error")
        assert error["code"] == "MEDIA_PERMISSION_DENIED"
        alert = page.get_by_role("alert").inner_text()
        assert "Microphone blocked" in alert and "Allow the microphone" in alert, alert
        assert not [u for u in requests if u.endswith("/connect")], "no session for nothing"
        assert page.get_by_role("button", name="Try again").is_visible()
        screenshot(page, "widget-microphone-denied")
        assert page.errors == [], page.errors


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_failing_connect_url_and_a_browser_without_webrtc_are_explained(
    integrator: Integrator, microphone: dict[str, Path]
) -> None:
    with chromium(microphone["silence"]) as browser:
        page = open_site(browser, integrator)
        page.route(
            integrator.url + "/connect",
            lambda route: route.fulfill(
                status=500,
                content_type="application/json",
                body=json.dumps({"detail": "Out of credits: ask the site's owner."}),
            ),
        )
        page.get_by_role("button", name="Start call").click()
        assert wait_state(page, "ended", "error", timeout_s=15) == "error"
        (error,) = events(page, "error")
        assert error == {
            **error,
            "code": "SESSION_CREATE_FAILED",
            "message": "Failed to connect: 500 Out of credits: ask the site's owner.",
        }
        alert = page.get_by_role("alert").inner_text()
        assert "Could not connect" in alert and "Out of credits" in alert, alert
        screenshot(page, "widget-connect-failed")

        # autoconnect: no click needed (here it meets the same failing endpoint)
        page.evaluate(
            """() => {
              const el = document.createElement('characters-call');
              el.id = 'auto';
              el.setAttribute('avatar-id', 'a');
              el.setAttribute('connect-url', '/connect');
              el.setAttribute('autoconnect', '');
              document.body.append(el);
            }"""
        )
        page.wait_for_function("document.getElementById('auto').state === 'error'", timeout=15_000)
        assert "Out of credits" in page.locator("#auto .message").inner_text()
        assert unexpected(page.errors, "status of 500") == [], page.errors

        # hanging up while connecting (the connect endpoint never answers)
        slow = new_page(browser)
        slow.add_init_script(RECORDER)
        pending: list[Any] = []
        slow.route(integrator.url + "/connect", lambda route: pending.append(route))
        slow.goto(integrator.url + "/")
        slow.get_by_role("button", name="Start call").click()
        wait_state(slow, "connecting")
        assert slow.get_by_role("button", name="Hang up").is_enabled()
        slow.get_by_role("button", name="Hang up").click()
        assert wait_state(slow, "ended", "error", timeout_s=10) == "ended"
        assert events(slow, "end") == [{"reason": "hangup"}]  # no session to speak of
        assert events(slow, "error") == [] and pending, "the request was made, then dropped"
        assert slow.get_by_role("button", name="Start a new call").is_visible()
        assert slow.errors == [], slow.errors

        old = new_page(browser)
        old.add_init_script(
            "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"
        )
        old.add_init_script(RECORDER)
        old.goto(integrator.url + "/")
        old.get_by_role("button", name="Start call").click()
        assert wait_state(old, "ended", "error", timeout_s=15) == "error"
        assert [e["code"] for e in events(old, "error")] == ["UNSUPPORTED_BROWSER"]
        assert "cannot make calls" in old.get_by_role("alert").inner_text()
        screenshot(old, "widget-unsupported")
        assert old.errors == [], old.errors
