"""End-to-end: ``POST /v1/avatar_videos`` and ``/v1/tasks/{id}`` with the official SDK.

A real server renders Grace Hopper speaking (Piper for text; espeak-ng WAVs as data URI,
upload and URL), the SDK polls the task to SUCCEEDED and the MP4 is downloaded and checked.
Also: the exact wire shape of each task status, credits, errors, cancel and delete, and a
server restart in the middle of a render.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import threading
import time
import uuid
import wave
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import pytest
import runwayml

from characters.voices.tts import engine_for, engine_voice
from tests.conftest import Server, data_uri, ready_avatar, wait_for
from tests.face_assets import espeak_available, hopper_bytes, speak
from tests.test_render import check_av, read_mp4

pytestmark = [pytest.mark.store, pytest.mark.slow]

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TASK_KEYS = {  # the SDK's TaskRetrieveResponse variants
    "PENDING": {"id", "createdAt", "status", "estimatedCost"},
    "THROTTLED": {"id", "createdAt", "status", "estimatedCost"},
    "RUNNING": {"id", "createdAt", "status", "estimatedCost", "progress"},
    "SUCCEEDED": {"id", "createdAt", "status", "cost", "output"},
    "FAILED": {"id", "createdAt", "status", "cost", "failure", "failureCode"},
    "CANCELLED": {"id", "createdAt", "status", "cost"},
}
DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}
LONG_TEXT = " ".join(
    ["This sentence is here to make the video long enough to cancel it while it renders."] * 4
)


def wav_bytes(pcm: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    if not espeak_available():
        pytest.skip("needs espeak-ng (apt-get install espeak-ng)")
    pcm, rate, _ = speak("Good morning. Let us begin.")
    return pcm, rate


@pytest.fixture(scope="module")
def org(server: Server) -> tuple[Any, Any]:
    """One organisation with a READY photo avatar, shared by the tests that do not count
    credits."""
    client = server.sdk(server.create_key("videos", "--tier", "2"), max_retries=0)
    avatar = ready_avatar(client, data_uri(hopper_bytes(), "image/jpeg"), name="Grace")
    assert avatar.status == "READY", getattr(avatar, "failure_reason", None)
    return client, avatar


def create(client: Any, avatar_id: str, speech: dict[str, Any]) -> str:
    created = client.avatar_videos.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatar_id": avatar_id}, speech=speech
    )
    assert UUID4.match(created.id)
    return str(created.id)


def raw_task(client: Any, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.tasks.with_raw_response.retrieve(task_id).json()
    assert set(body) == TASK_KEYS[body["status"]], body
    assert body["id"] == task_id and ISO_Z.match(body["createdAt"])
    return body


def poll(
    client: Any, task_id: str, until: set[str] = DONE, timeout: float = 180
) -> list[dict[str, Any]]:
    """Every distinct state until one in ``until`` (raw bodies, shapes checked)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        body = raw_task(client, task_id)
        if not seen or body != seen[-1]:
            seen.append(body)
        if body["status"] in until:
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f"task still {body['status']} after {timeout} s")
        time.sleep(0.1)


def usage_models(client: Any) -> list[str]:
    today = datetime.now(UTC).date()
    usage = client.organization.retrieve_usage(
        start_date=today, before_date=today + timedelta(days=1)
    )
    return list(usage.models)


def download(url: str) -> bytes:
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    return r.content


def test_text_video_with_the_sdk(server: Server) -> None:
    client = server.sdk(server.create_key("text", "--tier", "2", "--credits", "100"), max_retries=0)
    avatar = ready_avatar(client, data_uri(hopper_bytes(), "image/jpeg"))
    task_id = create(
        client,
        avatar.id,
        {
            "type": "text",
            "text": "Hello there. Nice to meet you!",
            "voice": {"type": "preset", "preset_id": "clara"},
        },
    )
    seen = poll(client, task_id)
    assert seen[-1]["status"] == "SUCCEEDED", seen[-1]
    running = [b["progress"] for b in seen if b["status"] == "RUNNING"]
    assert running and running == sorted(running) and all(0 <= p <= 1 for p in running)
    assert {b["estimatedCost"]["credits"] for b in seen if "estimatedCost" in b} == {2}

    task = client.tasks.retrieve(task_id)  # the SDK's own model of the finished task
    assert task.status == "SUCCEEDED" and task.cost.credits == 2 and len(task.output) == 1
    mp4 = read_mp4(download(task.output[0]))
    voice = engine_voice("clara")  # the avatar's voice speaks at its engine's own rate
    assert (mp4.vcodec, mp4.acodec, float(mp4.fps), mp4.sample_rate) == (
        "h264",
        "aac",
        25.0,
        engine_for(voice).sample_rate(voice),
    )
    assert mp4.audio_stream_s == pytest.approx(mp4.video_s, abs=1e-3)
    assert 2.0 < mp4.video_s < 4.5
    assert np.abs(mp4.audio).max() > 0.1  # it speaks

    # Charged once, per started 6 s of speech, to the text model.
    org = client.organization.retrieve()
    assert org.credit_balance == 98
    assert "gwm1_avatar_async_text_to_video" in usage_models(client)
    # The avatar's own voice when the request names none.
    task_id = create(client, avatar.id, {"type": "text", "text": "Goodbye."})
    assert poll(client, task_id)[-1]["status"] == "SUCCEEDED"


def test_audio_video_from_data_uri_upload_and_url(
    server_factory: Callable[..., Server], speech: tuple[np.ndarray, int]
) -> None:
    pcm, rate = speech
    wav = wav_bytes(pcm, rate)
    srv = server_factory(ALLOW_PRIVATE_URLS="true", ALLOW_HTTP_URLS="true")
    client = srv.sdk(srv.create_key("audio", "--tier", "2"), max_retries=0)
    avatar = ready_avatar(client, data_uri(hopper_bytes(), "image/jpeg"))
    upload = client.uploads.create_ephemeral(file=("speech.wav", wav, "audio/wav"))
    with wav_host(wav) as url:
        sources = [data_uri(wav, "audio/wav"), upload.uri, url]
        task_ids = [create(client, avatar.id, {"type": "audio", "audio": s}) for s in sources]
        # Queued one at a time: the later ones wait as PENDING.
        assert raw_task(client, task_ids[-1])["status"] in ("PENDING", "RUNNING", "SUCCEEDED")
        finals = [poll(client, t)[-1] for t in task_ids]
    for body in finals:
        assert body["status"] == "SUCCEEDED", body
        assert body["cost"] == {"credits": 2}
        mp4 = read_mp4(download(body["output"][0]))
        check_av(mp4, len(pcm) / rate)
        assert mp4.sample_rate == rate
    assert "gwm1_avatar_async_audio_to_video" in usage_models(client)


class _WavHandler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


class wav_host:  # noqa: N801 (a context manager used like a function)
    def __init__(self, body: bytes) -> None:
        handler = type("Handler", (_WavHandler,), {"body": body})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/speech.wav"

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def expect_400(call: Callable[[], Any], *fragments: str) -> str:
    with pytest.raises(runwayml.BadRequestError) as err:
        call()
    body: Any = err.value.body
    message = body["error"]
    for fragment in fragments:
        assert fragment in message, message
    return str(message)


def test_request_errors(org: tuple[Any, Any], speech: tuple[np.ndarray, int]) -> None:
    client, avatar = org
    text = {"type": "text", "text": "Hi."}
    expect_400(lambda: create(client, str(uuid.uuid4()), text), "not found")
    expect_400(
        lambda: client.avatar_videos.create(
            model="gwm1_avatars",
            avatar={"type": "runway-preset", "preset_id": "influencer"},
            speech=text,
        ),
        "not installed",
    )
    bad = (
        "data:audio/wav;base64," + base64.b64encode(b"RIFF\x00\x00\x00\x00WAVEnot really").decode()
    )
    expect_400(
        lambda: create(client, avatar.id, {"type": "audio", "audio": bad}),
        "speech.audio",
        "decoded",
    )
    noise = "data:audio/mpeg;base64," + base64.b64encode(b"just some bytes, no audio").decode()
    expect_400(
        lambda: create(client, avatar.id, {"type": "audio", "audio": noise}), "supported format"
    )
    expect_400(
        lambda: create(
            client, avatar.id, {"type": "audio", "audio": data_uri(b"x" * 20, "image/png")}
        ),
        "audio data URI",
    )
    expect_400(
        lambda: create(client, avatar.id, {"type": "audio", "audio": "http://example.com/a.wav"}),
        "https://",
    )
    expect_400(
        lambda: create(client, avatar.id, {"type": "audio", "audio": "https://127.0.0.1/a.wav"}),
        "private, loopback",
    )
    expect_400(
        lambda: create(
            client, avatar.id, {"type": "audio", "audio": "runway://uploads/" + str(uuid.uuid4())}
        ),
        "not found",
    )
    custom = {"type": "text", "text": "Hi.", "voice": {"type": "custom", "id": str(uuid.uuid4())}}
    expect_400(lambda: create(client, avatar.id, custom), "no custom voices")
    expect_400(lambda: create(client, avatar.id, {"type": "text", "text": "   "}), "empty")
    # Schema errors come with zod-style issues.
    with pytest.raises(runwayml.BadRequestError) as err:
        create(client, avatar.id, {"type": "text", "text": "x" * 5001})
    body: Any = err.value.body
    assert body["issues"][0]["path"] == ["speech", "text"]
    # Unknown tasks.
    missing = str(uuid.uuid4())
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.retrieve(missing)
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.delete(missing)


def test_tasks_of_other_organisations_are_invisible(server: Server, org: tuple[Any, Any]) -> None:
    client, avatar = org
    task_id = create(client, avatar.id, {"type": "text", "text": "Only mine."})
    other = server.sdk(server.create_key("other"), max_retries=0)
    with pytest.raises(runwayml.NotFoundError):
        other.tasks.retrieve(task_id)
    with pytest.raises(runwayml.NotFoundError):
        other.tasks.delete(task_id)
    expect_400(lambda: create(other, avatar.id, {"type": "text", "text": "Hi."}), "not found")
    assert poll(client, task_id)[-1]["status"] == "SUCCEEDED"


def test_cancel_and_delete(server: Server) -> None:
    client = server.sdk(
        server.create_key("cancel", "--tier", "2", "--credits", "1000"), max_retries=0
    )
    avatar = ready_avatar(client, data_uri(hopper_bytes(), "image/jpeg"))
    long_id = create(client, avatar.id, {"type": "text", "text": LONG_TEXT})
    queued_id = create(client, avatar.id, {"type": "text", "text": "I wait in the queue."})
    done_id = create(client, avatar.id, {"type": "text", "text": "I finish."})
    assert raw_task(client, queued_id)["status"] == "PENDING"
    seen = poll(client, long_id, until={"RUNNING"})
    assert seen[-1]["estimatedCost"]["credits"] >= 4
    wait_for(lambda: raw_task(client, long_id).get("progress", 0) > 0.15, timeout=60)

    client.tasks.delete(queued_id)  # PENDING → CANCELLED, never runs
    client.tasks.delete(long_id)  # RUNNING → CANCELLED, stops rendering
    for task_id in (queued_id, long_id):
        assert raw_task(client, task_id) == {
            "id": task_id,
            "createdAt": raw_task(client, task_id)["createdAt"],
            "status": "CANCELLED",
            "cost": {"credits": 0},
        }
    done = poll(client, done_id)[-1]
    assert done["status"] == "SUCCEEDED"
    assert client.organization.retrieve().credit_balance == 998  # only the finished one paid

    # DELETE on a finished task deletes it, output included.
    client.tasks.delete(done_id)
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.retrieve(done_id)
    assert httpx.get(done["output"][0], timeout=10).status_code == 404
    client.tasks.delete(long_id)  # a cancelled task is deleted the same way
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.retrieve(long_id)
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.delete(long_id)


def test_credits_are_checked_before_the_task_exists(server: Server) -> None:
    client = server.sdk(server.create_key("poor", "--credits", "3"), max_retries=0)
    avatar = ready_avatar(client, data_uri(hopper_bytes(), "image/jpeg"))
    expect_400(
        lambda: create(client, avatar.id, {"type": "text", "text": LONG_TEXT}), "Not enough credits"
    )
    task_id = create(client, avatar.id, {"type": "text", "text": "Short."})
    assert poll(client, task_id)[-1]["cost"] == {"credits": 2}
    assert client.organization.retrieve().credit_balance == 1


def _restart(srv: Server) -> subprocess.Popen[bytes]:
    """Stop the server (SIGTERM: a graceful shutdown) and start it again on the same data."""
    srv.process.terminate()
    srv.process.wait(timeout=60)
    proc = subprocess.Popen(
        [sys.executable, "-m", "characters", "serve"],
        env=srv.env,
        stdout=open(srv.log_path, "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    srv.process = proc
    wait_for(lambda: _answers(srv.base_url), timeout=60, interval=0.1)
    return proc


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/v1/organization", timeout=1).status_code == 401
    except httpx.HTTPError:
        return False


def test_shutdown_requeues_the_running_task_and_start_resumes_it(
    server_factory: Callable[..., Server],
) -> None:
    srv = server_factory()
    client = srv.sdk(srv.create_key("restart", "--tier", "2"), max_retries=0)
    avatar = ready_avatar(client, data_uri(hopper_bytes(), "image/jpeg"))
    running = create(client, avatar.id, {"type": "text", "text": LONG_TEXT})
    pending = create(client, avatar.id, {"type": "text", "text": "After the restart."})
    poll(client, running, until={"RUNNING"})
    wait_for(lambda: raw_task(client, running).get("progress", 0) > 0.15, timeout=60)
    start = time.monotonic()
    _restart(srv)
    assert time.monotonic() - start < 20  # the render was interrupted, not waited for
    assert raw_task(client, running)["status"] in ("PENDING", "RUNNING")  # and starts again
    for task_id in (running, pending):
        assert poll(client, task_id)[-1]["status"] == "SUCCEEDED"
    assert "Traceback" not in srv.log()
