"""The browser side, served by the API process: the developer portal and the call widget.

Plain HTML, CSS and ES modules, no build step. ``mount`` adds them to the app:

* ``/`` and ``/portal/…``: the developer portal (``portal/``), which talks to ``/v1`` with an API
  key the user types in (kept in the tab's ``sessionStorage``, never in a cookie).
  ``/portal/config.json`` gives it this server's reference-image limits and credit rate, so
  that its checks before an upload and its estimates are the server's own, and Runway's page
  action tools as this server defines them (the test call's "Add Runway's page actions").
* ``/widget/…``: the ``<characters-call>`` web component and its client module (``widget/``),
  loaded by integrators' pages on other origins, so served with ``Access-Control-Allow-Origin: *``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from characters.conversation.tools import PAGE_ACTIONS

WEB_DIR = Path(__file__).parent
PORTAL_DIR = WEB_DIR / "portal"
WIDGET_DIR = WEB_DIR / "widget"

# Browsers revalidate (ETag/Last-Modified) on every load, so an upgraded server is never run with
# a stale module from the cache.
_NO_CACHE = (b"cache-control", b"no-cache")


class _Headers:
    """Wraps a static-files app, adding headers to its responses."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *self.headers])
            await send(message)

        await self.app(scope, receive, send_with_headers)


def mount(app: FastAPI) -> None:
    """Serve the portal at ``/`` and the widget at ``/widget/``."""
    app.mount(
        "/widget",
        _Headers(
            StaticFiles(directory=WIDGET_DIR),
            [(b"access-control-allow-origin", b"*"), _NO_CACHE],
        ),
        name="widget",
    )

    @app.get("/portal/config.json", include_in_schema=False)
    async def portal_config(request: Request) -> JSONResponse:
        settings = request.app.state.services.settings
        return JSONResponse(
            {
                "maxImageBytes": settings.max_image_bytes,
                "maxImagePixels": settings.max_image_pixels,
                "minImageSide": settings.min_image_side,
                "creditUnitSeconds": settings.credit_unit_s,
                "creditsPerUnit": settings.credits_per_unit,
                "pageActionTools": PAGE_ACTIONS,
            },
            headers={"cache-control": "no-cache"},
        )

    app.mount("/portal", _Headers(StaticFiles(directory=PORTAL_DIR), [_NO_CACHE]), name="portal")

    @app.get("/", include_in_schema=False)
    async def portal_index() -> FileResponse:
        return FileResponse(PORTAL_DIR / "index.html", headers={"cache-control": "no-cache"})
