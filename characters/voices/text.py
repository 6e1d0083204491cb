"""Splitting text into the pieces an engine speaks one at a time (for streaming).

Every engine synthesizes one piece per call and yields its audio before starting the next, so the
first piece decides the time to first audio: when the first sentence is long it is cut at its
first clause boundary (comma, semicolon, colon, dash). Very long sentences are cut the same way
(then between words) so no piece exceeds what an engine takes in one go.
"""

from __future__ import annotations

import re

FIRST_PIECE_CHARS = 32
"""A first sentence longer than this is cut at a clause boundary, to start speaking sooner."""
MIN_CLAUSE_CHARS = 12
"""Never cut off a clause shorter than this (it would sound clipped)."""
MAX_PIECE_CHARS = 220
"""Longer sentences are cut at clause boundaries, then between words (Kokoro takes at most 510
phonemes per call, about 250 characters of English)."""

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n\s*\n?")
_CLAUSE_END = re.compile(r"[,;:—–](?=\s)|\s[-—–]\s")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, whitespace normalised, empty ones dropped."""
    parts = _SENTENCE_END.split(text)
    return [" ".join(p.split()) for p in parts if p and p.strip()]


def _cut_at_clause(sentence: str, limit: int) -> tuple[str, str] | None:
    """The sentence cut after its first clause boundary within ``limit`` characters."""
    for m in _CLAUSE_END.finditer(sentence):
        end = m.end()
        if end > limit:
            break
        head, tail = sentence[:end].strip(), sentence[end:].strip()
        if len(head) >= MIN_CLAUSE_CHARS and len(tail) >= MIN_CLAUSE_CHARS:
            return head, tail
    return None


def _cut_at_word(sentence: str, limit: int) -> tuple[str, str]:
    cut = sentence.rfind(" ", 0, limit)
    if cut <= 0:
        cut = limit
    return sentence[:cut].strip(), sentence[cut:].strip()


def _bounded(sentence: str) -> list[str]:
    """The sentence in pieces of at most :data:`MAX_PIECE_CHARS`."""
    out: list[str] = []
    rest = sentence
    while len(rest) > MAX_PIECE_CHARS:
        cut = _cut_at_clause(rest, MAX_PIECE_CHARS) or _cut_at_word(rest, MAX_PIECE_CHARS)
        out.append(cut[0])
        rest = cut[1]
    if rest:
        out.append(rest)
    return out


def split_for_speech(text: str) -> list[str]:
    """The pieces to synthesize in order: sentences, the first one short, none too long."""
    pieces = [p for s in split_sentences(text) for p in _bounded(s)]
    if pieces and len(pieces[0]) > FIRST_PIECE_CHARS:
        cut = _cut_at_clause(pieces[0], len(pieces[0]))
        if cut is not None:
            pieces[0:1] = list(cut)
    return pieces
