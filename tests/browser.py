"""Debian's Chromium driven by Playwright, for the tests of the portal and the call widget.

Chromium comes from ``apt-get install chromium`` (scripts/test.sh installs it) and is never
downloaded by ``playwright install``. Its fake microphone plays a WAV file in a loop; its fake
camera is unused. Screenshots go to ``test-artifacts/`` (``CHARACTERS_TEST_ARTIFACTS``), which
CI keeps.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHARACTERS_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CHARACTERS_TEST_ARTIFACTS", "test-artifacts"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str:
    """The Chromium binary, or skip (outside CI) / fail (CI) when it is not installed."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if path is None:
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") in ("true", "1"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def chromium(microphone: Path | None = None, *, deny_microphone: bool = False) -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``).

    ``microphone``: a WAV the fake microphone plays (looped). ``deny_microphone``: the page's
    ``getUserMedia`` is refused, as when a user clicks "Block".
    """
    from playwright.sync_api import sync_playwright

    args = list(CHROMIUM_ARGS)
    if not deny_microphone:
        args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        if microphone is not None:
            args.append(f"--use-file-for-fake-audio-capture={microphone}")
    else:
        args += ["--use-fake-device-for-media-stream", "--deny-permission-prompts"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(), headless=True, args=args, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, *, timeout_ms: int = 30_000) -> Any:
    """A page whose console errors and uncaught exceptions are kept in ``page.errors``."""
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on(
        "console",
        lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
    )
    page.errors = errors
    return page


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot as a test artifact; its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base_url: str, key: str) -> None:
    """Sign in to the developer portal at ``base_url`` with an API key."""
    page.goto(base_url + "/")
    page.fill("#api-key", key)
    page.click("form.signin-form button[type=submit]")
    page.wait_for_selector("main h1:text-is('Characters')", timeout=30_000)


def open_session_in_portal(page: Any, session_id: str) -> tuple[str, float]:
    """From the signed-in portal's Sessions list, open one session; the transcript's text and
    the recording's duration as the browser sees it, once the recording has loaded."""
    page.click("a[data-nav=sessions]")
    row = f".sessions-table tr[data-id='{session_id}']"
    page.wait_for_selector(row, timeout=30_000)
    page.click(f"{row} a")
    page.wait_for_selector(".transcript .turn.assistant", timeout=30_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('video.recording');"
        " return v && v.readyState >= 1 && v.duration > 1; }",
        timeout=30_000,
    )
    duration = float(page.evaluate("document.querySelector('video.recording').duration"))
    return str(page.inner_text(".transcript")), duration


BRIGHTNESS = """(video) => {
  if (!video || !video.videoWidth || video.paused) return -1;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const g = canvas.getContext('2d');
  g.drawImage(video, 0, 0);
  const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += (d[i] + d[i + 1] + d[i + 2]) / 3;
  return sum / (d.length / 4);
}"""


def brightness(page: Any, video: str) -> float:
    """The mean brightness (0-255) of a video element's current frame, drawn on a canvas; -1
    while it has no frame or is paused. ``video``: a JavaScript expression for the element."""
    handle = page.evaluate_handle(video)
    value: float = page.evaluate(BRIGHTNESS, handle)
    return value
