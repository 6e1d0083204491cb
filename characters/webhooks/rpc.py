"""``backend_rpc`` tool calls of a live call, as signed webhooks to the integrator's backend.

The request (POST, signed as :mod:`~characters.webhooks.signing` says, ``webhook-id`` = the
call's id)::

    {"type": "backend_rpc", "id": "call_…", "tool": "check_order", "args": {"order_number": 4417},
     "sessionId": "…", "avatarId": "…"}

The answer's JSON body is the result the character reads: an object, a string or null (a body
that is not JSON is read as a string). A non-2xx answer is an error; its JSON ``error`` field, if
any, is the message. The whole call, retry included, has the tool's ``timeoutSeconds``; a
connection failure or a 5xx is tried once more when at least :data:`MIN_RETRY_S` of it is left.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
from typing import Any

from characters.conversation.prompt import ToolCall, ToolSpec
from characters.conversation.tools import ToolResult, as_result
from characters.webhooks.client import Reply, WebhookClient

log = logging.getLogger(__name__)

MIN_RETRY_S = 0.5
"""A failed attempt is retried only with at least this much of the call's time left."""
RETRY_PAUSE_S = 0.1
NOT_CONFIGURED = (
    "no backend is configured for this action (set backendRpcUrl on the avatar, or on the "
    "organisation with PUT /v1/organization/webhooks)"
)


class BackendRpc:
    """The ``backend_rpc`` calls of one session (an :class:`~characters.conversation.tools.
    Actions`): :meth:`start` is called from the answer's worker thread and runs the call on
    the event loop.

    Args:
        client: the server's webhook client.
        loop: the event loop the call runs on.
        url: where the calls go (the avatar's ``backendRpcUrl``, else the organisation's).
        secret: the organisation's signing secret.
        session_id, avatar_id: sent with every call.
    """

    def __init__(
        self,
        client: WebhookClient,
        loop: asyncio.AbstractEventLoop,
        *,
        url: str | None,
        secret: str | None,
        session_id: str,
        avatar_id: str | None,
    ) -> None:
        self._client = client
        self._loop = loop
        self.url = url
        self._secret = secret
        self.session_id = session_id
        self.avatar_id = avatar_id

    def start(self, tool: ToolSpec, call: ToolCall) -> concurrent.futures.Future[ToolResult]:
        return asyncio.run_coroutine_threadsafe(self.call(tool, call), self._loop)

    async def call(self, tool: ToolSpec, call: ToolCall) -> ToolResult:
        """One call, within ``tool.timeout_s``; never raises."""
        started = time.monotonic()

        def done(result: Any = None, error: str | None = None) -> ToolResult:
            took = 1000 * (time.monotonic() - started)
            log.info(
                "backend_rpc %s of session %s: %s in %.0f ms",
                tool.name,
                self.session_id,
                "ok" if error is None else f"failed ({error})",
                took,
            )
            return ToolResult(call.id, tool.name, result, error, took)

        if not self.url or not self._secret:
            return done(error=NOT_CONFIGURED)
        body = json.dumps(
            {
                "type": "backend_rpc",
                "id": call.id,
                "tool": tool.name,
                "args": dict(call.arguments),
                "sessionId": self.session_id,
                "avatarId": self.avatar_id,
            },
            ensure_ascii=False,
        ).encode()
        deadline = started + tool.timeout_s
        for attempt in (1, 2):
            left = deadline - time.monotonic()
            reply = await self._client.post(
                self.url, self._secret, call.id, body, timeout_s=max(0.05, left)
            )
            if reply.ok:
                return done(result=_result(reply))
            left = deadline - time.monotonic()
            if attempt == 1 and reply.retryable and left >= MIN_RETRY_S:
                log.info("backend_rpc %s: %s; trying once more", tool.name, reply.describe())
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            if reply.status is None and left <= 0.05:
                return done(error=f"no answer within {tool.timeout_s:g} s")
            return done(error=_error(reply))
        raise AssertionError("unreachable")


def _result(reply: Reply) -> Any:
    if not reply.body.strip():
        return None
    try:
        value = reply.json()
    except ValueError:
        return reply.body.decode("utf-8", "replace").strip()
    return as_result(value)


def _error(reply: Reply) -> str:
    if reply.status is not None and reply.body.strip():
        try:
            value = reply.json()
        except ValueError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("error"), str):
            return f"HTTP {reply.status}: {value['error'][:300]}"
    return reply.describe()
