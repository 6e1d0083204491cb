"""``backend_rpc`` tool calls over LiveKit RPC, to the backend that ``connect_backend`` let in.

In LiveKit mode an integrator's backend may answer the session's ``backend_rpc`` tools from
inside the room, as Runway's does (API.md §8): it calls ``POST /v1/realtime_sessions/{id}/
connect_backend``, joins the room as the hidden participant ``backend`` and registers one RPC
method per tool. The character (identity ``worker:character``) then calls::

    performRpc(destination="backend", method=<tool name>,
               payload='{"args": {...}, "id": "call_…", "tool": <name>, "sessionId": "…"}')

and reads the answer's JSON (an object, a string or null; anything else is wrapped) as the
tool's result; an RPC error (e.g. the handler's ``RpcError(1500, message)``) is the tool's error.
The tool's ``timeoutSeconds`` is the RPC's response timeout. Without a backend in the room the
call goes to the webhook (:class:`~characters.webhooks.rpc.BackendRpc`) as in the embedded mode.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
from typing import Any

from livekit import rtc

from characters.config import Settings
from characters.conversation.prompt import ToolCall, ToolSpec
from characters.conversation.tools import ToolResult, as_result
from characters.realtime.livekit import BACKEND_IDENTITY, backend_present
from characters.webhooks.rpc import BackendRpc

log = logging.getLogger(__name__)


class RoomBackendRpc:
    """The ``backend_rpc`` calls of a call in a LiveKit room (an :class:`~characters.
    conversation.tools.Actions`; see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        room: rtc.Room,
        room_name: str,
        webhook: BackendRpc,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.settings = settings
        self.room = room
        self.room_name = room_name
        self.webhook = webhook
        self._loop = loop

    def start(self, tool: ToolSpec, call: ToolCall) -> concurrent.futures.Future[ToolResult]:
        return asyncio.run_coroutine_threadsafe(self.call(tool, call), self._loop)

    async def call(self, tool: ToolSpec, call: ToolCall) -> ToolResult:
        """One call, within ``tool.timeout_s``; never raises."""
        try:
            present = await backend_present(self.settings, self.room_name)
        except Exception as e:  # LiveKit's API did not answer: the webhook, if there is one
            log.warning("room %s: cannot see whether a backend is in: %s", self.room_name, e)
            present = False
        if not present:
            return await self.webhook.call(tool, call)
        started = time.monotonic()
        payload = json.dumps(
            {
                "args": dict(call.arguments),
                "id": call.id,
                "tool": tool.name,
                "sessionId": self.webhook.session_id,
            },
            ensure_ascii=False,
        )
        result: Any = None
        error: str | None = None
        try:
            answer = await self.room.local_participant.perform_rpc(
                destination_identity=BACKEND_IDENTITY,
                method=tool.name,
                payload=payload,
                response_timeout=tool.timeout_s,
            )
            result = _result(answer)
        except rtc.RpcError as e:
            error = f"RPC error {e.code}: {e.message}"
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
        took = 1000 * (time.monotonic() - started)
        log.info(
            "backend_rpc %s of session %s over LiveKit: %s in %.0f ms",
            tool.name,
            self.webhook.session_id,
            "ok" if error is None else f"failed ({error})",
            took,
        )
        return ToolResult(call.id, tool.name, result, error, took)


def _result(answer: str) -> Any:
    if not answer.strip():
        return None
    try:
        value = json.loads(answer)
    except ValueError:
        return answer.strip()
    return as_result(value)
