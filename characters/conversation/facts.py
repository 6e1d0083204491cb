"""The persona's facts that bear on a question, picked by word overlap.

A small model answers from what sits right next to the question far more reliably than from a
paragraph at the top of the prompt: asked "Can I come in on Saturday morning?" with the persona
"... closed at weekends" only in the system prompt, Qwen2.5 0.5B said "Yes, I can come in.";
with "The clinic is open from 8 am to 6 pm, Monday to Friday, and closed at weekends." repeated
just before the question it said no. :func:`persona_facts` cuts a personality into sentences;
:func:`relevant_facts` ranks them against the user's words (and the previous user turn, for
follow-ups such as "Is it free?"), by shared content words and shared topics (a question about
"Saturday" matches a fact about "weekends", "how much" one about "dollars"). Pure Python,
microseconds per question; the knowledge base (``Conversation.retrieve``) adds its passages
beside these. :func:`coverage` tells whether anything the character knows (persona, memory,
tools) is about a question its documents do not cover.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")
_ABBREVIATION = re.compile(r"\b(Dr|Mr|Mrs|Ms|St|Prof|Mt|No|vs|e\.g|i\.e|a\.m|p\.m)\.$", re.I)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

STOPWORDS = frozenset(
    """a an the and or but if of at by for with about to from in on into over under up down is
    are was were be been being am do does did done have has had having i you he she it we they
    me him her us them my your his its our their this that these those there here what which who
    whom whose can could will would shall should may might must not no yes so than too very just
    also any some all each every other such only own same as then once again out off more most
    much many how why where when tell please know want like get got go going come coming right
    isn't aren't don't doesn't can't won't i'm you're it's we're there's that's let let's okay
    ok hi hello hey thanks thank""".split()
)
"""Words that say nothing about which fact is meant (question words are matched by
:data:`TOPICS` instead)."""

TOPICS: dict[str, frozenset[str]] = {
    "time": frozenset(
        """open opens opening close closes closed closing hour hours when time times today
        tomorrow tonight day days daily weekday weekdays weekend weekends morning afternoon
        evening night monday mondays tuesday tuesdays wednesday wednesdays thursday thursdays
        friday fridays saturday saturdays sunday sundays am pm o'clock early late holiday
        holidays""".split()
    ),
    "price": frozenset(
        """cost costs price prices priced much pay paying paid fee fees dollar dollars euro
        euros pound pounds cheap expensive charge charges free ticket tickets cash card cards
        money afford""".split()
    ),
    "place": frozenset(
        """where address street road located location find floor building parking park near
        nearby directions""".split()
    ),
    "duration": frozenset(
        """long minutes minute hours days weeks week months month keep takes take wait
        while""".split()
    ),
    "repair": frozenset(
        """fix fixes fixing repair repairs repaired mend broken service services""".split()
    ),
    "people": frozenset(
        """who name names staff dentist dentists doctor doctors owner manager guide team
        person people""".split()
    ),
}
"""Word groups that make a question and a fact about the same thing without sharing a word."""


def persona_facts(personality: str | None) -> list[str]:
    """The personality's sentences, in order (not cut after "Dr." or "a.m.")."""
    text = " ".join((personality or "").split())
    if not text:
        return []
    facts: list[str] = []
    for piece in _SENTENCE.split(text):
        if facts and _ABBREVIATION.search(facts[-1]):
            facts[-1] = f"{facts[-1]} {piece}"
        else:
            facts.append(piece)
    return [f for f in (s.strip() for s in facts) if f]


def _stem(word: str) -> str:
    """A crude English stem, enough to match "pieces" with "piece" and "repairs" with
    "repair"."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    return list(_WORD.findall(text.lower().replace("\u2019", "'")))


def _terms(text: str) -> set[str]:
    """Content-word stems and topic names of ``text``."""
    words = _words(text)
    terms = {_stem(w) for w in words if w not in STOPWORDS}
    terms |= {f"#{topic}" for topic, group in TOPICS.items() if any(w in group for w in words)}
    return terms


def relevant_facts(
    facts: Sequence[str], question: str, *, context: str = "", limit: int = 2
) -> list[str]:
    """The (at most ``limit``) facts that share the most with ``question``, in their original
    order. A shared term weighs more the fewer facts have it (inverse document frequency: "star"
    beats "museum" in a museum guide's persona); words of ``context`` (the previous user turn)
    count half. Facts scoring under half the best one are left out, and facts sharing nothing
    are never returned, so an off-topic question gets none."""
    asked = _terms(question)
    before = _terms(context) - asked
    per_fact = [_terms(f) for f in facts]
    df: dict[str, int] = {}
    for terms in per_fact:
        for term in terms:
            df[term] = df.get(term, 0) + 1
    n = len(facts)

    def weight(term: str) -> float:
        return math.log((n + 1) / (df[term] + 0.5))

    scored: list[tuple[float, int]] = []
    for i, terms in enumerate(per_fact):
        score = sum(weight(t) for t in asked & terms)
        score += 0.5 * sum(weight(t) for t in before & terms)
        if score > 0:
            scored.append((score, i))
    if not scored:
        return []
    top = max(s for s, _ in scored)
    best = sorted((s for s in scored if s[0] >= top / 2), key=lambda s: (-s[0], s[1]))[:limit]
    return [facts[i] for _, i in sorted(best, key=lambda s: s[1])]


def coverage(sources: Sequence[str], question: str) -> float:
    """The largest share of the question's content words (and topics) that one of ``sources``
    has: 1.0 when some source mentions everything the question is about, 0.0 when none shares
    anything. A question without content words ("What is it?") counts as covered."""
    asked = _terms(question)
    if not asked:
        return 1.0
    return max((len(asked & _terms(s)) / len(asked) for s in sources), default=0.0)
