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
conversation so far and the tools' names and descriptions. For a character without
documents, the conversation also
gives the persona sentence that answers the question (``answer``), the texts whose numbers an
answer may state (``numbers``) and the start script (``opening``): a yes/no answer against
that sentence (:func:`disagrees`), a missing figure, or the start script said again is
ungrounded, and words that only restate the question may be said before the verdict
(:meth:`Grounding.releasable`), and a number the question itself gave must be backed too;
docs/llm.md, "Answers checked against the persona". An answer that ends undecided or
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


_YES_NO = re.compile(
    r"^\W*(?:(?:so|and|but|well|ok|okay|oh)\W+)*(?:am|is|are|was|were|do|does|did|can|could|"
    r"will|would|shall|should|may|might|must|have|has|had|isn't|aren't|don't|doesn't|can't|"
    r"won't)\b|\b(?:right|correct|isn't it|aren't they|don't they|doesn't it|can't i|can i|"
    r"won't it|ok|okay|yes|true)\W*$",
    re.IGNORECASE,
)
_FIGURE = re.compile(
    r"\b(?:how (?:much|many|long|old|far|late|early|often)|what time|what times|what hours|"
    r"what age|which days?)\b",
    re.IGNORECASE,
)
_AGREES = re.compile(
    r"^\W*(?:yes|yeah|yep|sure|of course|absolutely|definitely|certainly|correct|right|that's "
    r"right|exactly|you can|you bet)\b",
    re.IGNORECASE,
)
_DENIES = re.compile(r"^\W*(?:no|nope|sorry|unfortunately|i'm afraid)\b", re.IGNORECASE)
_RESTRICTS = re.compile(
    r"\b(?:not|no|never|none|only|except|without|closed|cannot|can't|don't|doesn't|isn't|"
    r"aren't|won't|must|required|forbidden|prohibited|banned|until|up to|at most|before)\b",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _limits(text: str) -> set[str]:
    return {w.lower() for w in _RESTRICTS.findall(text)}


def is_yes_no(question: str) -> bool:
    """Whether ``question`` asks for a yes or a no ("Can I come on Saturday?", "It's free,
    right?"), in its last sentence."""
    last = re.split(r"(?<=[.!?])\s+", question.strip())[-1]
    return bool(_YES_NO.search(last.rstrip("?!. ")))


def disagrees(answer: str, fact: str, confirms: bool = True, question: str = "") -> bool:
    """Whether an answer to a yes/no question opens against ``fact``, the sentence that
    answers it: a plain "Yes"/"Sure" where the fact restricts (a limit, an exception, a "not":
    "The shop repairs bikes, but not scooters.") and the answer does not say that limit itself
    ("Yes, every day except Monday."; a limit the question names does not count), or a "No"
    where it does not restrict and ``confirms``, holds all the question asks ("Is it free?"
    after "Where can I park?", and "Parking is free behind the building."; but not "No, it
    takes 20 minutes." to "A flat tyre repair takes a whole day, right?"). The fact itself is then said, which is never wrong; over-reading a
    restriction costs only a less direct answer. With no such sentence (``fact`` empty), any
    "Yes" disagrees: nothing the character knows backs it ("Do you have free Wi-Fi?")."""
    if not fact:
        return bool(_AGREES.search(answer))
    restricts = bool(_RESTRICTS.search(fact))
    if _AGREES.search(answer):
        # "Yes, every day except Monday." says the fact's own limit (one the question did not).
        limits = _limits(fact) - _limits(question)
        return restricts and not limits & _limits(answer)
    if _DENIES.search(answer) or re.search(r"\b(?:not|never)\b|n't\b", answer, re.I):
        return confirms and not restricts
    return False


class Grounding:
    """The check of one answer (see the module docstring). Feed it the answer's chunks with
    :meth:`add`, and :meth:`finish` at its end; :attr:`held` are the chunks not yet said."""

    def __init__(
        self,
        question: str,
        known: Iterable[str],
        *,
        numbers: Iterable[str] | None = None,
        answer: str | None = None,
        confirms: bool = False,
        opening: str = "",
        release: bool = False,
    ) -> None:
        """``known``: what the character knows; ``numbers``: the only texts whose numbers an
        answer may state, the question's own included (default: ``known``, and a number the
        question gave may be repeated); ``answer``: the known sentence that answers the
        question (``""``: none does; ``None``: not looked for): a yes/no question's answer must
        agree with it (:func:`disagrees`; ``confirms``: that sentence holds everything the
        question asks about), and a question for a figure ("How much ...?", "What time ...?")
        must get one when that sentence has one; ``opening``: the character's start script,
        which an answer must not begin by repeating (the small model sometimes does);
        ``release``: an answer's first words may be said before the verdict when they only
        restate the question (:meth:`releasable`)."""
        self._asked_text = question
        self._question = set(terms(question))
        self._asked = self._question | FILLER
        self._sentences = [s for text in known for s in sentences(text)]
        self._known = {t for text in self._sentences for t in terms(text)}
        self._numbers_given = numbers is not None
        self._numbers = (
            {t for t in self._known if _is_number(t)}
            if numbers is None
            else {t for text in numbers for t in terms(text) if _is_number(t)}
        )
        self._answer = answer if answer is not None and is_yes_no(question) else None
        self._confirms = confirms
        self._release = release and not is_yes_no(question)
        self._figure = bool(
            answer and _FIGURE.search(question) and any(map(_is_number, terms(answer)))
        )
        """The question asks for a figure that the sentence answering it has."""
        first = _plain(sentences(opening)[0]) if opening.strip() else ""
        self._opening = f"{first} " if len(first.split()) >= 3 else None
        """The start script's first sentence, as words (a bare "Hi!" is not checked)."""
        self.held: list[str] = []
        self.verdict: bool | None = None
        """None: undecided; True: grounded; False: ungrounded."""

    def add(self, chunk: str) -> bool | None:
        """Take the next chunk of the answer; the verdict so far."""
        if self.verdict is None:
            self.held.append(chunk)
            self._judge(final=False)
        return self.verdict

    def releasable(self) -> list[str]:
        """Held chunks that may be said before the verdict (taken out of :attr:`held`): with
        ``release``, a question that is not yes/no, whose words so far only restate it ("The
        museum opens", "A ticket costs": no term of their own, no number, no "Yes"/"No", not
        the start script). The rest of the answer is still judged, and replaced if it fails
        (after the words already said): the first audio then comes as soon as it would
        unchecked, for a question that a known sentence answers."""
        if not self._release or self.verdict is not None or not self.held:
            return []
        said = " ".join(self.held)
        plain = _plain(said) + " "
        if (
            any(t not in self._asked or _is_number(t) for t in terms(said))
            or _AGREES.search(said)
            or _DENIES.search(said)
            or _NEGATIVE.search(said)
            or (self._opening and self._opening.startswith(plain))
        ):
            return []
        released, self.held = self.held, []
        return released

    def finish(self) -> bool | None:
        """The verdict once the answer has ended (None: it added nothing to the question)."""
        if self.verdict is None:
            self._judge(final=True)
        if self.verdict is None and self.held:
            self.verdict = self._echo_holds(" ".join(self.held))
        return self.verdict

    def _echo_holds(self, answer: str) -> bool | None:
        """An answer that adds nothing to the question: whether a known sentence says it."""
        if self._disagrees(answer):
            return False
        negative = bool(_NEGATIVE.search(answer))
        for sentence in self._sentences:
            missing = self._question - set(terms(sentence))
            if self._question and len(missing) <= ECHO_MISSING:
                return bool(_NEGATIVE.search(sentence)) == negative
        return None

    def _judge(self, *, final: bool) -> None:
        said = " ".join(self.held)
        if self._opening:
            plain = _plain(said) + " "
            if plain.startswith(self._opening) or (final and self._opening.startswith(plain)):
                self.verdict = False  # the start script again, not an answer
                return
            if self._opening.startswith(plain):
                return  # it may be: wait for more
        stated = terms(said)
        added = [t for t in stated if t not in self._asked]
        # With ``numbers`` (the persona), a number the question itself gave is checked too: "A
        # check-up is 40 dollars, right?" → "Yes, a check-up costs 40 dollars." is not backed
        # by "... costs 60 dollars".
        checked = stated if self._numbers_given else added
        invented_number = any(_is_number(t) and t not in self._numbers for t in checked)
        if invented_number:
            self.verdict = False
        elif self._figure and not any(map(_is_number, stated)):
            if final:  # "What time do you close?" → "The library is closed on Sundays."
                self.verdict = False
        elif len(added) >= MIN_TERMS or any(map(_is_number, added)) or (final and added):
            known = sum(t in self._known for t in added)
            self.verdict = known >= MIN_KNOWN * len(added)
            if self.verdict and self._disagrees(said):
                self.verdict = False

    def _disagrees(self, said: str) -> bool:
        return self._answer is not None and disagrees(
            said, self._answer, self._confirms, self._asked_text
        )
