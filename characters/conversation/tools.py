"""Tool calls: checking a call's arguments, running it, and what the character says of its result.

A tool call the model writes is checked against the tool's parameters (Runway's parameter
shapes: ``string`` with ``enum``, ``integer``, ``number``, ``boolean``, ``array`` of a scalar
type, ``object`` with ``properties``; ``required`` defaults to true) by :func:`check_arguments`
before anything is sent. Small models write near misses, so a few are mended rather than
refused, each one unambiguous: ``"4417"`` for an integer, ``"Gallery"`` for the enum value
``gallery``, ``"true"`` for a boolean, one value for a list of one. Anything else is an
:class:`ArgumentError`, whose message goes back to the model (never to the client).

``client_event`` calls are fire and forget (the call's runner sends them to the client);
``backend_rpc`` calls run through :class:`Actions` (in a live call: a signed webhook, see
:mod:`characters.webhooks.rpc`) and come back as a :class:`ToolResult`, which the character
speaks: :func:`result_note` tells the model what the result says, :func:`uses_result` checks
that its answer does, and :func:`spoken_result` is what is said when it does not (the embedded
0.5B model often repeats its call instead of reading the result).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from characters.conversation.prompt import ToolCall, ToolParameter, ToolSpec

MAX_RESULT_CHARS = 600
"""A tool result longer than this (as JSON) is cut before it goes into the prompt."""
EVENT_SENT = {"status": "event_sent"}

PAGE_ACTIONS: list[dict[str, Any]] = [
    {
        "type": "client_event",
        "name": "click",
        "description": "Clicks an interactive element on the page by its target ID",
        "parameters": [
            {
                "name": "target",
                "type": "string",
                "description": "The ID or data-avatar-target value of the element to click",
            }
        ],
    },
    {
        "type": "client_event",
        "name": "scroll_to",
        "description": "Scrolls the page to an element by its target ID",
        "parameters": [
            {
                "name": "target",
                "type": "string",
                "description": "The ID or data-avatar-target value of the element to scroll to",
            }
        ],
    },
    {
        "type": "client_event",
        "name": "highlight",
        "description": "Highlights an element on the page to draw attention to it by its target ID",
        "parameters": [
            {
                "name": "target",
                "type": "string",
                "description": "The ID or data-avatar-target value of the element to highlight",
            },
            {
                "name": "duration",
                "type": "number",
                "description": "How long to highlight in milliseconds. Defaults to 2000",
            },
        ],
    },
]
"""Runway's ``pageActionTools`` (``@runwayml/avatars-react``), as they ship: give them as a
session's ``tools`` and the call widget performs them on the page (docs/actions.md)."""
"""The result recorded for a ``client_event`` call (Runway's acknowledgement shape)."""


class ArgumentError(ValueError):
    """A tool call whose arguments do not fit the tool's parameters (the message says why, in
    words the model can act on)."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call gave: a ``result`` (an object, a string or None) or an ``error``."""

    id: str
    name: str
    result: Any = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def wire(self) -> dict[str, Any]:
        """The stored conversation's ``toolResults`` entry (Runway's ``ToolResult``)."""
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.error is None:
            out["result"] = self.result
        else:
            out["error"] = self.error
        out["durationMs"] = round(self.duration_ms, 1)
        return out


def as_result(value: Any) -> Any:
    """A backend's answer as a tool result: an object, a string or None as it is; anything else
    (a number, a list) wrapped as ``{"result": value}``."""
    if isinstance(value, dict | str) or value is None:
        return value
    return {"result": value}


class Actions(Protocol):
    """Runs ``backend_rpc`` calls (a live call's webhook client)."""

    def start(self, tool: ToolSpec, call: ToolCall) -> Future[ToolResult]:
        """Start the call now; the future ends with its result (or error) within the tool's
        ``timeout_s``, and may be cancelled."""
        ...


# Checking arguments


def check_arguments(tool: ToolSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` checked against ``tool``'s parameters, near misses mended and undeclared
    arguments dropped; :class:`ArgumentError` names every problem."""
    problems: list[str] = []
    out = _object(tool.parameters, arguments, "", problems)
    if problems:
        raise ArgumentError(f"{tool.name}: " + "; ".join(problems) + ".")
    return out


def _object(
    params: Sequence[ToolParameter], values: Mapping[str, Any], where: str, problems: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in params:
        value = values.get(p.name)
        path = f"{where}{p.name}"
        if value is None or (isinstance(value, str) and not value.strip() and p.type != "string"):
            if p.required:
                problems.append(f"{path} is required ({_kind(p)})")
            continue
        checked = _value(p, value, path, problems)
        if checked is not None:
            out[p.name] = checked
    return out


def _value(p: ToolParameter, value: Any, path: str, problems: list[str]) -> Any:
    kind = p.type
    if kind == "array":
        items = value if isinstance(value, list) else [value]
        element = ToolParameter(p.name, p.items or "string")
        checked = [_scalar(element, v, f"{path}[{i}]", problems) for i, v in enumerate(items)]
        return checked if all(c is not None for c in checked) else None
    if kind == "object":
        if isinstance(value, str):
            value = _json_object(value)
        if not isinstance(value, Mapping):
            problems.append(f"{path} must be an object with {_fields(p.properties)}")
            return None
        return _object(p.properties, value, f"{path}.", problems)
    return _scalar(p, value, path, problems)


def _scalar(p: ToolParameter, value: Any, path: str, problems: list[str]) -> Any:
    kind = p.type
    if kind == "string":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            problems.append(f"{path} must be text")
            return None
        text = str(value).strip()
        if p.enum:
            match = _enum_match(text, p.enum)
            if match is None:
                problems.append(f"{path} must be one of {', '.join(p.enum)} (not {text!r})")
            return match
        return text
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in ("true", "yes", "1"):
            return True
        if word in ("false", "no", "0"):
            return False
        problems.append(f"{path} must be true or false")
        return None
    if kind in ("integer", "number"):
        number = _number(value)
        if number is None:
            problems.append(f"{path} must be a{'n integer' if kind == 'integer' else ' number'}")
            return None
        if kind == "integer":
            if not float(number).is_integer():
                problems.append(f"{path} must be a whole number (not {number})")
                return None
            return int(number)
        return number
    problems.append(f"{path} has an unknown type {kind!r}")
    return None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        return int(number) if re.fullmatch(r"[+-]?\d+", text) else number
    return None


def _normal(text: str) -> str:
    return re.sub(r"[\s_\-]+", "-", text.strip().lstrip("#").lower())


def _enum_match(text: str, allowed: Sequence[str]) -> str | None:
    if text in allowed:
        return text
    wanted = _normal(text)
    matches = [v for v in allowed if _normal(v) == wanted]
    return matches[0] if len(matches) == 1 else None


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _kind(p: ToolParameter) -> str:
    if p.enum:
        return "one of " + ", ".join(p.enum)
    if p.type == "array":
        return f"a list of {p.items or 'string'}"
    return p.type


def _fields(params: Sequence[ToolParameter]) -> str:
    return ", ".join(f"{q.name} ({_kind(q)})" for q in params) or "no fields"


# What the character says of a result


def result_text(result: Any) -> str:
    """A result as the model reads it: a string as it is, an object as ``key: value`` pairs."""
    if isinstance(result, str):
        text = result.strip()
    elif isinstance(result, Mapping):
        text = "; ".join(f"{_key(k)}: {_plain(v)}" for k, v in result.items())
    else:
        text = _plain(result)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS].rsplit(" ", 1)[0] + " ..."
    return text or "nothing"


def _key(key: Any) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(key)).replace("_", " ").lower()


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{_key(k)} {_plain(v)}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False, default=str)


def result_note(result: ToolResult) -> str:
    """The note put after the model's call: what the call gave, and what to do with it."""
    if result.ok:
        return (
            f"The action {result.name} answered: {result_text(result.result)}\n"
            "Tell the user what it says, in one or two short sentences."
        )
    return (
        f"The action {result.name} failed: {result.error}\n"
        "Say in one short sentence that you could not do it right now."
    )


def error_note(name: str, error: str) -> str:
    """The note after a call the model wrote wrong."""
    return f"The call of {name} was not valid: {error}\nWrite the call again correctly."


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the is are was were be to of in on at for and or no yes none true false it its "
    "this that status result".split()
)


def salient_words(result: Any) -> set[str]:
    """Words of a result's values that an answer using it would say (numbers, names)."""
    values: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, Mapping):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str | int | float) and not isinstance(v, bool):
            values.append(str(v))

    walk(result)
    words = {w for v in values for w in _WORD.findall(v.lower())}
    return {w for w in words if w not in _STOP and (len(w) > 2 or w.isdigit())}


NEGATIVE = re.compile(
    r"\b(sorry|couldn'?t|could not|can'?t|cannot|unable|not able|problem|failed|try again"
    r"|not available|unavailable|didn'?t)\b",
    re.IGNORECASE,
)


PARROT = re.compile(r"\b(answered|returned|the action|the user)\b", re.IGNORECASE)
"""Words of the note itself: an answer that has them reads the note out instead of speaking."""


def uses_result(text: str, results: Sequence[ToolResult]) -> bool:
    """Whether the character's words say what the results say: a failure is admitted, and a
    success repeats at least one word of its values (the model may not invent its own), in
    words of its own (not reading the note out)."""
    lower = text.lower()
    if PARROT.search(text) or any(r.name.lower() in lower for r in results):
        return False
    for r in results:  # "booked: yes; time: 10:30" is the note read out, not an answer
        if isinstance(r.result, Mapping) and any(f"{_key(k)}:" in lower for k in r.result):
            return False
    words = set(_WORD.findall(text.lower()))
    for r in results:
        if not r.ok:
            if not NEGATIVE.search(text):
                return False
            continue
        wanted = salient_words(r.result)
        if wanted and not words & wanted:
            return False
    return True


SAY_KEYS = ("say", "speech", "message", "text", "answer", "summary")
"""Fields of an object result that hold a sentence meant for the user, said as they are."""


def said_as_is(result: ToolResult) -> bool:
    """A result with a ``say`` sentence: the character says it as it is, with no model pass
    (quicker, and exactly the integrator's words)."""
    return (
        result.ok
        and isinstance(result.result, Mapping)
        and isinstance(result.result.get("say"), str)
        and bool(result.result["say"].strip())
    )


def spoken_result(results: Sequence[ToolResult], failed_line: str) -> str:
    """What the character says when the model's words did not use the results."""
    parts: list[str] = []
    for r in results:
        if not r.ok:
            parts.append(failed_line)
        elif isinstance(r.result, str) and r.result.strip():
            parts.append(_sentence(r.result))
        elif isinstance(r.result, Mapping):
            said = next((r.result[k] for k in SAY_KEYS if isinstance(r.result.get(k), str)), None)
            if said and said.strip():
                parts.append(_sentence(said))
            elif r.result:
                found = ". ".join(
                    f"{_key(k).capitalize()}: {_plain(v)}" for k, v in r.result.items()
                )
                parts.append(_sentence(f"Here is what I found. {found}"))
            else:
                parts.append("That's done.")
        else:
            parts.append("That's done.")
    return " ".join(dict.fromkeys(parts))


def _sentence(text: str) -> str:
    text = " ".join(text.split())[:MAX_RESULT_CHARS]
    return text if text[-1:] in ".!?" else text + "."
