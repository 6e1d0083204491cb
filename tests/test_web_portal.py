"""The developer portal at ``/``, driven in Debian's Chromium against real servers.

Each test signs in with the API key of a fresh organisation and works through the screens as a
user would: sign-in, characters (create from an image file, face landmarks, voice samples, bad
images, face points placed by hand), sessions with a real call's transcript and recording, and
the organisation's credits and usage. What the page shows is checked, and so is what the API
then holds. Every wait is bounded; console errors other than the expected failed requests fail
the test.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import wave
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from characters.conversation.tools import PAGE_ACTIONS
from tests.browser import chromium, new_page, screenshot, sign_in
from tests.conftest import Server, data_uri, face_png, wait_for
from tests.face_assets import CARTOON_SIZE, cartoon_keypoints, cartoon_negative_rgb, png

pytestmark = [pytest.mark.slow]

WAIT_MS = 30_000
READY_MS = 60_000


def unexpected(page: Any, *statuses: int) -> list[str]:
    """Console errors, except Chromium's notes on requests that failed with ``statuses``."""
    return [e for e in page.errors if not any(f"status of {status} " in e for status in statuses)]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium whose fake microphone is silent (test calls are typed)."""
    silence = tmp_path_factory.mktemp("microphone") / "silence.wav"
    with wave.open(str(silence), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(bytes(2 * 48_000 * 2))
    with chromium(silence) as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a context of its own: its own session storage, so its own sign-in."""
    p = new_page(browser)
    yield p
    p.context.close()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "face.png").write_bytes(face_png((640, 480)))
    (tmp_path / "cartoon.png").write_bytes(png(cartoon_negative_rgb()))
    (tmp_path / "notes.txt").write_text("Not a picture.")
    (tmp_path / "big.png").write_bytes(os.urandom(6 * 1024 * 1024))
    gif = io.BytesIO()
    Image.open(io.BytesIO(face_png((320, 240)))).save(gif, "GIF")
    (tmp_path / "misnamed.png").write_bytes(gif.getvalue())  # a GIF under a PNG name
    return tmp_path


def api(server: Server, key: str) -> httpx.Client:
    return server.http(key)


def test_the_portal_gets_the_servers_own_limits(server_factory: Any) -> None:
    srv = server_factory(MAX_IMAGE_BYTES=str(3 * 1024 * 1024), CREDIT_UNIT_S="10")
    config = httpx.get(srv.base_url + "/portal/config.json", timeout=10).json()
    assert config == {
        "maxImageBytes": 3 * 1024 * 1024,
        "maxImagePixels": 40_000_000,
        "minImageSide": 64,
        "creditUnitSeconds": 10,
        "creditsPerUnit": 2,
        "pageActionTools": PAGE_ACTIONS,
    }


@pytest.mark.timeout(120)
def test_sign_in_wrong_key_and_sign_out(server: Server, api_key: str, page: Any) -> None:
    page.goto(server.base_url + "/")
    page.click("form.signin-form button[type=submit]")
    assert "Enter your API key." in page.inner_text("#key-error")
    page.fill("#api-key", "not-a-key")
    page.click("form.signin-form button[type=submit]")
    assert "This is not an API key" in page.inner_text("#key-error")
    assert page.get_attribute("#api-key", "aria-invalid") == "true"

    page.fill("#api-key", "key_" + "0" * 128)  # well formed, unknown to the server
    page.click("form.signin-form button[type=submit]")
    page.wait_for_selector("#key-error .alert-error:has-text('was not accepted')")
    text = page.inner_text("#key-error")
    assert "This API key was not accepted: Invalid API key." in text, text
    assert page.evaluate("sessionStorage.length") == 0
    screenshot(page, "portal-wrong-key")

    sign_in(page, server.base_url, api_key)
    assert page.evaluate("sessionStorage.getItem('characters.apiKey')") == api_key
    assert page.context.cookies() == []  # never a cookie
    page.reload()  # the tab keeps its key
    page.wait_for_selector("main h1:text-is('Characters')")
    page.wait_for_selector("text=No characters yet.")

    page.click("#sign-out")
    page.wait_for_selector("text=You are signed out.")
    assert page.is_visible("#api-key") and not page.is_visible("#topbar")
    assert page.evaluate("sessionStorage.length") == 0
    assert unexpected(page, 401) == []


@pytest.mark.timeout(180)
def test_create_a_character_from_an_image_file(
    server: Server, api_key: str, page: Any, files: Path
) -> None:
    sign_in(page, server.base_url, api_key)
    page.click("main a:has-text('New character')")
    page.wait_for_selector("#name")

    # A voice sample plays (a WAV fetched with the key, played from a blob: URL).
    page.select_option("select[name=voice]", "vincent")
    page.click("button:has-text('Play sample')")
    page.wait_for_function(
        "() => { const a = document.querySelector('audio.voice-audio');"
        " return a && a.duration > 0 && a.currentTime > 0; }",
        timeout=WAIT_MS,
    )
    assert page.evaluate("document.querySelector('audio.voice-audio').src").startswith("blob:")

    page.fill("#name", "Ada")
    page.set_input_files("#image", str(files / "face.png"))
    page.wait_for_selector(".image-preview img[alt='Preview of face.png']")
    assert "640 × 480 pixels" in page.inner_text(".image-preview")
    page.fill("#personality", "You are Ada, the guide of the Blue Lake Museum.")
    page.fill("#start-script", "Hello, I'm Ada.")

    # A knowledge document, created in the form and attached.
    page.click("summary:has-text('Add a document')")
    page.fill(".add-document input[id^=doc-name]", "Opening hours")
    page.fill(".add-document textarea", "The museum opens at 9 am.")
    page.click(".add-document button:has-text('Add document')")
    page.wait_for_selector(".checklist input:checked")
    assert "Opening hours" in page.inner_text(".checklist")

    page.click("button:has-text('Create character')")
    page.wait_for_selector("main h1:has-text('Ada')", timeout=WAIT_MS)
    page.wait_for_selector(".face-figure[data-source=detected] .face-overlay", timeout=READY_MS)
    assert page.inner_text(".status-slot") == "Ready"
    points = int(page.get_attribute(".face-overlay", "data-points") or 0)
    assert points >= 51  # 10 eye points, 4 of the mouth, the chin and a 36-point outline
    # Drawn on the image in the image's own pixels, zoomed on the face; then the whole image.
    view = [float(v) for v in (page.get_attribute(".face-overlay", "viewBox") or "").split()]
    x, y, w, h = view
    assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480 and w < 400, view
    assert page.get_attribute(".face-overlay image", "width") == "640"
    assert page.get_attribute(".face-overlay image", "height") == "480"
    page.click("button:has-text('Show the whole image')")
    page.wait_for_selector(".face-overlay[viewBox='0 0 640 480']")
    page.click("button:has-text('Zoom to the face')")
    page.wait_for_selector(".face-overlay:not([viewBox='0 0 640 480'])")
    assert "Opening hours" in page.inner_text(".details")
    screenshot(page, "portal-character")

    with api(server, api_key) as http:
        (avatar,) = http.get("/v1/avatars").json()["data"]
        assert avatar["status"] == "READY" and avatar["name"] == "Ada"
        assert avatar["voice"]["presetId"] == "vincent"
        assert avatar["startScript"] == "Hello, I'm Ada."
        (doc,) = http.get("/v1/documents").json()["data"]
        assert avatar["documentIds"] == [doc["id"]]

    page.click("a[data-nav=characters]")
    page.wait_for_selector(".character-card[data-status=READY]:has-text('Ada')")
    assert unexpected(page) == []


@pytest.mark.timeout(120)
def test_edit_and_delete_a_character(server: Server, api_key: str, page: Any, files: Path) -> None:
    with api(server, api_key) as http:
        created = http.post(
            "/v1/avatars",
            json={
                "name": "Bo",
                "personality": "A guide.",
                "referenceImage": data_uri((files / "face.png").read_bytes()),
                "voice": {"type": "runway-live-preset", "presetId": "clara"},
            },
        ).json()
    sign_in(page, server.base_url, api_key)
    page.click(f".character-card[data-id='{created['id']}'] a")
    page.wait_for_selector("main h1:has-text('Bo')")
    page.click("main a:has-text('Edit')")
    page.wait_for_selector("#name")
    assert page.input_value("#name") == "Bo"
    page.fill("#name", "Bob")
    page.fill("#personality", "")
    page.click("button:has-text('Save changes')")
    assert "Describe the character's personality." in page.inner_text("#personality-message")
    page.fill("#personality", "A cheerful guide.")
    page.click("button:has-text('Save changes')")
    page.wait_for_selector("main h1:has-text('Bob')")
    assert "A cheerful guide." in page.inner_text(".details")

    page.click("main button:has-text('Delete')")
    page.wait_for_selector("dialog[open]")
    page.click("dialog button:has-text('Delete')")
    page.wait_for_selector("text=No characters yet.")
    with api(server, api_key) as http:
        assert http.get(f"/v1/avatars/{created['id']}").status_code == 404
    assert unexpected(page) == []


SHOW_MAP = {
    "type": "client_event",
    "name": "show_map",
    "description": "Shows the museum map.",
    "parameters": [
        {"type": "string", "name": "room", "description": "The room to show", "required": True}
    ],
}
RPC_URL = "https://backend.example.com/characters/rpc"


def refused_form(page: Any, field: str, button: str) -> str:
    """Press ``button``; the message under ``field`` (an id), which is marked invalid."""
    page.click(f"button:has-text('{button}')")
    page.wait_for_selector(f"#{field}-message .alert-error", timeout=WAIT_MS)
    assert page.get_attribute(f"#{field}", "aria-invalid") == "true"
    return page.inner_text(f"#{field}-message")


@pytest.mark.timeout(180)
def test_a_characters_own_actions_and_backend_url_in_the_form(
    server: Server, api_key: str, page: Any, files: Path
) -> None:
    sign_in(page, server.base_url, api_key)
    page.goto(server.base_url + "/#/characters/new")
    page.wait_for_selector("#avatar-tools")
    assert page.input_value("#avatar-tools") == "" and page.input_value("#backend-rpc-url") == ""
    page.fill("#name", "Cy")
    page.set_input_files("#image", str(files / "face.png"))
    page.wait_for_selector(".image-preview img[alt='Preview of face.png']")
    page.fill("#personality", "A museum guide.")

    # Checked in the page: nothing is sent.
    sent: list[tuple[str, Any]] = []

    def record(request: Any) -> None:
        if "/v1/avatars" in request.url and request.method in ("POST", "PATCH"):
            sent.append((request.method, request.post_data_json))

    page.on("request", record)
    page.fill("#avatar-tools", '[{"type": "client_event", "name": "show_map",')
    text = refused_form(page, "avatar-tools", "Create character")
    assert "The actions are not valid JSON" in text, text
    page.fill("#avatar-tools", json.dumps(SHOW_MAP))
    text = refused_form(page, "avatar-tools", "Create character")
    assert "The actions must be a JSON array of tools" in text and "POST /v1/avatars" in text, text
    assert "The character was not saved." in page.inner_text(".form-message")
    assert sent == []

    # Refused by the server: two tools of one name, then a plain http:// backend.
    page.fill("#avatar-tools", json.dumps([SHOW_MAP, SHOW_MAP]))
    text = refused_form(page, "avatar-tools", "Create character")
    assert "The server refused these actions: " in text, text
    assert "unique" in text and "show_map" in text, text
    assert "The character was not created." in page.inner_text(".form-message")
    screenshot(page, "portal-character-actions-refused")
    page.fill("#avatar-tools", f"[\n  {json.dumps(SHOW_MAP)}\n]")
    page.fill("#backend-rpc-url", "http://backend.example.com/rpc")
    text = refused_form(page, "backend-rpc-url", "Create character")
    assert "The server refused this URL: " in text and "https://" in text, text
    assert page.query_selector("#avatar-tools-message .alert") is None
    with api(server, api_key) as http:
        assert http.get("/v1/avatars").json()["data"] == []

    page.fill("#backend-rpc-url", RPC_URL)
    screenshot(page, "portal-character-actions")
    page.click("button:has-text('Create character')")
    page.wait_for_selector("main h1:text-is('Cy')", timeout=WAIT_MS)
    page.wait_for_selector(".status-slot:has-text('Ready')", timeout=READY_MS)
    details = page.inner_text(".details")
    assert "show_map (client_event)" in details and RPC_URL in details, details
    with api(server, api_key) as http:
        (avatar,) = http.get("/v1/avatars").json()["data"]
    assert avatar["tools"] == [SHOW_MAP] and avatar["backendRpcUrl"] == RPC_URL, avatar

    # Edit: the form holds them; the page actions go in beside the tool; an emptied box
    # removes the tools, and the unchanged URL is not sent.
    page.click("main a:has-text('Edit')")
    page.wait_for_selector("#avatar-tools")
    assert json.loads(page.input_value("#avatar-tools")) == [SHOW_MAP]
    assert page.input_value("#backend-rpc-url") == RPC_URL
    page.click('button:has-text("Add Runway\'s page actions")')
    assert json.loads(page.input_value("#avatar-tools")) == [SHOW_MAP, *PAGE_ACTIONS]
    page.fill("#avatar-tools", "")
    sent.clear()
    page.click("button:has-text('Save changes')")
    page.wait_for_selector("main h1:text-is('Cy')", timeout=WAIT_MS)
    page.wait_for_selector(".details :text('Chosen per call')")
    ((method, body),) = sent
    assert method == "PATCH" and body["tools"] is None and "backendRpcUrl" not in body, body
    with api(server, api_key) as http:
        avatar = http.get(f"/v1/avatars/{avatar['id']}").json()
    assert "tools" not in avatar and avatar["backendRpcUrl"] == RPC_URL, avatar

    # Edit again: nothing changed sends neither; an emptied URL removes it.
    page.click("main a:has-text('Edit')")
    page.wait_for_selector("#avatar-tools")
    assert page.input_value("#avatar-tools") == ""
    page.fill("#backend-rpc-url", "")
    sent.clear()
    page.click("button:has-text('Save changes')")
    page.wait_for_selector("main h1:text-is('Cy')", timeout=WAIT_MS)
    page.wait_for_selector('.details :text("The organisation\'s backend RPC URL")')
    ((method, body),) = sent
    assert method == "PATCH" and body["backendRpcUrl"] is None and "tools" not in body, body
    with api(server, api_key) as http:
        avatar = http.get(f"/v1/avatars/{avatar['id']}").json()
    assert "tools" not in avatar and "backendRpcUrl" not in avatar, avatar
    assert unexpected(page, 400) == []


@pytest.mark.timeout(120)
def test_bad_images_have_clear_messages(
    server: Server, api_key: str, page: Any, files: Path
) -> None:
    sign_in(page, server.base_url, api_key)
    page.goto(server.base_url + "/#/characters/new")
    page.wait_for_selector("#name")
    message = "#image-message"

    page.set_input_files("#image", str(files / "notes.txt"))
    page.wait_for_selector(f"{message} .alert-error")
    assert "“notes.txt” is not an image (it is text/plain)." in page.inner_text(message)
    assert page.get_attribute("#image", "aria-invalid") == "true"

    page.set_input_files("#image", str(files / "big.png"))
    page.wait_for_selector(f"{message}:has-text('big.png')")
    assert "“big.png” is 6.0 MB; the server accepts images of at most 5 MB." in page.inner_text(
        message
    )

    # The browser reads this GIF (named .png) fine; the server refuses it, and says why.
    page.set_input_files("#image", str(files / "misnamed.png"))
    page.wait_for_selector(".image-preview img[alt='Preview of misnamed.png']")
    page.fill("#name", "Gif")
    page.fill("#personality", "A test.")
    page.click("button:has-text('Create character')")
    page.wait_for_selector(f"{message}:has-text('The server refused the image')", timeout=WAIT_MS)
    text = page.inner_text(message)
    assert "referenceImage format GIF is not supported; use JPEG, PNG or WebP." in text, text
    assert "The character was not created." in page.inner_text(".form-message")
    screenshot(page, "portal-bad-image")
    with api(server, api_key) as http:
        assert http.get("/v1/avatars").json()["data"] == []
    assert unexpected(page, 400) == []


def click_at(page: Any, x: float, y: float) -> None:
    """Click the placement image at (x, y) in pixels of the 640x720 cartoon."""
    box = page.locator(".face-stage.placing img").bounding_box()
    assert box is not None
    page.mouse.click(
        box["x"] + x * box["width"] / CARTOON_SIZE[0],
        box["y"] + y * box["height"] / CARTOON_SIZE[1],
    )


def place(page: Any, points: list[list[float]]) -> None:
    for x, y in points:
        before = int(page.get_attribute(".face-stage.placing", "data-placed") or 0)
        click_at(page, x, y)
        page.wait_for_selector(f".face-stage.placing[data-placed='{before + 1}']")


def guided_points(kp: dict[str, Any]) -> list[list[float]]:
    """The cartoon's keypoints in the order the portal asks for them."""
    eyes = [kp[eye][part] for eye in ("leftEye", "rightEye")
            for part in ("center", "left", "right", "top", "bottom")]  # fmt: skip
    return [*eyes, kp["mouthLeft"], kp["mouthRight"], kp["upperLip"], kp["lowerLip"], kp["chin"]]


@pytest.mark.timeout(180)
def test_a_face_detection_misses_gets_its_points_by_hand(
    server: Server, api_key: str, page: Any, files: Path
) -> None:
    sign_in(page, server.base_url, api_key)
    page.click("main a:has-text('New character')")
    page.wait_for_selector("#name")
    page.fill("#name", "Pip")
    page.set_input_files("#image", str(files / "cartoon.png"))
    page.wait_for_selector(".image-preview img")
    page.fill("#personality", "A cheerful cartoon guide.")
    page.click("button:has-text('Create character')")
    page.wait_for_selector(".panel.failed", timeout=READY_MS)
    assert "No face found in the reference image." in page.inner_text(".panel.failed")

    page.click("a:has-text('Place the face points by hand')")
    page.wait_for_selector(".face-stage.placing img")
    page.wait_for_function("() => document.querySelector('.face-stage.placing img').complete")
    assert "Step 1 of 15: Left eye — centre" in page.inner_text("#step-title")
    kp = cartoon_keypoints()
    steps = guided_points(kp)

    # The chin above the mouth: the server's 400 is shown beside the image, naming the point.
    place(page, steps[:-1] + [[320, 480]])
    assert page.is_disabled("button:has-text('Done')")
    place(page, kp["faceOutline"])
    assert "Face outline: point 21" in page.inner_text("#step-title")
    page.click("button:has-text('Done')")
    page.wait_for_selector(".placement-errors .alert-error", timeout=WAIT_MS)
    error = page.inner_text(".placement-errors")
    assert "Chin: faceKeypoints.chin must be below the mouth." in error, error
    assert page.locator("circle.lm-wrong").count() == 1
    screenshot(page, "portal-keypoints-error")

    # Undo back to the chin (its 20 outline points, then the chin), and place them again.
    for _ in range(len(kp["faceOutline"]) + 1):
        page.click("button:has-text('Undo')")
    assert "Step 15 of 15: Chin" in page.inner_text("#step-title")
    place(page, [kp["chin"], *kp["faceOutline"]])
    page.click("button:has-text('Done')")
    page.wait_for_selector(".face-figure[data-source=manual] .face-overlay", timeout=READY_MS)
    assert page.inner_text(".status-slot") == "Ready"
    assert page.get_attribute(".face-overlay", "data-points") == "35"

    with api(server, api_key) as http:
        (avatar,) = http.get("/v1/avatars").json()["data"]
        assert avatar["status"] == "READY"
        sent = avatar["faceKeypoints"]
    assert np.allclose(sent["chin"], kp["chin"], atol=3)
    assert np.allclose(sent["leftEye"]["top"], kp["leftEye"]["top"], atol=3)
    assert np.allclose(sent["faceOutline"], kp["faceOutline"], atol=3)
    screenshot(page, "portal-keypoints")
    assert unexpected(page, 400, 404) == []  # the wrong chin; the face of a failed avatar


@pytest.mark.timeout(120)
def test_organisation_credits_and_usage_chart(
    server: Server, api_key: str, page: Any, files: Path
) -> None:
    with api(server, api_key) as http:
        uri = data_uri((files / "face.png").read_bytes())
        avatar = http.post(
            "/v1/avatars",
            json={
                "name": "Ada",
                "personality": "A guide.",
                "referenceImage": uri,
                "voice": {"type": "runway-live-preset", "presetId": "clara"},
            },
        ).json()
        wait_for(lambda: http.get(f"/v1/avatars/{avatar['id']}").json()["status"] == "READY", 30)
        for _ in range(2):  # two sessions today (never joined: cancelled)
            session = http.post(
                "/v1/realtime_sessions",
                json={
                    "model": "gwm1_avatars",
                    "avatar": {"type": "custom", "avatarId": avatar["id"]},
                },
            ).json()
            http.delete(f"/v1/realtime_sessions/{session['id']}")
        balance = http.get("/v1/organization").json()["creditBalance"]

    sign_in(page, server.base_url, api_key)
    page.click("a[data-nav=organization]")
    page.wait_for_selector(".chart")
    page.wait_for_selector("#credits-title")  # the two panels load apart
    text = page.inner_text("main")
    assert f"{balance:,}" in text
    assert "Tier 2" in text and "2 of 200" in text
    assert page.get_attribute(".chart", "data-total") == "2"
    assert page.get_attribute(".chart", "data-bars") == "30"
    page.click("button[data-days='7']")
    page.wait_for_selector(".chart[data-bars='7']")
    assert page.get_attribute(".chart", "data-total") == "2"
    screenshot(page, "portal-organization")

    page.click("a[data-nav=sessions]")
    page.wait_for_selector(".sessions-table tbody tr")
    assert page.locator(".sessions-table tbody tr").count() == 2
    assert "Cancelled" in page.inner_text(".sessions-table")
    assert unexpected(page) == []


# A real call, then its transcript and recording in the portal


QUESTION = "How much does a ticket cost?"


async def short_call(live: Server, key: str, avatar: str) -> str:
    """Join a session with a real WebRTC client: hear the start script, type a question, hear
    the answer, hang up. The session's id."""
    from tests.calls import START, assistant_text, is_session, is_state, open_call

    call = await open_call(live, key, avatar)
    client = call.client
    await client.wait_event(is_state("speaking"), 30)
    opening = client.event_time(is_state("speaking")) or 0
    await client.wait_event(is_state("listening"), 40, after=opening)
    assert assistant_text(client, 0) == START
    asked = time.monotonic()
    client.send({"type": "user_message", "text": QUESTION})
    await client.wait_event(is_state("speaking"), 40, after=asked)
    answer = client.event_time(is_state("speaking"), after=asked) or asked
    await client.wait_event(is_state("listening"), 60, after=answer)
    assert assistant_text(client, 1)
    client.send({"type": "END_CALL"})
    await client.wait_event(is_session("COMPLETED", "FAILED", "CANCELLED"), 15)
    await client.close()
    return call.session_id


@pytest.mark.timeout(300)
def test_sessions_show_a_call_with_its_transcript_and_recording(
    live: Server, key: str, avatar: str, page: Any
) -> None:
    from tests.calls import START

    # Playwright's sync API keeps an event loop in this thread: the call runs in another one.
    with ThreadPoolExecutor(1) as pool:
        session_id = pool.submit(asyncio.run, short_call(live, key, avatar)).result(timeout=150)
    with live.http(key) as http:
        wait_for(
            lambda: http.get(f"/v1/avatar_conversations/{session_id}").json()["recordingUrl"],
            timeout=30,
            interval=0.5,
        )

    sign_in(page, live.base_url, key)
    page.click("a[data-nav=sessions]")
    row = f".sessions-table tr[data-id='{session_id}']"
    page.wait_for_selector(row)
    text = page.inner_text(row)
    assert "Ada" in text and "Completed" in text and "≈" in text, text
    page.click(f"{row} a")
    page.wait_for_selector("main h1:has-text('Session with Ada')")
    page.wait_for_selector(".transcript .turn.assistant")
    turns = page.locator(".transcript .turn")
    assert turns.count() == 3
    assert START in turns.nth(0).inner_text()
    assert "User" in turns.nth(1).inner_text() and QUESTION in turns.nth(1).inner_text()
    assert "Ada" in turns.nth(2).inner_text()
    page.wait_for_function(
        "() => { const v = document.querySelector('video.recording');"
        " return v && v.readyState >= 1 && v.duration > 1; }",
        timeout=WAIT_MS,
    )
    # It plays from the answer's time: the browser can seek into the whole recording.
    page.evaluate("document.querySelector('video.recording').muted = true")
    answer = page.locator(".transcript .turn.assistant button.time").last
    minutes, seconds = answer.inner_text().split(":")
    at = 60 * int(minutes) + int(seconds)
    assert at >= 3, at  # the question came after the starting line
    answer.click()
    page.wait_for_function(
        f"() => document.querySelector('video.recording').currentTime > {at - 0.5}",
        timeout=WAIT_MS,
    )
    screenshot(page, "portal-session")
    assert unexpected(page) == []


@pytest.mark.timeout(300)
def test_a_test_call_in_the_page_through_the_widget(
    live: Server, key: str, avatar: str, page: Any
) -> None:
    from tests.calls import START

    sign_in(page, live.base_url, key)
    page.goto(f"{live.base_url}/#/characters/{avatar}")
    page.wait_for_selector("main h1:text-is('Ada')")
    page.click("button:has-text('Start test call')")
    page.wait_for_selector("characters-call[state=active]", timeout=45_000)
    assert page.inner_text(".call-status") == "In call: speak to the character."
    opening = ".transcript.live [data-key='assistant-0'] p"
    page.wait_for_function(
        f'() => document.querySelector("{opening}")?.textContent === {START!r}',
        timeout=WAIT_MS,
    )

    box = page.get_by_label("Message to the character")  # the widget's own text box
    box.fill(QUESTION)
    box.press("Enter")
    page.wait_for_selector(f".transcript.live [data-key='user-1']:has-text('{QUESTION}')")
    page.wait_for_selector(
        ".transcript.live [data-key='assistant-1'] p:not(:empty)", timeout=60_000
    )
    screenshot(page, "portal-test-call")
    page.get_by_role("button", name="Hang up").click()
    page.wait_for_selector("characters-call[state=ended]", timeout=15_000)
    assert "The call ended: you hung up." in page.inner_text(".call-ended")

    # The call's page: its transcript, and its recording once written.
    page.click("a:has-text('See its transcript and recording')")
    page.wait_for_selector("main h1:has-text('Session with Ada')")
    page.wait_for_selector("video.recording", timeout=WAIT_MS)
    assert QUESTION in page.inner_text(".transcript")
    assert unexpected(page) == []


ACTIONS_BOX = "Actions for this call"


def session_ids(http: httpx.Client, avatar: str) -> set[str]:
    page = http.get("/v1/avatar_conversations", params={"avatar": avatar, "limit": 100}).json()
    return {c["id"] for c in page["data"]}


def refused_actions(page: Any, text: str) -> str:
    """Type ``text`` as the call's actions, press start; the message under the box."""
    page.get_by_label(ACTIONS_BOX).fill(text)
    page.click("button:has-text('Start test call')")
    page.wait_for_selector(".call-actions .alert-error")
    assert page.get_attribute(".call-actions textarea", "aria-invalid") == "true"
    return page.inner_text(".call-actions .alert-error")


@pytest.mark.timeout(120)
def test_a_test_calls_actions_are_checked_before_the_call(
    live: Server, key: str, avatar: str, page: Any
) -> None:
    with live.http(key) as http:
        before = session_ids(http, avatar)
    sign_in(page, live.base_url, key)
    page.goto(f"{live.base_url}/#/characters/{avatar}")
    page.wait_for_selector("main h1:text-is('Ada')")
    assert page.input_value(".call-actions textarea") == ""  # no actions unless asked for

    text = refused_actions(page, '[{"type": "client_event", "name": "show_map",')
    assert "The actions are not valid JSON" in text, text
    text = refused_actions(page, '{"type": "client_event", "name": "show_map"}')
    assert "The actions must be a JSON array of tools" in text, text
    assert page.inner_text(".call-status") == "The test call could not start: check its actions."
    with live.http(key) as http:
        assert session_ids(http, avatar) == before  # checked in the page: nothing created

    # The server's own check: two tools of one name.
    twice = [{"type": "client_event", "name": "show_map", "description": "Shows the map."}] * 2
    text = refused_actions(page, json.dumps(twice))
    assert "The server refused them: " in text and "unique" in text and "show_map" in text, text
    screenshot(page, "portal-test-call-actions-refused")
    assert page.inner_text(".call-status") == "The test call could not start."
    assert page.is_visible("button:has-text('Start test call')")
    with live.http(key) as http:
        assert session_ids(http, avatar) == before
    assert unexpected(page, 400) == []


@pytest.mark.timeout(300)
def test_a_test_call_with_runways_page_actions(
    live: Server, key: str, avatar: str, page: Any
) -> None:
    with live.http(key) as http:
        before = session_ids(http, avatar)
    sign_in(page, live.base_url, key)
    page.goto(f"{live.base_url}/#/characters/{avatar}")
    page.wait_for_selector("main h1:text-is('Ada')")
    page.click('button:has-text("Add Runway\'s page actions")')
    assert json.loads(page.input_value(".call-actions textarea")) == PAGE_ACTIONS
    screenshot(page, "portal-test-call-actions")
    page.click("button:has-text('Start test call')")
    page.wait_for_selector("characters-call[state=active]", timeout=45_000)
    assert page.evaluate("document.querySelector('.call-actions textarea').readOnly")

    with live.http(key) as http:
        (session_id,) = session_ids(http, avatar) - before
        conversation = http.get(f"/v1/avatar_conversations/{session_id}").json()
    assert conversation["hasTools"] is True
    assert conversation["tools"] == [
        {"type": t["type"], "name": t["name"], "description": t["description"]}
        for t in PAGE_ACTIONS
    ]

    # The panel's line for the widget's `toolcall` and `toolresult` events (that the widget
    # emits them for the server's tool_call and tool_result is tests/test_actions.py's part;
    # whether the small model calls an action here is up to it, so the events are dispatched).
    page.evaluate(
        """() => {
        const widget = document.querySelector("characters-call");
        const call = {turn: 1, id: "call_test", tool: "highlight", kind: "client_event",
                      args: {target: "hours"}};
        widget.dispatchEvent(new CustomEvent("toolcall", {detail: call}));
        widget.dispatchEvent(new CustomEvent("toolresult", {detail: {turn: 1, id: "call_test",
          name: "lookup", error: "the backend did not answer"}}));
        }"""
    )
    line = page.inner_text(".transcript.live [data-key='action-call_test']")
    assert 'Action: highlight {"target":"hours"} failed: the backend did not answer' in " ".join(
        line.split()
    ), line
    screenshot(page, "portal-test-call-action-line")
    page.get_by_role("button", name="Hang up").click()
    page.wait_for_selector("characters-call[state=ended]", timeout=15_000)
    assert not page.evaluate("document.querySelector('.call-actions textarea').readOnly")
    assert unexpected(page) == []
