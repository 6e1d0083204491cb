"""The character's prompt: who it is, how it speaks, what it remembers, knows and can do.

:func:`build_messages` turns a :class:`Character` and the conversation so far into chat messages
for a language model. The order is chosen for llama.cpp's prefix cache, which reuses the longest
common prefix of the previous evaluation: what never changes within a session comes first (the
system prompt with the persona, the speaking rules and the tools, then the start script), then
the remembered turns (which only grow), and last what changes every turn (the knowledge snippets
retrieved for this question, then the question). So every answer pays only for the new turns.

Tools come in the session's Runway shape (``POST /v1/realtime_sessions`` ``tools``) and are read
with :func:`tools_from_runway`. A remote engine gets them as OpenAI function tools
(:meth:`ToolSpec.openai`); the small embedded model instead reads them in the system prompt,
with a one-line call syntax it can imitate::

    <call>{"name": "show_map", "arguments": {"city": "Paris"}}</call>

:mod:`characters.conversation.spoken` parses those calls out of the model's words.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from characters.errors import InvalidInput

if TYPE_CHECKING:
    from characters.knowledge.index import KnowledgeIndex

Message = dict[str, Any]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

PARAMETER_TYPES = ("string", "integer", "number", "boolean", "array", "object")
TOOL_KINDS = ("client_event", "backend_rpc")
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NAMES_DEFAULT = re.compile(r"\bdefaults? to\b", re.IGNORECASE)

MAX_PROMPT_CHARS = 5000
"""Default budget of a whole prompt, in characters (about 1 300 tokens of English: with a
2 048-token context this leaves room for the answer)."""
MAX_KNOWLEDGE_CHARS = 1500
"""Default budget of the retrieved knowledge snippets, in characters."""


@dataclass(frozen=True, slots=True)
class ToolParameter:
    """One parameter of a tool (Runway's parameter object)."""

    name: str
    type: str
    """``string``, ``integer``, ``number``, ``boolean``, ``array`` or ``object``."""
    description: str = ""
    required: bool = True
    enum: tuple[str, ...] | None = None
    """Allowed values of a ``string`` parameter."""
    items: str | None = None
    """Element type of an ``array`` parameter."""
    properties: tuple[ToolParameter, ...] = ()
    """Fields of an ``object`` parameter."""

    def json_schema(self) -> dict[str, Any]:
        """This parameter as a JSON Schema (for OpenAI function tools)."""
        schema: dict[str, Any] = {"type": self.type}
        if self.description:
            schema["description"] = self.description
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.type == "array":
            schema["items"] = {"type": self.items or "string"}
        if self.type == "object":
            schema.update(_object_schema(self.properties))
        return schema

    def describe(self) -> str:
        """A short human line: ``city (string, one of: a, b; optional): the city``."""
        kind = self.type if self.type != "array" else f"list of {self.items or 'string'}"
        extras = [kind]
        if self.enum:
            extras.append("one of: " + ", ".join(self.enum))
        if not self.required:
            extras.append("optional")
        text = f"{self.name} ({'; '.join(extras)})"
        return f"{text}: {self.description}" if self.description else text


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the character may call during a session (Runway's tool object)."""

    name: str
    description: str
    parameters: tuple[ToolParameter, ...] = ()
    kind: Literal["client_event", "backend_rpc"] = "client_event"
    """``client_event``: fire and forget to the client; ``backend_rpc``: a round trip."""
    timeout_s: float = 4.0
    """How long a ``backend_rpc`` call may take."""

    def json_schema(self) -> dict[str, Any]:
        """The arguments object as a JSON Schema."""
        return _object_schema(self.parameters)

    def openai(self) -> dict[str, Any]:
        """This tool in OpenAI's chat-completions ``tools`` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.json_schema(),
            },
        }

    def clean_call(self, call: ToolCall) -> ToolCall:
        """``call`` without the arguments this tool does not declare (small models invent
        some)."""
        names = {p.name for p in self.parameters}
        args = {k: v for k, v in call.arguments.items() if k in names}
        return ToolCall(call.name, args, call.id)

    def example_arguments(self) -> dict[str, Any]:
        """Plausible arguments (for the call example in the prompt)."""
        return {p.name: _example_value(p) for p in self.parameters if p.required}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call of a tool by the character, with its arguments."""

    name: str
    arguments: Mapping[str, Any]
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")


@dataclass(frozen=True)
class Character:
    """Everything about an avatar that shapes what it says."""

    name: str
    personality: str | None = None
    """Free text from the avatar or the session (who it is, facts it knows, how it behaves)."""
    start_script: str | None = None
    """What the character says first, before the user speaks."""
    voice: str = "clara"
    """Preset voice id."""
    tools: Sequence[ToolSpec] = ()
    knowledge: KnowledgeIndex | None = None
    """The passages of the avatar's documents (``None``: it has none); each turn, the ones that
    bear on the user's words go into the prompt (:func:`knowledge_message`)."""


def _object_schema(params: Sequence[ToolParameter]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {p.name: p.json_schema() for p in params},
        "required": [p.name for p in params if p.required],
    }


def _example_value(p: ToolParameter) -> Any:
    if p.enum:
        return p.enum[0]
    examples: dict[str, Any] = {"integer": 1, "number": 1.5, "boolean": True, "string": "..."}
    if p.type == "array":
        return [examples.get(p.items or "string", "...")]
    if p.type == "object":
        return {q.name: _example_value(q) for q in p.properties if q.required}
    return examples.get(p.type, "...")


# Runway tool JSON → ToolSpec


def tools_from_runway(data: Sequence[Any]) -> list[ToolSpec]:
    """Tools given in the Runway session shape, checked; :class:`InvalidInput` names the bad
    field (``tools[2].parameters[0].type``) when one is unusable."""
    tools = [_tool(item, ["tools", i]) for i, item in enumerate(data)]
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if tool.name in seen:
            raise InvalidInput(f"Tool name {tool.name!r} is used twice.", ["tools", i, "name"])
        seen.add(tool.name)
    return tools


def _tool(item: Any, path: list[str | int]) -> ToolSpec:
    obj = _mapping(item, path)
    kind = obj.get("type", "client_event")
    if kind not in TOOL_KINDS:
        raise InvalidInput(
            f"Tool type must be one of {', '.join(TOOL_KINDS)}, not {kind!r}.", [*path, "type"]
        )
    params = _list(obj.get("parameters", []), [*path, "parameters"])
    timeout = obj.get("timeoutSeconds", 4.0)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        raise InvalidInput("timeoutSeconds must be a number.", [*path, "timeoutSeconds"])
    return ToolSpec(
        name=_name(obj.get("name"), [*path, "name"]),
        description=_text(obj.get("description"), [*path, "description"]),
        parameters=tuple(_parameter(p, [*path, "parameters", i]) for i, p in enumerate(params)),
        kind=kind,
        timeout_s=float(timeout),
    )


def _parameter(item: Any, path: list[str | int]) -> ToolParameter:
    obj = _mapping(item, path)
    kind = obj.get("type")
    if kind not in PARAMETER_TYPES:
        raise InvalidInput(
            f"Parameter type must be one of {', '.join(PARAMETER_TYPES)}, not {kind!r}.",
            [*path, "type"],
        )
    enum = obj.get("enum")
    items = obj.get("items")
    props = _list(obj.get("properties", []), [*path, "properties"])
    description = _text(obj.get("description", ""), [*path, "description"], allow_empty=True)
    # Runway's ``required`` defaults to true, yet its own ready-made page actions leave out
    # ``required`` on ``highlight``'s ``duration``, "Defaults to 2000": a parameter that names
    # its default and does not say it is required is optional.
    required = obj.get("required", not _NAMES_DEFAULT.search(description))
    return ToolParameter(
        name=_name(obj.get("name"), [*path, "name"]),
        type=kind,
        description=description,
        required=bool(required),
        enum=tuple(str(v) for v in _list(enum, [*path, "enum"])) if enum is not None else None,
        items=str(_mapping(items, [*path, "items"]).get("type", "string")) if items else None,
        properties=tuple(_parameter(p, [*path, "properties", i]) for i, p in enumerate(props)),
    )


def _mapping(value: Any, path: list[str | int]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("Expected a JSON object.", path)
    return value


def _list(value: Any, path: list[str | int]) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput("Expected a JSON list.", path)
    return value


def _name(value: Any, path: list[str | int]) -> str:
    if not isinstance(value, str) or not _NAME.match(value) or len(value) > 64:
        raise InvalidInput(
            f"{value!r} is not a valid name (letters, digits and _, not starting with a "
            "digit, at most 64 characters).",
            path,
        )
    return value


def _text(value: Any, path: list[str | int], *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value.strip() and not allow_empty):
        raise InvalidInput("Expected a non-empty string.", path)
    return value.strip()


# The prompt


def system_prompt(character: Character, *, describe_tools: bool = True) -> str:
    """The stable system prompt: persona, speaking rules and (for the embedded model) tools."""
    name = character.name.strip() or "the character"
    persona = (character.personality or "").strip() or f"You are {name}, a friendly person."
    lines = [
        persona,
        "",
        f"You are {name}, talking with someone by voice. " + RULES.format(name=name),
    ]
    if character.knowledge is not None:
        lines += ["", KNOWLEDGE_RULE]
    if _opening_in_system(character, describe_tools=describe_tools):
        script = (character.start_script or "").strip()
        lines += ["", f'You began this call by saying: "{script}"']
    if describe_tools and character.tools:
        lines += ["", *_tool_lines(character.tools)]
    return "\n".join(lines)


def _opening_in_system(character: Character, *, describe_tools: bool) -> bool:
    """Whether the start script is told in the system prompt (see :func:`build_messages`)."""
    return bool(describe_tools and character.tools and (character.start_script or "").strip())


RULES = (
    "Speak in the first person, as I and we; never call yourself {name}. "
    "Answer only from the facts about you. When they do not answer the question, say you "
    "don't know; never guess. When the question assumes something that is not true, say no "
    "and give the true fact. "
    "Answer in one to three short spoken sentences. Plain words only: no lists, no "
    "markdown, no emoji. Write numbers the way they are said. Ask one question at a time. "
    "Do not say you are an AI or a language model unless the description above says so."
)
"""The speaking rules (``{name}``: the character's name)."""


def _tool_lines(tools: Sequence[ToolSpec]) -> list[str]:
    lines = ["You can also take actions. Say a few words, then write the action's call line."]
    for tool in tools:
        call = json.dumps({"name": tool.name, "arguments": tool.example_arguments()})
        what = tool.description.rstrip(".")
        lines.append(
            f"When the user asks you to {what[:1].lower()}{what[1:]}, or asks about it, "
            f"write: <call>{call}</call>"
        )
        if tool.parameters:
            lines.append("Arguments: " + "; ".join(p.describe() for p in tool.parameters) + ".")
    return lines


KNOWLEDGE_RULE = (
    "You have documents. Before each question you get the passages of them that bear on it: "
    "answer from those passages, and when they do not answer the question, say you don't know."
)
"""Said in the system prompt of a character with documents (cached: costs nothing per turn)."""
KNOWLEDGE_HEADER = "From your documents:"
NO_KNOWLEDGE = "Your documents say nothing about this, so say you don't know."
"""Said after a question when no passage of the character's documents bears on it (about 15
tokens, for questions the character cannot answer only)."""

_SOCIAL = re.compile(
    r"\b(how are you|how's it going|how do you do|how have you been|who are you|what's your "
    r"name|what is your name|nice to meet|how(?:'s| is) your (?:day|morning|afternoon|evening|"
    r"week|weekend)(?= going|\W*$|,)|have a (?:good|nice|great|lovely|safe) "
    r"(?:one|day|evening|night|weekend|trip))\b",
    re.I,
)
_OPENER = re.compile(
    r"^\W*(hi|hello|hey|thanks|thank you|ok|okay|great|good (morning|afternoon|evening))\b"
    r"[^,.!?]{0,20}[,.!]?\s*",
    re.I,
)
_ASKS = re.compile(
    r"^\W*(what|what's|when|where|who|whom|whose|which|why|how|do|does|did|is|isn't|are|was|"
    r"were|can|could|will|would|should|shall|may|have|has|tell me)\b",
    re.I,
)
_PIECES = re.compile(r"(?<=[.!?])\s+")
_EXCLAIMS = re.compile(
    r"^\W*(?:what an?|how (?:lovely|nice|beautiful|wonderful|great|cool|amazing|exciting|fun|"
    r"kind|sweet|funny|interesting|exciting|brilliant|gorgeous|stunning))\b",
    re.I,
)
"""An exclamation that opens like a question: "What a view from up here!", "How lovely!"."""


def asks_for_information(text: str) -> bool:
    """Whether ``text`` asks something (a sentence that ends with "?" or opens like a question)
    other than small talk ("How are you?", "Thanks, bye!")."""
    for piece in _PIECES.split(text.strip()):
        piece = _OPENER.sub("", piece)
        if not re.search(r"\w", piece) or (
            _EXCLAIMS.match(piece) and not piece.rstrip().endswith("?")
        ):
            continue
        if (piece.rstrip().endswith("?") or _ASKS.match(piece)) and not _SOCIAL.search(piece):
            return True
    return False


def knowledge_message(retrieved: Sequence[str], max_chars: int = MAX_KNOWLEDGE_CHARS) -> Message:
    """The per-turn knowledge block: the passages found for the question (best first), within
    ``max_chars``, written best last: nearest the question, where the small model looks (the
    other order answered 1 in 13 fact questions from the wrong passage, bench/knowledge.py)."""
    kept: list[str] = []
    used = 0
    for snippet in (s.strip() for s in retrieved):
        if not snippet:
            continue
        if used + len(snippet) > max_chars:
            snippet = snippet[: max(0, max_chars - used)].rsplit(" ", 1)[0]
            if snippet:
                kept.append(snippet + " ...")
            break
        kept.append(snippet)
        used += len(snippet)
    return {"role": "system", "content": KNOWLEDGE_HEADER + "\n" + "\n".join(reversed(kept))}


TURN_RULE = "Answer from the facts; if they do not say, say you don't know."
"""Said after the facts, in the user's message: the rules again, right before the answer."""


def with_facts(
    question: str, facts: Sequence[str], *, knowledge: bool = False, rule: bool = True
) -> str:
    """The user's words followed by the persona's ``facts`` that bear on them and a reminder
    of the rules (a small model follows what is nearest its answer); no facts: "none about
    this" (unless ``knowledge`` snippets may answer)."""
    if facts:
        note = "Facts: " + " ".join(f.strip() for f in facts)
    elif knowledge:
        note = "Use the knowledge above."
    else:
        note = "Facts: none about this."
    return f"{question}\n\n({note} {TURN_RULE})" if rule else f"{question}\n\n({note})"


def build_messages(
    character: Character,
    history: Sequence[Mapping[str, Any]],
    *,
    retrieved: Sequence[str] | None = None,
    facts: Sequence[str] | None = None,
    rule: bool = True,
    native_tools: bool = False,
    max_chars: int = MAX_PROMPT_CHARS,
    max_knowledge_chars: int = MAX_KNOWLEDGE_CHARS,
) -> list[Message]:
    """Chat messages for the character's next answer.

    ``history`` is the conversation so far as chat messages (``user`` and ``assistant``;
    ``tool`` results, with an optional ``name``, become short system notes), usually ending with
    the user's new words. The oldest turns are dropped until the prompt fits ``max_chars``; the
    system prompt, the start script and the last message are always kept. ``retrieved``
    passages of the character's documents (``None``: no search was made; empty: nothing was
    found, which the prompt says) go in a system message just before the last user message,
    after everything the cache can reuse. ``facts`` (the persona's sentences that bear on the
    question; ``None``: do not add any) follow the last user message, with the rules again
    unless ``rule`` is False (:func:`with_facts`). ``native_tools``: the engine passes the
    tools natively (OpenAI ``tools``), so the prompt does not describe them.

    When the prompt describes tools, the start script is in the system prompt ("You began this
    call by saying: ...") rather than an assistant turn: after a chatty first turn of its own,
    the 0.5B model talks about an action instead of calling it (``bench/actions.py``).
    """
    head: list[Message] = [
        {"role": "system", "content": system_prompt(character, describe_tools=not native_tools)}
    ]
    script = (character.start_script or "").strip()
    if script and not _opening_in_system(character, describe_tools=not native_tools):
        head.append({"role": "assistant", "content": script})
    turns = [_message(m, i) for i, m in enumerate(history)]
    found = [r for r in retrieved or () if r.strip()]
    knowledge = [knowledge_message(found, max_knowledge_chars)] if found else []
    if facts is not None and turns and turns[-1]["role"] == "user":
        last = turns[-1]["content"]
        content = with_facts(last, facts, knowledge=bool(found), rule=rule)
        turns[-1] = {"role": "user", "content": content}
    asked = str(history[-1].get("content", "")) if history else ""
    if retrieved is not None and not found and turns and turns[-1]["role"] == "user":
        if asks_for_information(asked):
            turns[-1] = {**turns[-1], "content": f"{turns[-1]['content']}\n\n({NO_KNOWLEDGE})"}
    budget = max_chars - _chars(head) - _chars(knowledge)
    turns = _trim(turns, budget)
    if knowledge and turns and turns[-1]["role"] == "user":
        return [*head, *turns[:-1], *knowledge, turns[-1]]
    return [*head, *turns, *knowledge]


def _message(m: Mapping[str, Any], i: int) -> Message:
    role = m.get("role")
    content = m.get("content")
    if not isinstance(content, str):
        raise InvalidInput("A history message needs text content.", ["history", i, "content"])
    if role in ("user", "assistant", "system"):
        return {"role": role, "content": content}
    if role == "tool":
        name = m.get("name") or "the action"
        return {"role": "system", "content": f"Result of {name}: {content}"}
    raise InvalidInput(
        f"History role must be user, assistant, system or tool, not {role!r}.",
        ["history", i, "role"],
    )


def _chars(messages: Sequence[Message]) -> int:
    return sum(len(m["content"]) + 16 for m in messages)


def _trim(turns: list[Message], budget: int) -> list[Message]:
    """Drop the oldest turns until the rest fits ``budget``; always keep the last one (cut
    down to the budget if it alone is too long), and never start on an assistant turn."""
    if not turns:
        return turns
    start = 0
    while start < len(turns) - 1 and _chars(turns[start:]) > budget:
        start += 1
    while start < len(turns) - 1 and turns[start]["role"] != "user":
        start += 1
    kept = turns[start:]
    if _chars(kept) > budget:
        last = kept[-1]
        kept = [{**last, "content": last["content"][-max(budget - 16, 200) :]}]
    return kept
