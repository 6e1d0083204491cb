"""Cutting a document into passages: a few sentences each, under the heading they belong to.

Passages are what retrieval finds and what the character reads with the user's question, so
they are short (about :data:`TARGET_TOKENS` word pieces, 2–4 sentences) and stand on their
own: each starts with its section's heading ("Opening hours: ..."), never spans two sections,
ends at a sentence end (a paragraph end when one is near), and a passage whose first sentence
refers back ("It carries foot passengers only.") also holds the sentence before it. Each
sentence of a passage is embedded too (:attr:`Passage.sentences`).

Markdown is read as text with its markup removed (``#`` headings become the section headings,
list markers, emphasis, link targets, table rules and pipes go); a PDF's layout line breaks are
joined back into sentences (and "exam-\\nple" into "example").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

TARGET_TOKENS = 64
"""Word pieces a passage grows to (sentences are added while it stays under this)."""
MAX_TOKENS = 160
"""Longest passage; a sentence longer than this is cut at word boundaries."""
MAX_HEADING_CHARS = 80

Counter = Callable[[Sequence[str]], list[int]]
"""Counts the word pieces of each text (:meth:`Embedder.count_tokens`)."""


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrievable piece of a document."""

    text: str
    """What the character reads: ``"<heading>: <sentences>"`` (no heading: the sentences)."""
    tokens: int
    sentences: tuple[str, ...] = ()
    """Its sentences, each with the heading, when it has more than one: each is embedded too,
    so that one fact among others is found by a question about it alone."""

    @property
    def embedded(self) -> list[str]:
        """The texts whose vectors stand for this passage: itself, then its sentences."""
        return [self.text, *self.sentences]


@dataclass(frozen=True, slots=True)
class _Unit:
    """A paragraph or list item, with its section heading (``""``: none)."""

    heading: str
    text: str
    under_title: bool = False
    """The heading is the document's title: the line the document opens with, a top-level
    heading in Markdown ("# Staff Handbook", not "## Boats")."""


_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^\s*(=+|-+)\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+•▪◦‣]|\d{1,3}[.)])\s+")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_CODE = re.compile(r"`([^`]*)`")
_SPACES = re.compile(r"[ \t\u00a0]+")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"\b(?:Dr|Mr|Mrs|Ms|St|Prof|Mt|No|vs|etc|approx|e\.g|i\.e|a\.m|p\.m|[A-Z])\.$"
)


def inline(text: str) -> str:
    """``text`` without Markdown's inline markup: emphasis, code ticks, link and image
    targets (their words stay)."""
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    for _ in range(2):  # nested: **_word_**
        text = _EMPHASIS.sub(r"\2", text)
    return _SPACES.sub(" ", text).strip()


def _units(text: str) -> Iterator[_Unit]:
    """Paragraphs and list items, in order, each with its heading."""
    heading = ""
    lines: list[str] = []
    item = False  # the lines are a list item's (its first line and those wrapped under it)

    def flush() -> Iterator[_Unit]:
        nonlocal item
        if lines:
            joined = _join_lines(lines)
            lines.clear()
            if joined:
                yield _Unit(heading, _ended(joined) if item else joined, title)
        item = False

    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    opening = next((i for i, line in enumerate(raw) if line.strip()), -1)
    title = False  # the heading is the line the document opens with
    in_code = False
    for i, line in enumerate(raw):
        if _FENCE.match(line):
            in_code = not in_code
            yield from flush()
            continue
        if in_code:
            lines.append(line)
            continue
        m = _HEADING.match(line)
        following = raw[i + 1] if i + 1 < len(raw) else ""
        if m or (line.strip() and not lines and _UNDERLINE.match(following)):
            yield from flush()
            heading = inline(m.group(2) if m else line).rstrip(":")[:MAX_HEADING_CHARS]
            title = i == opening and (m is None or len(m.group(1)) == 1)  # not "## Boats"
            continue
        if _UNDERLINE.match(line) and not lines:
            continue  # the rule under a Setext heading
        if not line.strip() or _TABLE_RULE.match(line):
            yield from flush()
            continue
        if _ITEM.match(line):
            yield from flush()
            lines.append(_ITEM.sub("", line))
            item = True
            continue
        if line.lstrip().startswith("|"):
            yield from flush()
            header = bool(_TABLE_RULE.match(following))
            cells = [c for c in (inline(c) for c in line.strip().strip("|").split("|")) if c]
            if cells and not (
                header and len(cells) == 2
            ):  # a key/value table's header says nothing
                row = ", ".join(cells) if header else f"{cells[0]}: {'; '.join(cells[1:])}"
                lines.append(_ended(row))
            yield from flush()
            continue
        if not lines and _looks_like_heading(line, following):
            heading = inline(line).rstrip(":")[:MAX_HEADING_CHARS]
            title = i == opening
            continue
        lines.append(line)
    yield from flush()


def _ended(text: str) -> str:
    """``text`` ending as a sentence (a list item or table row without a full stop)."""
    text = text.strip()
    return text if not text or text[-1] in ".!?;:" else text + "."


def _looks_like_heading(line: str, following: str) -> bool:
    """A plain-text heading: a short line of its own, not ending like a sentence, followed by a
    capitalised line or a blank one ("Opening hours", "FARES")."""
    text = line.strip()
    return (
        0 < len(text) <= 60
        and len(text.split()) <= 8
        and text[-1] not in ".,;!?"
        and (text[0].isupper() or text[0].isdigit())
        and (not following.strip() or following.strip()[0].isupper())
    )


def _join_lines(lines: list[str]) -> str:
    """One paragraph from its lines: layout breaks become spaces, "exam-" + "ple" is joined."""
    text = ""
    for line in (piece.strip() for piece in lines):
        if not line:
            continue
        if text.endswith("-") and line[:1].islower() and text[-2:-1].isalpha():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return inline(text)


def sentences(text: str) -> list[str]:
    """``text`` cut after each ``.``, ``!`` or ``?`` that ends a sentence (not after "Dr." or
    "e.g.")."""
    out: list[str] = []
    for piece in _SENTENCE.split(text):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return [s.strip() for s in out if s.strip()]


def _split_long(sentence: str, tokens: int, limit: int) -> list[str]:
    """A sentence of ``tokens`` word pieces in pieces of about ``limit``, at spaces."""
    words = sentence.split()
    parts = -(-tokens // limit)
    size = -(-len(words) // parts)
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def chunk(
    text: str,
    count: Counter,
    *,
    target: int = TARGET_TOKENS,
    limit: int = MAX_TOKENS,
) -> list[Passage]:
    """The passages of a document's text (:class:`Passage`), in the document's order."""
    units = list(_units(text))
    pieces: list[tuple[str, str, bool]] = []  # (heading, sentence, starts a paragraph)
    for unit in units:
        for i, sentence in enumerate(sentences(unit.text)):
            pieces.append((unit.heading, sentence, i == 0))
    sizes = count([p[1] for p in pieces]) if pieces else []
    heading_sizes = dict(zip(*_unique_counts([p[0] for p in pieces], count), strict=True))

    groups: list[tuple[str, list[str], int]] = []  # (heading, sentences, tokens)
    current: list[str] = []
    current_heading = ""
    used = 0

    def close() -> None:
        nonlocal used
        if current:
            last = groups[-1] if groups else None
            if (
                last is not None
                and last[0] == current_heading
                and used < target // 3
                and last[2] + used <= limit
            ):  # a short tail joins the passage before it
                groups[-1] = (last[0], last[1] + current, last[2] + used)
            else:
                groups.append((current_heading, list(current), used))
        current.clear()
        used = 0

    previous: tuple[str, str, int] | None = None  # (heading, sentence, tokens) just placed
    for (heading, sentence, opens), size in zip(pieces, sizes, strict=True):
        splits = [(sentence, size)]
        if size > limit:
            parts = _split_long(sentence, size, limit)
            splits = list(zip(parts, count(parts), strict=True))
        for piece, n in splits:
            new_section = heading != current_heading
            full = used + n > target
            paragraph_break = opens and used >= target // 2
            if current and (new_section or full or paragraph_break):
                close()
                if (
                    previous is not None
                    and previous[0] == heading
                    and _LEANS_BACK.match(piece)
                    and previous[2] + n <= limit
                ):  # "It carries foot passengers only.": the sentence it refers to comes too
                    current.append(previous[1])
                    used += previous[2]
            current_heading = heading
            current.append(piece)
            used += n
            previous = (heading, piece, n)
    close()
    title = next((u.heading for u in units if u.under_title), None)
    return [
        _passage(head, body, n + heading_sizes.get(head, 0), under_title=head == title)
        for head, body, n in groups
    ]


_LEANS_BACK = re.compile(r"(It|Its|They|Their|Them|This|These|That|Those|He|She|His|Her)\b")
"""A sentence opening like this refers to the one before it."""


def _passage(heading: str, body: list[str], tokens: int, *, under_title: bool) -> Passage:
    """A passage of ``body``'s sentences under ``heading``; its sentences are embedded with
    the heading too, unless it is the document's title (``under_title``): a title names the
    whole document, and a long one buries a sentence's meaning ("What's our intranet called?"
    and "The full policies are on the intranet, called Greenhouse." 0.53 alone, 0.34 after
    "Quillon Botanical Labs - Staff Handbook (short version):")."""

    def titled(text: str) -> str:
        return f"{heading}: {text}" if heading else text

    each = tuple(s if under_title else titled(s) for s in body) if len(body) > 1 else ()
    return Passage(titled(" ".join(body)), tokens, each)


def _unique_counts(texts: list[str], count: Counter) -> tuple[list[str], list[int]]:
    unique = [t for t in dict.fromkeys(texts) if t]
    return unique, (count(unique) if unique else [])
