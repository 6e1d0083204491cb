"""An integrator's site: a page with a live call, and the backend that holds the API key.

The browser never sees the key. It posts ``{"avatarId": …}`` to ``/connect``; this backend
creates a realtime session with the official ``runwayml`` SDK (pointed at the Characters
server), waits until it is READY, consumes it, and returns the call's credentials in the shape
Runway's SDKs call "A": ``{sessionId, serverUrl, token, roomName}``. The page loads
``<characters-call>`` from the Characters server and gives it ``connect-url="/connect"``.

A front end on another origin (a React dev server, say) may call ``/connect`` when its origin is
listed in ``CORS_ORIGINS`` (comma-separated, e.g. ``http://localhost:5173``; none by default).

Run it (see README.md beside this file)::

    CHARACTERS_URL=http://127.0.0.1:8000 CHARACTERS_API_KEY=key_… AVATAR_ID=… \\
        python examples/integrator/app.py        # http://127.0.0.1:8001
"""

from __future__ import annotations

import html
import os
import time
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from runwayml import RunwayML

CHARACTERS_URL = os.environ.get("CHARACTERS_URL", "http://127.0.0.1:8000").rstrip("/")
AVATAR_ID = os.environ.get("AVATAR_ID", "")
CORS_ORIGINS = [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()]
READY_TIMEOUT_S = 30

runway = RunwayML(api_key=os.environ.get("CHARACTERS_API_KEY", ""), base_url=CHARACTERS_URL)
app = FastAPI(title="Integrator example")
if CORS_ORIGINS:  # browsers on these origins may POST /connect (JSON, so with a preflight)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=CORS_ORIGINS,
        allow_methods=["POST"],
        allow_headers=["content-type"],
    )


class ConnectIn(BaseModel):
    avatarId: str  # the JSON the widget sends, as Runway's SDK does


@app.post("/connect")
def connect(body: ConnectIn) -> dict[str, Any]:
    """Create → wait until READY → consume; the call's credentials for the browser (shape A)."""
    if body.avatarId != AVATAR_ID:  # this site offers calls with its own character only
        raise HTTPException(403, "Unknown character.")
    session = runway.realtime_sessions.create(
        model="gwm1_avatars", avatar={"type": "custom", "avatar_id": AVATAR_ID}
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while (ready := runway.realtime_sessions.retrieve(session.id)).status == "NOT_READY":
        if time.monotonic() > deadline:  # every call slot is busy
            runway.realtime_sessions.delete(session.id)
            raise HTTPException(503, "All characters are busy; try again in a minute.")
        time.sleep(0.5)
    if ready.status != "READY":
        raise HTTPException(502, f"The session could not start ({ready.status}).")
    # consume has no SDK method; the SDK's generic POST sends it with the session key instead.
    creds: dict[str, Any] = runway.post(
        f"/v1/realtime_sessions/{session.id}/consume",
        cast_to=dict[str, Any],
        options={"headers": {"Authorization": f"Bearer {ready.session_key}"}},
    )
    return {
        "sessionId": session.id,
        "serverUrl": creds["url"],
        "token": creds["token"],
        "roomName": creds["roomName"],
        **({"iceServers": creds["iceServers"]} if "iceServers" in creds else {}),
    }


PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="data:,">
  <title>Talk to our guide</title>
  <script type="module" src="{characters}/widget/characters-call.js"></script>
  <style>
    body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 760px;
           padding: 0 1rem; color: #1f2937; }}
    characters-call {{ --characters-accent: #0f766e; --characters-radius: 12px; }}
  </style>
</head>
<body>
  <h1>Talk to our guide</h1>
  <p>Ask about opening hours, tickets or the collection. Your browser will ask for the
     microphone; you can also type.</p>
  <characters-call avatar-id="{avatar_id}" connect-url="/connect" character-name="Guide">
  </characters-call>
  <script type="module">
    const call = document.querySelector("characters-call");
    call.addEventListener("clientevent", (e) => console.log("client event", e.detail));
    call.addEventListener("end", (e) => console.log("call ended:", e.detail.reason));
  </script>
</body>
</html>
"""


@app.get("/", response_class=HTMLResponse)
def page() -> str:
    return PAGE.format(characters=html.escape(CHARACTERS_URL), avatar_id=html.escape(AVATAR_ID))


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8001")))
