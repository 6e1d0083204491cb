"""The embedded media endpoint (WHIP, RFC 9725): the ``url`` that consume hands out.

``POST /v1/realtime_sessions/{id}/webrtc`` with the client's SDP offer (``Content-Type:
application/sdp``, ``Authorization: Bearer <token from consume>``) answers ``201`` with the SDP
answer and a ``Location``; ``DELETE`` on that location hangs up. Browsers on other origins may
call both (CORS, in the auth middleware). The work is :class:`characters.realtime.calls.Calls`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from characters.api.deps import ServicesDep
from characters.api.errors import error_response
from characters.errors import InvalidInput
from characters.realtime.webrtc import MAX_OFFER_BYTES

router = APIRouter(prefix="/v1", tags=["realtime_sessions"])


@router.post(
    "/realtime_sessions/{id}/webrtc",
    status_code=201,
    response_class=Response,
    summary="Join a session's call with a WebRTC offer (WHIP)",
    description="Send the SDP offer as the body (Content-Type: application/sdp) with "
    "'Authorization: Bearer <token>' (the token consume returned; it works once). The answer "
    "comes back as the body of a 201, with the call's address in 'Location' (DELETE it to hang "
    "up) and the configured ICE servers as 'Link' headers. See docs/realtime.md.",
    responses={
        201: {"content": {"application/sdp": {}}, "description": "The SDP answer"},
        400: {"description": "Not an SDP offer, or one without the microphone (audio) m-line"},
        401: {"description": "Missing, wrong or already used token"},
        409: {"description": "The session is not READY"},
        503: {"description": "The conversation engine is not available"},
    },
)
async def offer(
    id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    content_type: Annotated[str | None, Header()] = None,
) -> Response:
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > MAX_OFFER_BYTES:
            raise InvalidInput(f"The SDP offer is larger than {MAX_OFFER_BYTES // 1024} KiB.")
    answer = await services.calls.offer(str(id), authorization, bytes(body), content_type)
    headers = {"Location": f"/v1/realtime_sessions/{id}/webrtc/{answer.resource}"}
    links = [_link(server) for server in answer.ice_servers]
    if links:
        headers["Link"] = ", ".join(link for group in links for link in group)
    return Response(answer.sdp, status_code=201, media_type="application/sdp", headers=headers)


@router.delete(
    "/realtime_sessions/{id}/webrtc/{resource}",
    response_class=Response,
    summary="Hang up a call (WHIP resource)",
    description="Ends the call: the session becomes COMPLETED. Send the same "
    "'Authorization: Bearer <token>' as the offer.",
    responses={401: {"description": "Wrong token"}, 404: {"description": "No such live call"}},
)
async def hang_up(
    id: uuid.UUID,
    resource: str,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    await services.calls.hangup(str(id), resource, authorization)
    return Response(status_code=200)


@router.patch("/realtime_sessions/{id}/webrtc/{resource}", include_in_schema=False)
async def trickle(id: uuid.UUID, resource: str) -> Response:
    """Trickle ICE is not supported: the answer carries every candidate (RFC 9725 §4.3.1)."""
    return error_response(
        405,
        "Trickle ICE is not supported: wait for ICE gathering to complete before sending the "
        "offer; the answer carries every candidate.",
        headers={"Allow": "DELETE"},
    )


def _link(server: dict[str, object]) -> list[str]:
    urls = server["urls"]
    out = []
    for url in [urls] if isinstance(urls, str) else list(urls):  # type: ignore[call-overload]
        link = f'<{url}>; rel="ice-server"'
        if server.get("username"):
            link += (
                f'; username="{server["username"]}"; credential="{server.get("credential", "")}"'
            )
            link += '; credential-type="password"'
        out.append(link)
    return out
