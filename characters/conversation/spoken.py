"""From a language model's streamed words to text ready to speak, and tool calls.

:class:`SpokenStream` sits between the model and text to speech. Feed it the model's deltas as
they come; it returns :class:`Speech` chunks as soon as a sentence is complete (the very first
chunk earlier: at a clause of a few words ending in a comma, semicolon, colon or dash, to cut the
time to first audio) and :class:`ToolCallEvent` s for the tool calls it finds.

On the way it removes what a voice must not read: markdown (emphasis, headings, list markers,
links, code blocks), emoji and symbols such as ``*``, ``#``, ``|``, ``<>`` and ``{}``. Lines that
end without punctuation (headings, list items) end a sentence. A call written as
``<call>{"name": ..., "arguments": {...}}</call>`` (or ``<tool_call>...</tool_call>``, which Qwen
models like to write) is never spoken; a malformed one is dropped with a warning. Native tool
calls from a remote engine arrive as :class:`~characters.conversation.prompt.ToolCall` objects
in the same stream.

The output depends only on the text, never on how it was split into deltas: anything that could
still turn into markup (``*`` before a second ``*``, ``<ca`` before ``ll>``) is held back until
the next delta decides it, and :meth:`SpokenStream.flush` decides the rest at the end.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from characters.conversation.prompt import ToolCall, ToolSpec
from characters.knowledge.keywords import STEM

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Speech:
    """Text ready for text to speech: a sentence, or the first clause of the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """The model called a tool."""

    call: ToolCall


SpokenEvent = Speech | ToolCallEvent

CALL_TAGS = {"<call>": "</call>", "<tool_call>": "</tool_call>"}
SENTENCE_END = ".!?…"
CLAUSE_END = ",;:"
CLOSERS = "\"')]”’»"
PHRASE_STARTS = frozenset(
    "from at on in for with behind until between after before near because but so and "
    "which who when where if".split()
)
"""Words that open a phrase: with ``first_phrase_words`` the first chunk may end before one."""
PREDICATE_STARTS = frozenset("is are was were".split())
"""Verbs after a longer subject ("The most famous painting | is The Green Heron."): the first
chunk may end before one, or before a figure ("A ticket costs | 12 dollars."), one word later
than before a phrase-opening word, where a speaker would also pause."""
DROPPED = set("*`~|\\{}^<>#[]_")
"""Characters never spoken (``_``, ``[``, ``]``, ``<`` are handled before this applies)."""
KEPT_SYMBOLS = set("°")
ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "vs",
    "jr",
    "sr",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
}
"""Words that end in a full stop without ending the sentence (lower case, no final dot)."""

_LIST_MARKER = re.compile(r"(?:[-*+•]|\d{1,3}[.)])[ \t]+")
_LIST_MARKER_PREFIX = re.compile(r"(?:[-*+•]|\d{1,3}[.)]?)")
_DECODER = json.JSONDecoder()
_SPACED_DASH = re.compile(r"(?:^|\s+)-+(?:\s+|$)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:…])")
_RULE = re.compile(r"([-*_=])(?:[ \t]*\1){2,}[ \t]*")
_RULE_PREFIX = re.compile(r"[-*_=][-*_= \t]*")


class SpokenStream:
    """Streaming parser: model deltas in, :class:`Speech` and :class:`ToolCallEvent` out.

    Args:
        first_phrase_words: when set, the first chunk may also end before a word that opens a
            phrase (:data:`PHRASE_STARTS`: "from", "at", "because", ...) once it has at least
            this many words: "We're open | from 8 am to 6 pm." starts speaking two words in;
            and before a verb or a figure (:data:`PREDICATE_STARTS`) one word later.
        first_clause_words: the first chunk may end at a clause boundary once it has at least
            this many words (later chunks are whole sentences).
        max_chunk_chars: a sentence longer than this is cut at its next clause boundary.
        tools: the session's tools; when given, calls of other tools are dropped with a
            warning and arguments the tool does not declare are removed.
        max_call_chars: a call still open after this many characters is dropped.
    """

    def __init__(
        self,
        *,
        first_clause_words: int = 4,
        first_phrase_words: int | None = None,
        max_chunk_chars: int = 240,
        tools: Sequence[ToolSpec] | None = None,
        max_call_chars: int = 4000,
    ) -> None:
        self.first_clause_words = first_clause_words
        self.first_phrase_words = first_phrase_words
        self.max_chunk_chars = max_chunk_chars
        self.tools = {t.name: t for t in tools} if tools is not None else None
        self.max_call_chars = max_call_chars
        self._pending = ""
        self._events: list[SpokenEvent] = []
        # markup state
        self._line_start = True
        self._line_has_text = False
        self._in_fence = False
        self._skip_line = False
        self._call_close: str | None = None
        self._last_char = ""
        # sentence state
        self._chunk = ""
        self._chunks_out = 0

    # public

    def feed(self, delta: str | ToolCall) -> list[SpokenEvent]:
        """Add a delta of model text (or a native tool call); the events now complete."""
        if isinstance(delta, ToolCall):
            self._end_chunk()
            self._call(delta)
        else:
            self._pending += delta
            self._run(final=False)
        return self._take()

    def flush(self) -> list[SpokenEvent]:
        """The end of the answer: every remaining event."""
        self._run(final=True)
        self._end_chunk()
        return self._take()

    def _take(self) -> list[SpokenEvent]:
        events, self._events = self._events, []
        return events

    # markup: raw text → clean characters

    def _run(self, *, final: bool) -> None:
        while self._pending:
            used = self._step(self._pending, final)
            if used == 0:
                return
            self._pending = self._pending[used:]

    def _step(self, s: str, final: bool) -> int:
        """Consume a prefix of ``s``; 0 means: wait for more text."""
        if self._call_close is not None:
            return self._step_call(s, final)
        if self._in_fence:
            return self._step_fence(s, final)
        if self._skip_line:
            end = s.find("\n")
            if end < 0:
                return len(s)
            self._skip_line = False
            self._newline()
            return end + 1
        if self._line_start:
            return self._step_line_start(s, final)
        return self._step_inline(s, final)

    def _step_call(self, s: str, final: bool) -> int:
        """Inside a call: up to its closing tag, or up to the end of its JSON object when the
        model forgets the tag."""
        close = self._call_close or ""
        end = s.find(close)
        if end >= 0:
            self._parse_call(s[:end])
            self._call_close = None
            return end + len(close)
        json_end = _json_object_end(s)
        if json_end is not None:
            rest = s[json_end:].lstrip()
            if rest or final:
                if close.startswith(rest) and not final:
                    return 0  # the closing tag is still coming
                self._parse_call(s[:json_end])
                self._call_close = None
                return json_end
        if len(s) > self.max_call_chars:
            log.warning("Dropped a tool call that did not end: %.80s", s)
            self._call_close = None
            self._skip_line = True
            return len(s)
        if not final:
            return 0
        self._parse_call(s)  # the answer ended inside a call that is not JSON
        self._call_close = None
        return len(s)

    def _step_fence(self, s: str, final: bool) -> int:
        end = s.find("```")
        if end >= 0:
            self._in_fence = False
            self._skip_line = True
            return end + 3
        keep = len(s) - len(s.rstrip("`"))
        return len(s) if final else len(s) - keep

    def _step_line_start(self, s: str, final: bool) -> int:
        """At the start of a line: drop indentation, list markers, rules and code fences."""
        c = s[0]
        if c in " \t\r":
            return 1
        if c == "\n":
            self._newline()
            return 1
        line = s.split("\n", 1)[0]
        complete = "\n" in s or final
        if s.startswith("```"):
            self._in_fence = True
            self._skip_line = True
            return 3
        if c == "`" and "```".startswith(line) and not complete:
            return 0
        if _RULE_PREFIX.fullmatch(line):
            if not complete:
                return 0
            if _RULE.fullmatch(line):
                self._skip_line = True
                return len(line)
        marker = _LIST_MARKER.match(s)
        if marker and (marker.end() < len(s) or final):
            self._line_start = False
            return marker.end()
        if (marker or _LIST_MARKER_PREFIX.fullmatch(s)) and not final:
            return 0
        self._line_start = False
        return self._step_inline(s, final)

    def _step_inline(self, s: str, final: bool) -> int:
        c = s[0]
        if c == "\n":
            self._newline()
            return 1
        if c == "<":
            return self._step_tag(s, final)
        if c == "]":
            if len(s) == 1 and not final:
                return 0
            if s[1:2] == "(":
                end = s.find(")")
                if end < 0:
                    return len(s) if final or len(s) > 500 else 0
                return end + 1
            return 1
        if c == "_":
            if len(s) == 1 and not final:
                return 0
            if self._last_char.isalnum() and s[1:2].isalnum():
                self._out(" ")
            return 1
        if c == "—":
            self._out(", ")
            return 1
        if c == "–":
            self._out("-")
            return 1
        if c in DROPPED or _is_emoji(c):
            return 1
        self._out(c)
        return 1

    def _step_tag(self, s: str, final: bool) -> int:
        for open_tag, close_tag in CALL_TAGS.items():
            if s.startswith(open_tag):
                self._end_chunk()
                self._call_close = close_tag
                return len(open_tag)
            if open_tag.startswith(s) and not final:
                return 0
        return 1

    def _newline(self) -> None:
        if self._line_has_text and self._last_char not in SENTENCE_END + CLAUSE_END + CLOSERS:
            self._out(".")
        self._out(" ")
        self._line_start = True
        self._line_has_text = False

    # tool calls

    def _parse_call(self, text: str) -> None:
        call = parse_call(text)
        if call is None:
            log.warning("Dropped a malformed tool call: %.200s", text.strip())
        elif self.tools is None:
            self._call(call)
        elif call.name not in self.tools:
            log.warning("Dropped a call of unknown tool %r", call.name)
        else:
            self._call(self.tools[call.name].clean_call(call))

    def _call(self, call: ToolCall) -> None:
        self._events.append(ToolCallEvent(call))

    # sentences: clean characters → speech chunks

    def _out(self, text: str) -> None:
        for ch in text:
            if ch.isspace():
                if self._chunk and not self._chunk.endswith(" "):
                    if self._boundary(self._chunk):
                        self._end_chunk()
                    elif self._phrase_split():
                        pass
                    else:
                        self._chunk += " "
            else:
                self._chunk += ch
                self._line_has_text = True
            if not ch.isspace():
                self._last_char = ch

    def _boundary(self, text: str) -> bool:
        """Whether the chunk may end here (whitespace follows ``text``)."""
        core = text.rstrip(CLOSERS)
        if not core:
            return False
        last = core[-1]
        if last in SENTENCE_END:
            return not (last == "." and _abbreviation(core))
        clause = last in CLAUSE_END or core.endswith(" -")
        if not clause:
            return False
        if self._chunks_out == 0:
            return len(text.split()) >= self.first_clause_words
        return len(text) >= self.max_chunk_chars

    def _phrase_split(self) -> bool:
        """End the first chunk before its last word when that word opens a phrase."""
        if self._chunks_out or self.first_phrase_words is None:
            return False
        head, _, last = self._chunk.rpartition(" ")
        if not head.strip():
            return False
        word = last.lower()
        if word in PHRASE_STARTS:
            least = self.first_phrase_words
        elif word in PREDICATE_STARTS or word[:1].isdigit():
            least = self.first_phrase_words + 1
        else:
            return False
        core = head.rstrip(CLOSERS)
        if len(head.split()) < least or not core[-1:].isalnum():
            return False
        self._chunk = head
        self._end_chunk()
        self._chunk = last + " "
        return True

    def _end_chunk(self) -> None:
        text = _tidy(self._chunk)
        self._chunk = ""
        if any(ch.isalnum() for ch in text):
            self._events.append(Speech(text))
            self._chunks_out += 1


def _json_object_end(s: str) -> int | None:
    """Where the JSON object at the start of ``s`` (after spaces) ends, if it is complete."""
    start = len(s) - len(s.lstrip())
    try:
        _, end = _DECODER.raw_decode(s, start)
    except json.JSONDecodeError:
        return None
    return end


def _tidy(text: str) -> str:
    """Collapse spaces, turn a spaced dash into a comma, drop spaces before punctuation."""
    text = " ".join(text.split())
    text = _SPACED_DASH.sub(", ", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip().lstrip(", ")


def _abbreviation(text: str) -> bool:
    word = text.rsplit(" ", 1)[-1].lstrip("(\"'").lower().rstrip(".")
    return word in ABBREVIATIONS


def _is_emoji(c: str) -> bool:
    if c in KEPT_SYMBOLS:
        return False
    if c in "\ufe0f\ufe0e\u20e3\u200d":
        return True
    return unicodedata.category(c) in ("So", "Sk", "Cf", "Co", "Cs", "Cn")


def parse_call(text: str) -> ToolCall | None:
    """A tool call from the JSON between call tags, or None when it is not one.

    Accepts ``{"name": ..., "arguments": {...}}`` (also ``args`` or ``parameters``), with the
    arguments as an object or as a JSON string of one (OpenAI style).
    """
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError:
        return None
    if not isinstance(data, Mapping):
        return None
    name = data.get("name")
    args: Any = next((data[k] for k in ("arguments", "args", "parameters") if k in data), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    if not isinstance(name, str) or not name or not isinstance(args, Mapping):
        return None
    return ToolCall(name=name, arguments=dict(args))


_LABEL = re.compile(r"([A-Z][\w'&-]*(?:,? [\w'&-]+){0,6}):(?: +|$)")
_WORD = re.compile(r"[a-z0-9']+")


def without_label(text: str, headings: Collection[str], asked: str = "") -> str:
    """``text`` (a chunk of an answer read from documents) without the label the model copied
    before it: a heading of the passages it read (``headings``, lower case: "Leave: Full-time
    staff get 27 days ..." → "Full-time staff get 27 days ..."), or, when ``asked`` (the
    question) is given, a short title made of its words, in any form (their first
    :data:`~characters.knowledge.keywords.STEM` letters: "Card cost: Cards are free." to "How
    much does a card cost?", "Closing times: ..." to "What time do you close?"). A voice
    reading a document's headings aloud sounds like one; nobody speaks so. ``""`` when the
    label was all of it."""
    m = _LABEL.match(text)
    if m is None:
        return text
    label = m.group(1).lower()
    words = _WORD.findall(label)
    stems = {w[:STEM] for w in _WORD.findall(asked.lower())}
    if (
        label in headings
        # "MARROWBY PUBLIC LIBRARY, MAKERSPACE RULES:" for "... - MAKERSPACE RULES"
        or any(_WORD.findall(h) == words for h in headings)
        or (stems and {w[:STEM] for w in words} <= stems)
    ):
        rest = text[m.end() :]
        return rest[:1].upper() + rest[1:]
    return text
