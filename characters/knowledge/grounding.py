"""Whether an answer to a question comes from what the character knows.

Given the passage with the answer, the embedded 0.5B model still often echoes a yes/no question
("Can I wash the burrs with water?" → "Yes, you can wash the burrs with water.", where the
manual says never to) or invents ("The K7 comes in red, green and blue.", which no document
says). Both are visible in the words: an echo adds nothing to the question's own terms, an
invention adds terms that nothing the character knows contains.

:class:`Grounding` reads an answer as it streams. The terms it adds to the question's
(:func:`~characters.knowledge.keywords.terms`: content words, numbers, codes) decide:

* none yet ("Sure!", "Yes, you can wash the burrs with water."): undecided, the words are held;
  an answer that ends so is an echo, grounded only when a known sentence says what the
  question asks (all but :data:`ECHO_MISSING` of its terms) with the same polarity: "Yes, the
  gift shop has postcards." for "The gift shop sells postcards.", but not "Yes, you can wash
  the burrs with water." for "Never wash the burrs with water.";
* a number that nothing known contains, or fewer than :data:`MIN_KNOWN` of them known:
  **ungrounded**;
* otherwise **grounded**: the held words are said, and the rest of the answer is not checked.

What is known: the passages found for the question, the persona, the start script, the
conversation so far and the tools' names and descriptions. An answer that ends undecided or
ungrounded is replaced (by the engine) with the passages' sentence closest to the question
(:meth:`~characters.knowledge.index.KnowledgeIndex.best_sentence`), or the unknown line when no
sentence is close enough. See docs/knowledge.md ("Grounded answers").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from characters.knowledge.chunking import sentences
from characters.knowledge.keywords import terms

MIN_KNOWN = 0.5
"""Share of an answer's own terms that must be known for it to be grounded."""
MIN_TERMS = 2
"""Terms an answer must add before it is judged (a number alone is enough), until it ends."""

ECHO_MISSING = 0
"""Terms of the question a known sentence may lack and still support an echo."""

_NEGATIVE = re.compile(
    r"\b(no|not|never|none|nobody|nothing|cannot|can't|don't|doesn't|isn't|aren't|won't|mustn't|"
    r"forbidden|prohibited|banned)\b|n't\b",
    re.IGNORECASE,
)

FILLER = frozenset(
    """sure great question course well absolutely certainly happy help glad good sorry welcome
    actually really definitely indeed right fine oh ah um let check see think say said mean
    find need way thing something anything everything one""".split()
)
"""Words an answer adds without saying anything about the question."""


def _is_number(term: str) -> bool:
    return term[:1].isdigit()


class Grounding:
    """The check of one answer (see the module docstring). Feed it the answer's chunks with
    :meth:`add`, and :meth:`finish` at its end; :attr:`held` are the chunks not yet said."""

    def __init__(self, question: str, known: Iterable[str]) -> None:
        self._question = set(terms(question))
        self._asked = self._question | FILLER
        self._sentences = [s for text in known for s in sentences(text)]
        self._known = {t for text in self._sentences for t in terms(text)}
        self.held: list[str] = []
        self.verdict: bool | None = None
        """None: undecided; True: grounded; False: ungrounded."""

    def add(self, chunk: str) -> bool | None:
        """Take the next chunk of the answer; the verdict so far."""
        if self.verdict is None:
            self.held.append(chunk)
            self._judge(final=False)
        return self.verdict

    def finish(self) -> bool | None:
        """The verdict once the answer has ended (None: it added nothing to the question)."""
        if self.verdict is None:
            self._judge(final=True)
        if self.verdict is None and self.held:
            self.verdict = self._echo_holds(" ".join(self.held))
        return self.verdict

    def _echo_holds(self, answer: str) -> bool | None:
        """An answer that adds nothing to the question: whether a known sentence says it."""
        negative = bool(_NEGATIVE.search(answer))
        for sentence in self._sentences:
            missing = self._question - set(terms(sentence))
            if self._question and len(missing) <= ECHO_MISSING:
                return bool(_NEGATIVE.search(sentence)) == negative
        return None

    def _judge(self, *, final: bool) -> None:
        added = [t for t in terms(" ".join(self.held)) if t not in self._asked]
        invented_number = any(_is_number(t) and t not in self._known for t in added)
        if invented_number:
            self.verdict = False
        elif len(added) >= MIN_TERMS or any(map(_is_number, added)) or (final and added):
            known = sum(t in self._known for t in added)
            self.verdict = known >= MIN_KNOWN * len(added)
