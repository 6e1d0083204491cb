"""A real integrator's backend for tests: an HTTP server on loopback that checks every request's
signature with the example verifier (``examples/webhooks/verify.py``), records it, and answers
backend_rpc calls as the test says (a result, an error status, or a hang)."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import ROOT


def example_verifier() -> Any:
    spec = importlib.util.spec_from_file_location(
        "example_verify", ROOT / "examples" / "webhooks" / "verify.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool
    why: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, Any]
"""(status, JSON body or None)."""


@dataclass
class Receiver:
    """What the server got, and how it answers (``rpc``: tool name → function(args) → Reply;
    ``events``: status for session events, in turn, then 204)."""

    url: str
    secret: str = ""
    rpc: dict[str, Callable[[dict[str, Any]], Reply]] = field(default_factory=dict)
    events: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def of(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def event_types(self) -> list[str]:
        return [r.json["type"] for r in self.of("/events") if r.verified]

    def wait(self, predicate: Callable[[], Any], timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"not received within {timeout} s: {self.received}")


@contextmanager
def receiver(port: int = 0) -> Iterator[Receiver]:
    """A webhook receiver on ``http://127.0.0.1:<port>`` (``/events``, ``/rpc``)."""
    verifier = example_verifier()
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            me = box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers.items())
            try:
                verifier.verify(me.secret, headers, body)
                record = Received(self.path, headers, body, time.monotonic(), True)
            except verifier.InvalidSignature as e:
                record = Received(self.path, headers, body, time.monotonic(), False, str(e))
            me.received.append(record)
            if not record.verified:
                return self.reply(401, {"error": record.why})
            if self.path == "/rpc":
                message = json.loads(body)
                handler = me.rpc.get(message["tool"])
                if handler is None:
                    return self.reply(404, {"error": "no such tool"})
                status, data = handler(message["args"])
                return self.reply(status, data)
            status = me.events.pop(0) if me.events else 204
            return self.reply(status, None)

        def reply(self, status: int, data: Any) -> None:
            payload = b"" if data is None else json.dumps(data).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller gave up (a hang it timed out on)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    me = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    box.append(me)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield me
    finally:
        me.stop.set()
        server.shutdown()
        server.server_close()


def hang(receiver: Receiver, seconds: float = 30) -> Callable[[dict[str, Any]], Reply]:
    """A backend_rpc handler that never answers in time."""

    def handler(_args: dict[str, Any]) -> Reply:
        receiver.stop.wait(seconds)
        return 200, {"late": True}

    return handler
