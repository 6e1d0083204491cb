"""What the character has said so far, word by word, on the clock of its own audio.

The conversation engine hands over speech in pieces: a piece of text (a clause or a sentence)
with its audio, which may come in several chunks. :class:`Captions` spreads each piece's words
over that piece's audio in proportion to their length, and :meth:`Captions.advance` returns the
words whose time has come as playback passes them. So the live transcript shows what the user
has heard, and when the user cuts in, what was never played is never shown nor remembered.

Positions are samples of the voice's own clock (the face generator's), counted from the first
sample ever queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Piece:
    turn: int
    words: list[str]
    ends: list[float]
    """Cumulative share of the piece's characters at the start of each word (0 … <1)."""
    start: int
    length: int = 0
    shown: int = 0


@dataclass
class Captions:
    """The character's words, released as their audio plays."""

    _pieces: list[_Piece] = field(default_factory=list)
    said: dict[int, list[str]] = field(default_factory=dict)
    """Turn → the words heard so far."""

    def add(self, turn: int, text: str, start: int, length: int) -> None:
        """Audio ``[start, start + length)`` of ``turn``; ``text`` opens a new piece, empty text
        continues the current one."""
        if text.strip():
            words = text.split()
            total = sum(len(w) + 1 for w in words)
            offsets, acc = [], 0
            for w in words:
                offsets.append(acc / total)
                acc += len(w) + 1
            self._pieces.append(_Piece(turn, words, offsets, start, length))
        elif self._pieces and self._pieces[-1].turn == turn:
            self._pieces[-1].length += length

    def advance(self, position: int) -> list[tuple[int, str]]:
        """Words whose audio starts before ``position``, as (turn, word); :meth:`say` them when
        their audio is played."""
        out: list[tuple[int, str]] = []
        while self._pieces:
            piece = self._pieces[0]
            while piece.shown < len(piece.words):
                at = piece.start + piece.ends[piece.shown] * piece.length
                if at > position:
                    break
                out.append((piece.turn, piece.words[piece.shown]))
                piece.shown += 1
            if piece.shown < len(piece.words):
                break
            self._pieces.pop(0)
        return out

    def drop(self) -> None:
        """Forget everything not yet released (barge-in)."""
        self._pieces.clear()

    def text(self, turn: int) -> str:
        """What was heard of ``turn``."""
        return " ".join(self.said.get(turn, []))

    def pending(self) -> bool:
        return bool(self._pieces)

    def say(self, turn: int, word: str) -> str:
        """The word was heard: it joins the turn's text; the delta for the live transcript (a
        leading space except for the turn's first word)."""
        words = self.said.setdefault(turn, [])
        words.append(word)
        return word if len(words) == 1 else " " + word
