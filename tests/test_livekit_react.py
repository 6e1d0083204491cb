"""Runway's React SDK (``@runwayml/avatars-react`` 0.16.0, unchanged) against the server in
LiveKit mode, in a real Chromium.

``tests/react/app.jsx`` is a page an integrator would write: ``AvatarCall`` with ``AvatarVideo``,
``ControlBar``, captions from ``useTranscript`` and the session state. The fixture bundles it
with esbuild into a tmp folder and serves it from its own origin; its ``connectUrl`` is the
example integrator's ``/connect`` on another origin (``CORS_ORIGINS``), which creates, polls
and consumes the session with the official Python SDK and returns shape A. A real
livekit-server on loopback carries the call. Chromium's fake microphone asks the question;
the video's pixels, the captions, the end-call button and the API's status are checked.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest

from tests.browser import brightness, chromium, new_page, screenshot
from tests.calls import heard_words, spoken
from tests.conftest import ROOT, Server, wait_for
from tests.integrator import Integrator, start_integrator, stop_integrator
from tests.livekit import LiveKit, start_live_server, start_livekit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

REACT = ROOT / "tests" / "react"
SDK_VERSION = "0.16.0"
QUESTION = "How much does a ticket cost?"


def _missing(message: str) -> None:
    if os.environ.get("CI") in ("true", "1"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test page and its esbuild bundle (the SDK, React, styles.css), in a tmp folder."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        _missing("node and npm are needed to bundle Runway's React SDK")
    assert npm is not None
    installed = REACT / "node_modules" / "@runwayml" / "avatars-react" / "package.json"
    if not installed.exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=REACT,
            check=True,
            capture_output=True,
            timeout=300,
        )
    assert f'"version": "{SDK_VERSION}"' in installed.read_text()
    out = tmp_path_factory.mktemp("react-page")
    done = subprocess.run(
        [
            str(REACT / "node_modules" / ".bin" / "esbuild"),
            "app.jsx",
            "--bundle",
            "--format=esm",
            "--jsx=automatic",
            '--define:process.env.NODE_ENV="production"',
            f"--outdir={out}",
            "--log-level=warning",
        ],
        cwd=REACT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    shutil.copy(REACT / "index.html", out / "index.html")
    assert (out / "app.js").exists() and (out / "app.css").exists()
    return out


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin(bundle: Path) -> Iterator[str]:
    """The page's own origin: a static HTTP server on loopback."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=bundle))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKit]:
    yield from start_livekit(tmp_path_factory.mktemp("livekit"))


@pytest.fixture(scope="module")
def live(livekit: LiveKit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real server in LiveKit mode, its models loaded."""
    yield from start_live_server(livekit, tmp_path_factory.mktemp("lk-server"))


@pytest.fixture(scope="module")
def integrator(
    live: Server,
    key: str,
    avatar: str,
    page_origin: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Integrator]:
    """The example integrator on another origin; the page's origin may call its /connect."""
    site = start_integrator(
        tmp_path_factory.mktemp("integrator"),
        {
            "CHARACTERS_URL": live.base_url,
            "CHARACTERS_API_KEY": key,
            "AVATAR_ID": avatar,
            "CORS_ORIGINS": page_origin,
        },
    )
    yield site
    stop_integrator(site)


@pytest.fixture(scope="module")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake microphone's WAV (looped): 8 s of silence (the start script), the question,
    16 s of silence for the answer."""
    from characters.pcm import resample

    pcm, rate = spoken(QUESTION)
    question = resample(pcm.astype(np.int16), rate, 48_000)
    silence = np.zeros(48_000 * 8, np.int16)
    samples = np.concatenate([silence, question, silence, silence])
    path = tmp_path_factory.mktemp("microphone") / "question.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


VIDEO = "[data-avatar-video] video"


def captions(page: Any) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = page.evaluate(
        """() => [...document.querySelectorAll('#captions li')].map((li) => ({
             id: li.dataset.id, identity: li.dataset.identity, final: li.dataset.final,
             text: li.querySelector('.text').textContent }))"""
    )
    return entries


def role_text(page: Any, role: str, turns: str = r"\d+") -> str:
    pattern = re.compile(rf"runway-transcription-{role}-({turns})$")
    return " ".join(c["text"] for c in captions(page) if pattern.match(c["id"]))


def says_twelve(text: str) -> bool:
    return bool(re.search(r"(?<!\d)12(?!\d)|\btwelve\b", text.lower()))


def test_runways_react_sdk_in_a_livekit_call(
    live: Server,
    key: str,
    avatar: str,
    integrator: Integrator,
    page_origin: str,
    microphone: Path,
) -> None:
    """Ready video of the character, the spoken question and the answer in the captions,
    the end-call button: COMPLETED in the API and the SDK's ended state in the page."""
    query = urlencode({"avatarId": avatar, "connectUrl": integrator.url + "/connect"})
    with chromium(microphone) as browser:
        page = new_page(browser)
        page.goto(f"{page_origin}/index.html?{query}")
        assert page.evaluate("location.origin") != integrator.url

        page.wait_for_selector('[data-avatar-status="ready"] video', timeout=45_000)
        session_id = page.get_attribute("#session-state", "data-session-id")
        assert session_id
        assert page.get_attribute("#session-state", "data-state") == "active"
        # The one remote participant, whose CAMERA track the SDK shows, is the character.
        assert page.get_attribute("#avatar", "data-identity") == "worker:character"

        # A playing, non-black picture of the character.
        deadline = time.monotonic() + 15
        while (
            level := brightness(page, f"document.querySelector('{VIDEO}')")
        ) < 30 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert level >= 30, level
        t0 = page.evaluate(f"document.querySelector('{VIDEO}').currentTime")
        time.sleep(1)
        assert page.evaluate(f"document.querySelector('{VIDEO}').currentTime") > t0 + 0.5

        # The question is heard and answered, in useTranscript's entries.
        page.wait_for_function(
            """() => [...document.querySelectorAll('#captions li')].some((li) =>
                 li.dataset.id.startsWith('runway-transcription-user-')
                 && /ticket/i.test(li.textContent))""",
            timeout=60_000,
        )
        asked = role_text(page, "user")
        assert heard_words(asked, QUESTION) >= 0.6, asked
        page.wait_for_function(
            r"""() => [...document.querySelectorAll('#captions li')].some((li) =>
                 /^runway-transcription-assistant-[1-9]/.test(li.dataset.id)
                 && /(^|\D)12(\D|$)|\btwelve\b/i.test(li.textContent))""",
            timeout=60_000,
        )
        # the answer's deltas stop coming (the character is done speaking)
        answer, quiet_since = "", time.monotonic()
        deadline = time.monotonic() + 30
        while time.monotonic() - quiet_since < 2 and time.monotonic() < deadline:
            now = role_text(page, "assistant", r"[1-9]\d*")
            if now != answer:
                answer, quiet_since = now, time.monotonic()
            time.sleep(0.25)
        assert says_twelve(answer), answer
        entries = captions(page)
        # every entry arrives as data from the character (the SDK names entries by sender)
        assert {c["identity"] for c in entries} == {"worker:character"}, entries
        screenshot(page, "react-sdk-call-active")

        # The SDK's end-call button: END_CALL, then the SDK disconnects.
        page.click('[data-avatar-control="end-call"]')
        deadline = time.monotonic() + 15
        while (state := page.get_attribute("#session-state", "data-state")) != "ended":
            if time.monotonic() > deadline:
                screenshot(page, "react-sdk-call-not-ended")
                raise AssertionError(f"the page is {state!r}: {page.inner_text('body')}")
            time.sleep(0.2)
        page.wait_for_function(
            "Number(document.querySelector('#ended').dataset.count) >= 1", timeout=10_000
        )
        assert page.locator('[data-avatar-control="end-call"]').count() == 0
        time.sleep(2)  # and it stays ended (the page must not make the SDK connect again)
        assert page.get_attribute("#session-state", "data-state") == "ended"
        sdk = live.sdk(key, max_retries=0)
        session = wait_for(
            lambda: (s := sdk.realtime_sessions.retrieve(session_id)).status != "RUNNING" and s,
            timeout=15,
        )
        assert session.status == "COMPLETED", session
        screenshot(page, "react-sdk-call-ended")
        assert page.locator("#errors li").count() == 0, page.inner_text("#errors")
        # livekit-client logs its own data channels closing while it leaves the room (a race
        # in its disconnect, whether or not the server has deleted the room yet): not an error
        # of the call. Anything else is.
        errors = [e for e in page.errors if "data channel" not in e or "closed" not in e]
        assert errors == [], page.errors

    conversation = wait_for(
        lambda: (c := sdk.avatar_conversations.retrieve(session_id)).status == "ended" and c,
        timeout=15,
    )
    said = [t.content for t in conversation.transcript if t.role == "user"]
    assert said and heard_words(said[0], QUESTION) >= 0.6, said
    assert any(says_twelve(t.content) for t in conversation.transcript if t.role == "assistant")
