"""``characters call``: a live call from the terminal, over WebRTC, as a browser would make it.

It creates a session for an avatar with an API key (or joins with the ``--url``/``--token``
that a consume returned), connects, listens to the start script, then plays each ``--audio``
recording as the microphone and sends each ``--text`` as a typed message, waiting for the
character's answer after each; it prints the conversation as it happens and writes what it
received: the character's video and voice (``-o call.mp4``) and every event (``--events``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_VERSION = "2024-11-06"


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


class _Session:
    """The session's side that needs the API key: create, poll, consume, read the result."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {key}", "X-Runway-Version": API_VERSION},
            timeout=30,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            _fail(
                f"cannot reach the server at {self.base_url} ({e}); is `characters serve` running?"
            )
        if response.status_code >= 400:
            try:
                detail = response.json().get("error", response.text)
            except ValueError:
                detail = response.text
            _fail(f"{method} {path}: {response.status_code} {detail}")
        return response.json() if response.content else None

    def create(self, avatar_id: str, max_duration: int | None) -> str:
        body: dict[str, Any] = {
            "model": "gwm1_avatars",
            "avatar": {"type": "custom", "avatarId": avatar_id},
        }
        if max_duration is not None:
            body["maxDuration"] = max_duration
        return str(self._call("POST", "/v1/realtime_sessions", json=body)["id"])

    def ready(self, session_id: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        told = False
        while time.monotonic() < deadline:
            session = self._call("GET", f"/v1/realtime_sessions/{session_id}")
            if session["status"] == "READY":
                return str(session["sessionKey"])
            if session["status"] != "NOT_READY":
                _fail(f"the session is {session['status']}: {session.get('failure', '')}".strip())
            if session.get("queued") and not told:
                click.echo("waiting for a free call slot (the server is busy)...", err=True)
                told = True
            time.sleep(0.3)
        _fail(f"the session was not READY within {timeout_s:g} s")

    def consume(self, session_id: str, key: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base_url}/v1/realtime_sessions/{session_id}/consume",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        if response.status_code != 200:
            _fail(f"consume: {response.status_code} {response.text}")
        return dict(response.json())

    def conversation(self, session_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/avatar_conversations/{session_id}"))


def call_command(
    *,
    avatar_id: str | None,
    audio: tuple[Path, ...],
    texts: tuple[str, ...],
    output: Path | None,
    events_path: Path | None,
    key: str | None,
    base_url: str,
    url: str | None,
    token: str | None,
    max_duration: int | None,
    answer_timeout_s: float,
    codec: str,
    hang_up: str,
) -> None:
    if (url is None) != (token is None):
        _fail("give --url and --token together (both from a consume)")
    if url is None and avatar_id is None:
        _fail("give an AVATAR_ID (with --key), or --url and --token from a consume")
    if url is not None and avatar_id is not None:
        _fail("give either an AVATAR_ID or --url/--token, not both")
    if output is not None and output.suffix.lower() != ".mp4":
        _fail(f"the output {output} must end in .mp4")
    for path in (output, events_path):
        if path is not None and not path.parent.is_dir():
            _fail(f"cannot write {path}: the folder {path.parent} does not exist")
    from characters.render.audio import UnreadableAudio, decode_audio

    recordings = []
    for path in audio:
        try:
            speech = decode_audio(path, max_seconds=60, what=str(path))
        except UnreadableAudio as e:
            _fail(e.message)
        recordings.append((path, speech))
    session: _Session | None = None
    session_id: str | None = None
    if url is None:
        key = key or os.environ.get("CHARACTERS_API_KEY") or os.environ.get("RUNWAYML_API_SECRET")
        if not key:
            _fail("an API key is needed to create the session: --key, or CHARACTERS_API_KEY")
        assert avatar_id is not None
        session = _Session(base_url, key)
        session_id = session.create(avatar_id, max_duration)
        session_key = session.ready(session_id, timeout_s=120)
        creds = session.consume(session_id, session_key)
        url, token = creds["url"], creds["token"]
        ice = creds.get("iceServers") or []
        click.echo(f"session {session_id}", err=True)
    else:
        ice = []
    assert url is not None and token is not None
    try:
        asyncio.run(
            _call(
                url,
                token,
                ice,
                recordings,
                texts,
                output,
                events_path,
                answer_timeout_s,
                codec,
                hang_up,
            )
        )
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        sys.exit(130)
    if session is not None and session_id is not None:
        conv = session.conversation(session_id)
        status = conv.get("status")
        click.echo(f"conversation {session_id}: {status}, {conv.get('duration')} s", err=True)


async def _call(
    url: str,
    token: str,
    ice: list[dict[str, Any]],
    recordings: list[tuple[Path, Any]],
    texts: tuple[str, ...],
    output: Path | None,
    events_path: Path | None,
    answer_timeout_s: float,
    codec: str,
    hang_up: str,
) -> None:
    from characters.realtime.client import CallClient, CallError

    writer = _Writer(output) if output is not None else None
    client: Any
    if url.startswith(("ws://", "wss://")):  # a LiveKit room (the server is in LiveKit mode)
        from characters.realtime.livekit_client import RoomClient

        client = RoomClient(
            url,
            token,
            on_video=writer.video if writer else None,
            on_audio=writer.audio if writer else None,
        )
    else:
        client = CallClient(
            url,
            token,
            ice=ice,
            video_codecs=("H264",) if codec == "h264" else ("VP8", "H264"),
            on_video=writer.video if writer else None,
            on_audio=writer.audio if writer else None,
        )
    printer = _Printer(client)
    started = time.monotonic()
    try:
        try:
            await client.connect()
        except CallError as e:
            _fail(str(e))
        click.echo(f"connected in {time.monotonic() - started:.2f} s", err=True)
        await printer.answer(answer_timeout_s, after=client.offered_at, opening=True)
        for path, speech in recordings:
            click.echo(f"[playing {path}]", err=True)
            utterance = client.play(speech.pcm, speech.sample_rate)
            await utterance.done.wait()
            await printer.answer(answer_timeout_s, after=utterance.started_at or time.monotonic())
        for text in texts:
            click.echo(f"you (typed): {text}")
            sent = time.monotonic()
            client.send({"type": "user_message", "text": text})
            await printer.answer(answer_timeout_s, after=sent)
        if hang_up == "end-call":
            client.send({"type": "END_CALL"})
        else:
            await client.hang_up()  # WHIP: DELETE; LiveKit: leave the room
        if not client.closed.is_set():
            try:
                await client.wait_event(_final, 10)
            except TimeoutError:
                click.echo("warning: the server did not confirm the end of the call", err=True)
    finally:
        printer.flush()
        await client.close()
        if writer is not None:
            await asyncio.to_thread(writer.close)
            if writer.frames:
                click.echo(f"wrote {output} ({writer.frames} video frames)", err=True)
        if events_path is not None:
            with events_path.open("w") as f:
                for at, event in client.events:
                    f.write(json.dumps({"t": round(at - client.offered_at, 3), **event}) + "\n")
            click.echo(f"wrote {events_path} ({len(client.events)} events)", err=True)
    frames = len(client.video.arrivals)
    if frames > 1:
        span = client.video.arrivals[-1] - client.video.arrivals[0]
        click.echo(f"received {frames} video frames ({frames / max(span, 1e-6):.1f} fps)", err=True)


def _final(event: dict[str, Any]) -> bool:
    return event.get("type") == "session" and event.get("status") in (
        "COMPLETED",
        "FAILED",
        "CANCELLED",
    )


class _Printer:
    """Prints the conversation from the events as it goes."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seen = 0
        self.line = ""

    def flush(self) -> None:
        for _, event in self.client.events[self.seen :]:
            self._show(event)
        self.seen = len(self.client.events)
        if self.line:
            click.echo(self.line)
            self.line = ""

    def _show(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "transcription" and event.get("role") == "assistant":
            self.line += event.get("text", "")
        elif kind == "transcription" and event.get("role") == "user":
            click.echo(f"you (heard): {event.get('text', '')}")
        elif kind == "interrupted":
            click.echo((self.line + " [interrupted]").strip())
            self.line = ""
        elif kind == "client_event":
            click.echo(f"[client_event] {event.get('tool')} {json.dumps(event.get('args'))}")
        elif kind == "error":
            click.echo(f"[error] {event.get('code')}: {event.get('message')}", err=True)
        elif kind == "state" and event.get("state") == "listening" and self.line:
            click.echo(f"character: {self.line.strip()}")
            self.line = ""

    async def answer(self, timeout_s: float, *, after: float, opening: bool = False) -> None:
        """Wait until the character has answered what was said before ``after``: it starts
        speaking, then goes back to listening (the start script: a few seconds to start)."""
        client = self.client

        def speaking(e: dict[str, Any]) -> bool:
            return e.get("type") == "state" and e.get("state") == "speaking"

        def over(e: dict[str, Any]) -> bool:
            return (e.get("type") == "state" and e.get("state") == "listening") or (
                e.get("type") == "session" and e.get("status") != "RUNNING"
            )

        try:
            await client.wait_event(speaking, 5 if opening else timeout_s, after=after)
            started = client.event_time(speaking, after=after) or after
            await client.wait_event(over, timeout_s, after=started)
        except TimeoutError:
            if not opening:
                click.echo(f"warning: no answer within {timeout_s:g} s", err=True)
        self.flush()


class _Writer:
    """The received video and the character's voice, into an MP4 as they arrive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.recorder: Any = None
        self.frames = 0
        self._t0: float | None = None
        self._audio_pts0: int | None = None
        self._audio_pos = 0
        self._video_pts0: int | None = None
        self._video_t: float = 0.0

    def _zero(self, now: float) -> float:
        if self._t0 is None:
            self._t0 = now
        return now - self._t0

    def video(self, frame: Any, now: float) -> None:
        from characters.realtime.recorder import Recorder

        at = self._zero(now)
        if self.recorder is None:
            self.recorder = Recorder(self.tmp, frame.width, frame.height)
        if self._video_pts0 is None:
            self._video_pts0, self._video_t = int(frame.pts or 0), at
        time_s = self._video_t + ((int(frame.pts or 0) - self._video_pts0) % 2**32) / 90_000
        self.recorder.video(frame.reformat(format="yuv420p"), time_s)
        self.frames += 1

    def audio(self, pcm: Any, now: float) -> None:
        at = self._zero(now)
        if self.recorder is None:
            return
        if self._audio_pts0 is None:
            self._audio_pts0 = 1
            self._audio_pos = round(at * 48_000)
        self.recorder.voice(pcm, self._audio_pos)
        self._audio_pos += len(pcm)
        self.recorder.advance(self._audio_pos / 48_000)

    def close(self) -> None:
        if self.recorder is None:
            return
        self.recorder.close()
        if self.frames:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
