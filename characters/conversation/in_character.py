"""Words that break character, in an answer the answer check does not read.

Small talk ("Hi Vesna, my daughter is obsessed with the planets!") is not checked against what
the character knows (:mod:`characters.knowledge.grounding` reads answers to questions), and the
small embedded model sometimes answers it as the assistant it was trained to be: "Sorry, but as
an AI language model, I don't have personal experiences or emotions.", "I'm not sure what you
mean by 'morning Otto!'. Could you please clarify your question?", or speaks of itself by name
("Vesna has a telescope ..."). :class:`InCharacter` reads each chunk before it is said; the
engine stops the model at the first that breaks character and, when nothing was said yet,
says ``in_character_line`` instead.
"""

from __future__ import annotations

import re

from characters.knowledge.grounding import third_person

_BREAKS = re.compile(
    r"\b(?:as|i'm|i am|being) (?:just |only )?an? (?:ai|a\.i\.|artificial intelligence|"
    r"(?:large )?language model|virtual assistant|chatbot|computer program)\b|"
    r"\blanguage model\b|"
    r"\bi (?:don't|do not) have (?:any )?(?:personal )?(?:experiences|feelings|emotions|"
    r"opinions|a body)\b|"
    r"\b(?:not sure|don't understand|do not understand) what you mean\b|"
    r"\b(?:please )?clarify your (?:question|request)\b|"
    r"\b(?:don't|do not) understand (?:your|the) (?:question|request)\b",
    re.IGNORECASE,
)
"""What the model says as an assistant, not as the character."""


class InCharacter:
    """The check of one answer's chunks for words that break character (:data:`_BREAKS`, or
    the character's own name in the third person)."""

    def __init__(self, name: str) -> None:
        self._name = third_person(name)

    def breaks(self, chunk: str) -> bool:
        """Whether ``chunk`` breaks character."""
        return bool(_BREAKS.search(chunk)) or bool(self._name and self._name.search(chunk))
