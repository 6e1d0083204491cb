"""The portal and the widget are served by the API process, the widget to any origin."""

from __future__ import annotations

import httpx

from tests.conftest import Server


def test_portal_and_widget_are_served(server: Server) -> None:
    page = httpx.get(server.base_url + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Characters" in page.text

    widget = httpx.get(
        server.base_url + "/widget/characters-call.js",
        headers={"origin": "http://integrator.example"},
        timeout=10,
    )
    assert widget.status_code == 200
    # module scripts from another origin need CORS, and a served module is revalidated
    assert widget.headers["access-control-allow-origin"] == "*"
    assert widget.headers["content-type"].split(";")[0] in (
        "text/javascript",
        "application/javascript",
    )
    assert widget.headers["cache-control"] == "no-cache"

    missing = httpx.get(server.base_url + "/widget/nope.js", timeout=10)
    assert missing.status_code == 404
