"""The messages on a call's ``events`` data channel (JSON text, one object per message).

Server → client (every message in ``docs/realtime.md`` with an example):

* ``transcription`` in Runway's flat-delta format, which Runway's JS/React SDK parses: the
  character's words as they are heard (``role`` ``assistant``, one message per word, ``text`` a
  delta to append), and the user's final words once per turn (``role`` ``user``);
* ``user_transcript``: the user's words while they speak (``final`` false, the whole hypothesis
  so far, replacing the previous one) and once more at the end of the turn (``final`` true);
* ``state``: ``listening``, ``thinking`` or ``speaking``;
* ``interrupted``: the user cut the character off (``heard``: what they heard of the answer);
* ``session``: the session's status (``RUNNING`` at the start, ``ENDING`` shortly before the
  cap, then the final status with its reason);
* ``client_event``: a ``client_event`` tool the character called (Runway's shape);
* ``tool_call`` and ``tool_result``: every valid tool call of an answer, and what it gave (the
  live transcript of actions; a call that did not fit its tool never reaches the client);
* ``error``: something went wrong (``code``, ``message``); a fatal one is followed by the
  ``session`` message ``FAILED``.

Client → server: ``{"type": "END_CALL"}`` (hang up: COMPLETED) and ``{"type": "user_message",
"text": "..."}`` (typed input, answered like speech). Anything else is ignored with a logged
warning.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

Event = dict[str, Any]
State = Literal["listening", "thinking", "speaking"]
MAX_USER_MESSAGE_CHARS = 2000
MAX_MESSAGE_BYTES = 16_384


def assistant_words(turn: int, delta: str) -> Event:
    return {"type": "transcription", "role": "assistant", "turn": turn, "text": delta}


def user_words(turn: int, text: str) -> Event:
    return {"type": "transcription", "role": "user", "turn": turn, "text": text}


def user_transcript(turn: int, text: str, *, final: bool) -> Event:
    return {"type": "user_transcript", "turn": turn, "text": text, "final": final}


def state(value: State) -> Event:
    return {"type": "state", "state": value}


def interrupted(turn: int, heard: str) -> Event:
    return {"type": "interrupted", "turn": turn, "heard": heard}


def session(status: str, **extra: Any) -> Event:
    return {"type": "session", "status": status, **extra}


def error(code: str, message: str, *, fatal: bool) -> Event:
    return {"type": "error", "code": code, "message": message, "fatal": fatal}


def client_event(tool: str, args: dict[str, Any]) -> Event:
    return {"type": "client_event", "tool": tool, "args": args}


def tool_call(turn: int, call_id: str, tool: str, kind: str, args: dict[str, Any]) -> Event:
    return {
        "type": "tool_call",
        "turn": turn,
        "id": call_id,
        "tool": tool,
        "kind": kind,
        "args": args,
    }


def tool_result(turn: int, result: dict[str, Any]) -> Event:
    return {"type": "tool_result", "turn": turn, **result}


def encode(event: Event) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class EndCall:
    """``{"type": "END_CALL"}``: the user hung up."""


@dataclass(frozen=True, slots=True)
class UserMessage:
    """``{"type": "user_message", "text": ...}``: typed input."""

    text: str


ClientMessage = EndCall | UserMessage


def parse(raw: str | bytes) -> ClientMessage | None:
    """A client's message, or None (with a logged warning) when it is not one we know."""
    if len(raw) > MAX_MESSAGE_BYTES:
        log.warning("events: ignored a message of %d bytes (limit %d)", len(raw), MAX_MESSAGE_BYTES)
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        log.warning("events: ignored a message that is not JSON")
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "END_CALL":
        return EndCall()
    if kind == "user_message":
        text = data.get("text")
        if isinstance(text, str) and text.strip():
            return UserMessage(text.strip()[:MAX_USER_MESSAGE_CHARS])
        log.warning("events: ignored a user_message without text")
        return None
    log.warning("events: ignored a message of unknown type %r", kind)
    return None
