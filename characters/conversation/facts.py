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
tools) is about a question its documents do not cover; :func:`answering_facts` picks the sentence
that may replace an answer the persona does not back (:mod:`characters.knowledge.grounding`),
said in the character's own voice (:func:`first_person`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from characters.knowledge.keywords import IRREGULAR

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
        holidays shut shuts till until noon midnight""".split()
    ),
    "price": frozenset(
        """cost costs price prices priced much pay paying paid fee fees dollar dollars euro
        euros pound pounds cheap expensive charge charges free ticket tickets cash card cards
        money afford rate rates nightly""".split()
    ),
    "place": frozenset(
        """where address street road located location find floor building near nearby
        directions""".split()
    ),
    "duration": frozenset(
        """long minutes minute hour hours day days weeks week months month keep takes take
        wait while""".split()
    ),
    "age": frozenset(
        """child children kid kids adult adults baby babies toddler toddlers teen teens
        teenager teenagers senior seniors grown family families age ages old young son sons
        daughter daughters boy boys girl girls nephew nephews niece nieces grandson
        granddaughter grandchildren""".split()
    ),
    "repair": frozenset(
        """fix fixes fixing repair repairs repaired mend broken service services""".split()
    ),
    "booking": frozenset(
        """book books booking booked ahead advance beforehand notice reserve reserved
        reservation reservations appointment appointments""".split()
    ),
    "refund": frozenset(
        """refund refunds refunded refundable cancel cancels cancelled canceled cancelling
        cancellation cancellations reimburse reimbursed""".split()
    ),
    "limit": frozenset(
        """minimum maximum least most limit limits limited max min capacity""".split()
    ),
    "people": frozenset(
        """who name names staff dentist dentists doctor doctors owner manager guide team
        person people instructor instructors teacher teachers coach coaches trainer trainers
        stylist stylists hairdresser hairdressers vet vets nurse nurses host hosts attendant
        attendants employee employees work works working""".split()
    ),
}
"""Word groups that make a question and a fact about the same thing without sharing a word."""


_POINTS_BACK = re.compile(r"(?:These|Those|This|That|Such|Both)\b(?! is\b| was\b)")
"""The opening of a sentence that says more of the one before it ("A tent pitch costs 22
dollars a night. *These prices* are for up to 2 people; each extra person costs 6 dollars.")."""


def persona_facts(personality: str | None) -> list[str]:
    """The personality's sentences, in order (not cut after "Dr." or "a.m."); a sentence that
    points back ("These prices are for up to 2 people ...", :data:`_POINTS_BACK`) stays with
    the one before it: it answers nothing alone."""
    text = " ".join((personality or "").split())
    if not text:
        return []
    facts: list[str] = []
    for piece in _SENTENCE.split(text):
        if facts and (_ABBREVIATION.search(facts[-1]) or _POINTS_BACK.match(piece)):
            facts[-1] = f"{facts[-1]} {piece}"
        else:
            facts.append(piece)
    return [f for f in (s.strip() for s in facts) if f]


def _stem(word: str) -> str:
    """A crude English stem, enough to match "pieces" with "piece", "repairs" with "repair",
    "closed" with "close" and "swimming" with "swim"; irregular forms are looked up ("paid" is
    "pay": :data:`~characters.knowledge.keywords.IRREGULAR`)."""
    if word.endswith("'s"):
        word = word[:-2]
    if word in IRREGULAR:
        return IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            if word.endswith("ell") and len(word) >= 6:
                return word[:-1]  # "cancelled", "travelling" (not "spelled")
            return word[:-1] if word[-1] == word[-2] and word[-1] not in "aeiousl" else word
    return word[:-1] if len(word) > 4 and word.endswith("e") and word[-2] != "e" else word


def _words(text: str) -> list[str]:
    return list(_WORD.findall(text.lower().replace("\u2019", "'")))


def _terms(text: str) -> set[str]:
    """Content-word stems and topic names of ``text``."""
    words = _words(text)
    terms = {_stem(w) for w in words if w not in STOPWORDS}
    terms |= {f"#{topic}" for topic, group in TOPICS.items() if any(w in group for w in words)}
    return terms


def relevant_facts(
    facts: Sequence[str],
    question: str,
    *,
    context: str = "",
    limit: int = 2,
    best_first: bool = False,
) -> list[str]:
    """The (at most ``limit``) facts that share the most with ``question``, in their original
    order. A shared term weighs more the fewer facts have it (inverse document frequency: "star"
    beats "museum" in a museum guide's persona); words of ``context`` (the previous user turn)
    count half. Facts scoring under half the best one are left out, and facts sharing nothing
    are never returned, so an off-topic question gets none. ``best_first``: best first instead
    of in their order."""
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
    return [facts[i] for _, i in (best if best_first else sorted(best, key=lambda s: s[1]))]


JUDGEMENTS = frozenset(
    """fine ok okay allowed possible available true correct sure really still also even
    enough without optional required necessary needed mandatory compulsory one two three four
    five six seven eight nine ten eleven twelve""".split()
)
"""Words a question uses to ask whether something holds ("So flash photography is fine, isn't
it?"), and numbers in words (a leading question's figure): what it is about is the rest."""

FILLERS = frozenset(
    """actually really roughly usually normally generally basically approximately probably
    maybe perhaps well lovely great brilliant perfect cool wonderful awesome nice good alright
    oh ah um uh er hmm wow cheers anyway haven't hasn't hadn't wasn't weren't wouldn't
    shouldn't couldn't didn't mustn't shan't""".split()
)
"""Words that carry the way a question is said, not what it asks ("*Roughly* how long ...",
"*Lovely.* Do you charge for that?", "You do cats as *well*, don't you?")."""

_CONTRACTION = re.compile(
    r"^(?:i|you|he|she|it|we|they|there|here|who|what|where|when|how|that)'\w+$"
)
"""A pronoun or question word with its verb ("what's", "I've", "we'll", "she's")."""

_WEEKDAY = re.compile(r"\b(days?) of the week\b", re.I)
""""Which day of the week ...", which asks for a day, not a week."""

GENERIC = frozenset(
    """happen happens happened need needs use using used bring bringing extra anything
    something thing things kind sort way somewhere anyone someone""".split()
)
"""Words that frame a question rather than say what it is about ("What *happens* if I lose a
piece?", "Can I *bring* my dog?")."""

ANSWERS_SHARE = 0.5
"""Share of a question's weight (its content words, each by its rarity among the facts) that a
fact must hold to answer it (:func:`answering_facts`)."""


def _asked(question: str) -> list[str]:
    """What ``question`` is about: its content words, without judgements ("fine", "allowed"),
    fillers (:data:`FILLERS`, "what's", "we'll") and numbers (a leading question's wrong
    figure, "A check-up is 40 dollars, right?", is what the answer corrects)."""
    words = dict.fromkeys(_words(_WEEKDAY.sub(r"\1", question)))
    return [
        w
        for w in words
        if w not in STOPWORDS
        and w not in JUDGEMENTS
        and w not in GENERIC
        and w not in FILLERS
        and not _CONTRACTION.match(w)
        and not w[:1].isdigit()
    ]


def _last_sentence(text: str) -> str:
    """The question proper of "I live in the next town. What would a card cost me?"; the
    whole text when the last sentence names nothing (:func:`_asked`: "... we'll take one of
    your motor boats. You've got those, haven't you?")."""
    pieces = [p for p in _SENTENCE.split(text.strip()) if re.search(r"\w", p)]
    return pieces[-1] if pieces and _asked(pieces[-1]) else text


def _holder(text: str) -> set[str]:
    """The stems and topic names of ``text``: what :func:`_holds` looks a word up in."""
    words = _words(text)
    return {_stem(w) for w in words} | {
        f"#{topic}" for topic, group in TOPICS.items() if any(w in group for w in words)
    }


def _holds(holder: set[str], word: str) -> bool:
    """Whether a text (its :func:`_holder`) has ``word``, or a word of the same topic ("Saturday"
    is held by "closed at weekends")."""
    word = word.removesuffix("'s")
    return _stem(word) in holder or (
        word not in THINGS
        and any(f"#{topic}" in holder and word in group for topic, group in TOPICS.items())
    )


THINGS = frozenset("cash card cards ticket tickets money".split())
"""Words of a topic that name a thing rather than ask about the topic: held by their own word
only ("Do they take cash at the ticket office?" is not answered by "Tickets can be booked
online or at the ticket office", though both are about paying)."""


def coverage(sources: Sequence[str], question: str) -> float:
    """The largest share of what the question is about (:func:`_asked`) that one of ``sources``
    holds (:func:`_holds`): 1.0 when some source mentions everything the question is about, 0.0
    when none shares anything. A question without content words ("What is it?") counts as
    covered."""
    asked = _asked(question)
    if not asked:
        return 1.0
    holders = [_holder(s) for s in sources]
    return max((sum(_holds(h, w) for w in asked) / len(asked) for h in holders), default=0.0)


def unheld(source: str, question: str, others: Sequence[str] = ()) -> list[str]:
    """What the question is about (:func:`_asked`) that ``source`` does not hold
    (:func:`_holds`); with ``others``, only the words that one of them holds (a word nothing
    known holds, "jab" in "How much is my cat's yearly jab?", tells no sentence from another;
    "dog" in "What does it cost to have a dog neutered?" does, beside a cat's price)."""
    holder = _holder(source)
    missing = [w for w in _asked(question) if not _holds(holder, w)]
    if others:
        holders = [_holder(o) for o in others]
        missing = [w for w in missing if any(_holds(h, w) for h in holders)]
    return missing


def asked_words(question: str) -> list[str]:
    """What ``question`` is about: its content words, without judgements, fillers and numbers
    (:func:`_asked`)."""
    return _asked(question)


def unknown_words(known: Sequence[str], question: str) -> list[str]:
    """What the question is about (:func:`_asked`) that none of ``known`` holds, even through a
    topic: "spices" in "Can I grind spices in the K7?", but not "Wednesdays" beside "open
    Monday to Friday"."""
    holders = [_holder(k) for k in known]
    return [w for w in _asked(question) if not any(_holds(h, w) for h in holders)]


_ASKED_THING = re.compile(
    r"\b(?:what|which)\s+(?:(?:kinds?|sorts?|types?)\s+of\s+)?([a-z][a-z'-]*)", re.IGNORECASE
)
"""The thing a question asks which one of: "What *make* of car ...?", "Which *colours* ...?"."""


def unknown_thing(known: Sequence[str], question: str) -> str | None:
    """The thing a what/which question asks which one of ("What make of car would I be
    learning in?": "make"), when none of ``known`` holds it (:func:`unknown_words`): no answer
    can name one. None for another question, or a thing something known holds ("Which bus
    goes to the baths?" beside "Bus 14 stops at the door.")."""
    m = _ASKED_THING.search(_last_sentence(question))
    if m is None:
        return None
    word = m.group(1).lower()
    if word not in _asked(question):
        return None  # "What would I pay ...?", "Which day of the week ...?" ("day" is known)
    return word if word in unknown_words(known, question) else None


def modifiers_unheld(source: str, question: str) -> list[str]:
    """The words of :func:`unheld` that stand right before a word ``source`` holds: what may
    set the question's thing apart from the source's ("*part*-time" against "full-time",
    "*public* holidays" against the opening days, "a *single* room" against "a double room")."""
    holder = _holder(source)
    missing = set(unheld(source, question))
    words = [w for w in _words(question.replace("-", " ")) if not w[:1].isdigit()]
    return [
        w
        for w, after in zip(words, words[1:], strict=False)
        if w in missing and after not in STOPWORDS and _holds(holder, after)
    ]


def answering_facts(
    facts: Sequence[str], question: str, *, context: str = "", limit: int = 1
) -> list[str]:
    """The facts that answer ``question`` (best first, at most ``limit``): the most relevant
    facts (:func:`relevant_facts`, ``context`` being the previous user turn) that hold
    (:func:`_holds`) at least :data:`ANSWERS_SHARE` of what the question is about, each word
    weighed by its rarity among the facts: a word no fact has ("How *deep* is the pool?")
    outweighs one most facts share ("pool"). Only the question's last sentence counts ("I live
    in the next town. What would a card cost me?"). Empty: no fact answers it."""
    if not _asked(question):
        return []
    stated = [f for f in facts if is_fact(f)]  # not "You are Tomas, the ticket clerk."
    found = relevant_facts(stated, question, context=context, limit=limit, best_first=True)
    shares = held_shares(facts, question)
    return [fact for fact in found if shares[facts.index(fact)] >= ANSWERS_SHARE]


def held_shares(facts: Sequence[str], question: str) -> list[float]:
    """For each fact, the share of what the question's last sentence is about that it holds
    (:func:`_holds`), each word weighed by its rarity among the facts (0–1; 1.0 for every fact
    when the question names nothing)."""
    asked = _asked(_last_sentence(question))
    if not asked:
        return [1.0] * len(facts)
    per_fact = [_holder(f) for f in facts]

    def weight(word: str) -> float:
        df = sum(_holds(holder, word) for holder in per_fact)
        return math.log((len(facts) + 1) / (df + 0.5))

    weights = [weight(w) for w in asked]
    total = sum(weights)
    return [
        sum(x for w, x in zip(asked, weights, strict=True) if _holds(h, w)) / total
        for h in per_fact
    ]


def is_fact(sentence: str) -> bool:
    """Whether a persona sentence states a fact about the character's world rather than tells
    the character who to be or how to talk ("You are Bella, ...", "Keep answers short."): by
    its first word (:data:`_INSTRUCTIONS`)."""
    words = _words(sentence)
    return bool(words) and words[0] not in _INSTRUCTIONS


_INSTRUCTIONS = frozenset(
    """you your you're be keep speak talk answer always never use say reply respond act stay
    avoid don't do try remember greet tell mention offer make give let pretend introduce
    refer sound sing joke stick focus""".split()
)
"""First words of a persona sentence that tells the character who to be or how to talk."""

_SECOND_PERSON = (
    (re.compile(r"\byou are\b", re.I), "I am"),
    (re.compile(r"\byou're\b", re.I), "I'm"),
    (re.compile(r"\byou have\b", re.I), "I have"),
    (re.compile(r"\byou've\b", re.I), "I've"),
    (re.compile(r"\byourself\b", re.I), "myself"),
    (re.compile(r"\byours\b", re.I), "mine"),
    (re.compile(r"\byour\b", re.I), "my"),
    (
        re.compile(r"(^|\b(?:and|but|so|when|if|that|because|where|as|until|while) )you\b", re.I),
        r"\1I",
    ),
    (re.compile(r"\byou\b", re.I), "me"),
)


_LABEL = re.compile(r"^[A-Z][\w ]{0,30}:\s+(?=\w)")
"""A label before a persona sentence ("Facts: the museum opens at 9 am ...")."""


def first_person(sentence: str) -> str:
    """A persona sentence as the character would say it: "You are Milo, a guide at the Harbor
    Maritime Museum." → "I am Milo, a guide at the Harbor Maritime Museum."; a label before it
    ("Facts: ...") is dropped; a sentence without either is returned as it is."""
    out = _LABEL.sub("", sentence)
    for pattern, replacement in _SECOND_PERSON:
        out = pattern.sub(replacement, out)
    return out[:1].upper() + out[1:] if out else out
