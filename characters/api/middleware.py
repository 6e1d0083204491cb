"""ASGI middleware that authenticates ``/v1`` calls before any body is parsed.

Order of checks, as clients expect: API key (401) → ``X-Runway-Version`` (400) → the route's
own validation. Paths that take other credentials (consume, the media endpoint) skip the key
check and get permissive CORS, because browsers call them directly.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from characters.api.errors import domain_error_response, error_response
from characters.config import API_VERSION
from characters.errors import CharactersError
from characters.store.keys import authenticate

_PUBLIC = re.compile(r"^/v1/realtime_sessions/[^/]+/(consume|webrtc)(/.*)?$")
_SLASHES = re.compile(r"/{2,}")
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, DELETE, PATCH, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type, if-match"),
    (b"access-control-expose-headers", b"location, etag, link"),
    (b"access-control-max-age", b"600"),
]


class AuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if "//" in path:  # clients joining a base URL with a trailing slash send '//v1/...'
            path = _SLASHES.sub("/", path)
            scope = dict(scope, path=path, raw_path=path.encode())
        if not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        if _PUBLIC.match(path):
            await self._public(scope, receive, send)
            return
        headers = Headers(scope=scope)
        services = scope["app"].state.services
        try:
            async with services.db.transaction() as db:
                principal = await authenticate(db, headers.get("authorization"))
        except CharactersError as e:
            await domain_error_response(e)(scope, receive, send)
            return
        version = headers.get("x-runway-version")
        if version != API_VERSION:
            told = "is missing" if version is None else f"'{version}' is not supported"
            await error_response(
                400,
                f"The X-Runway-Version header {told}; send 'X-Runway-Version: {API_VERSION}'.",
            )(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _public(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": CORS_HEADERS})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                hdrs: list[Any] = list(message.get("headers", []))
                hdrs.extend(CORS_HEADERS[:1] + CORS_HEADERS[3:4])
                message = dict(message, headers=hdrs)
            await send(message)

        await self.app(scope, receive, send_with_cors)
