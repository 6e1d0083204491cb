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
* a number that nothing known contains, or fewer than :data:`MIN_KNOWN` of them known (all
  of them, and one of the question's, when no known sentence answers it): **ungrounded**; so
  is a figure said of something else than what states it (another text's or clause's number,
  a number with another unit, a time of other days, part of a list of times) or a name
  nothing known holds;
* otherwise **grounded**: the held words are said, and the rest of the answer is not checked.

What is known: the passages found for the question, the persona, the start script, the
conversation so far and the tools' names and descriptions. The conversation also gives the
sentence that answers the question (``answer``: of the passages, or of the persona for a
character without documents), and for a persona the texts whose numbers an answer may state
(``numbers``): a yes/no answer against that sentence (:func:`disagrees`), a missing figure, a
figure of another kind than the measure asked for (:func:`asked_measure`, a price included), a
"yes" to a figure the question claims that the sentence gives otherwise or among others
(:func:`claim_differs`), or the start script said again (``opening``) is ungrounded; for a persona, words that only restate the question may
be said before the verdict (:meth:`Grounding.releasable`), and a number the question itself
gave must be backed too (docs/llm.md, "Answers checked against the persona"). An answer that
ends undecided or ungrounded is replaced (by the engine) with the sentence that answers the
question, a sentence near it after the partial line, or the unknown line when none is. See
docs/knowledge.md ("Grounded answers").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from characters.conversation.facts import asked_words, unheld, unknown_words
from characters.knowledge.chunking import sentences
from characters.knowledge.groups import (
    clauses_of,
    is_another_price,
    paid_prices,
    price_of_another,
    stated_prices,
)
from characters.knowledge.keywords import NUMBER_WORDS, STEM, terms
from characters.knowledge.weekdays import (
    EVERY_DAY,
    asks_closed_days,
    day_conflict,
    days_named,
    figure_days,
    open_days,
)

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
    r"^\W*it's (?:the|your|this|that) .*\b(?:open|closed)\b|"  # Whisper's "Is the ... open"
    r"^\W*(?:(?:so|and|but|well|ok|okay|oh)\W+)*(?:if\b[^,]*,\s*)?"  # "If I'm late, can I ...?"
    r"(?:am|is|are|was|were|do|does|did|can|could|will|would|shall|should|may|might|must|"
    r"have|has|had|isn't|aren't|don't|doesn't|can't|won't)\b|"
    r"\b(?:right|correct|ok|okay|yes|true)\W*$|"
    r"(?:\b(?:isn't|aren't|don't|doesn't|can't|won't|wasn't|weren't|didn't|haven't|hasn't|"
    r"shouldn't|wouldn't|couldn't)|,\s*(?:is|are|do|does|can|will|was|did|have|has))\s+"
    r"(?:it|you|they|i|we|he|she|there|that|this)\W*$|"
    # "My kids have a guinea pig, is that something your vets will look at?"
    r"^(?!.*\b(?:what|when|where|which|who|whom|whose|how|why)\b)"
    r".*,\s*(?:is|are|do|does|can|could|will|would)\s+(?:it|you|they|i|we|there|that|this)\b",
    re.IGNORECASE,
)
_FIGURE = re.compile(
    r"\b(?:how (?:much|many|long|old|far|late|early|often|deep|tall|wide|heavy|hot|warm|cold|"
    r"fast)|what time|what times|what hours|what age|which days?)\b",
    re.IGNORECASE,
)
_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|half|noon|midnight)\b",
    re.IGNORECASE,
)
"""A figure said in words ("seventeen dollars", "half past nine")."""
_NUMBER = r"\d[\d.,]*(?:-|\s*)"
"""A number, before its unit: "3 weeks", "3weeks", "a 3-week course"."""
_LENGTH = _NUMBER + r"(?:mm|cm|m|km|metres?|meters?|feet|foot|ft|inch|inches|miles?|yards?)\b"
_DURATION = (
    _NUMBER
    + r"(?:(?:working|business|full|whole|calendar|clear|more|extra) )?(?:seconds?|minutes?|mins?|hours?|days?|nights?|weeks?|months?|years?)\b"
)
_MEASURES: dict[str, re.Pattern[str]] = {
    word: re.compile(pattern, re.IGNORECASE)
    for words, pattern in (
        (("deep", "tall", "wide"), _LENGTH),
        (("far",), f"{_LENGTH}|{_DURATION}|\\bwalk\\b|\\bdrive\\b"),
        (
            ("heavy",),
            _NUMBER + r"(?:g|kg|grams?|kilos?|kilograms?|pounds?|lbs?|ounces?|oz|tonnes?|tons?)\b",
        ),
        (("hot", "warm", "cold"), _NUMBER + r"(?:°|degrees?)|\\bdegrees?\\b"),
        (
            ("often",),
            r"\b(?:every|each|daily|weekly|monthly|yearly|hourly|once|twice|times)\b|"
            r"\b(?:a|per) (?:day|week|month|year)\b|\d(?::\d\d)?\s*(?:am|pm)\b",
        ),
        (("fast",), _NUMBER + r"(?:km/h|kph|mph|knots?)\b|\bper hour\b"),
        (("loud", "noisy"), _NUMBER + r"(?:db|dba|decibels?)\b"),
        (
            ("long",),
            f"{_DURATION}|{_LENGTH}|\\b(?:an?|one|half an?) (?:hour|day|week|month|year)\\b",
        ),
    )
    for word in words
}
"""What a question "How deep ...?", "How heavy ...?", "How often ...?", "How long ...?" asks
for, as a text that states it must say it: a length, a weight, a temperature, a frequency (or a
list of times), a speed, a duration or a length; "What time ...?": a time of day; "When ...?":
a time, a day, a date, a year or a duration ("within 3 days"), not a price or a count."""
_MEASURES["time"] = re.compile(
    r"\b\d{1,2}(?:[:.]\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)|\b\d{1,2}:\d\d\b|\bnoon\b|"
    r"\bmidnight\b|\bat \d",
    re.IGNORECASE,
)
_MEASURES["when"] = re.compile(
    rf"{_MEASURES['time'].pattern}|\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\bweekends?\b|"
    r"\bweekdays?\b|\b(?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december)\b|\bevery\b|\bdaily\b|\b(?:1[5-9]|20)\d\d\b|\b\d{1,2}(?:st|nd|rd|th)\b|"
    r"\b(?:morning|afternoon|evening|night|tonight|today|tomorrow)\b|" + _DURATION,
    re.IGNORECASE,
)
_MEASURES["year"] = re.compile(r"\b(?:1[5-9]|20)\d\d\b|\b(?:since|ago)\b", re.IGNORECASE)
_SINCE_ASKED = re.compile(
    r"\bwhen (?:did|was|were)\b(?: \w+){1,4} (?:open|opened|start|started|found|founded|"
    r"establish|established|build|built|begin|began|set up|restore|restored|renovate|"
    r"renovated|done up|do up|move|moved|get started|got started|come|came)\b|"
    r"\b(?:what|which) year\b",
    re.IGNORECASE,
)
"""A question about when something began or was done, in the past ("When did your company
get started?", "When did it open?", "What year was it built?"): it asks for a year, not the
opening hours."""
_MEASURE_ASKED = re.compile(
    r"\bhow (" + "|".join(w for w in _MEASURES if w not in ("time", "when")) + r")\b|"
    r"\bwhat (time)s?\b|^\W*(?:(?:and|so|but|ok|okay|then)\W+)?(when)\b",
    re.IGNORECASE,
)


_HOW_MANY_UNITS = re.compile(
    r"\bhow many (?:more |extra )?(?:(seconds|minutes|hours|days|nights|weeks|months|years)|"
    r"(metres|meters|kilometres|kilometers|km|miles|feet|yards)|"
    r"(grams|kilos|kilograms|kg|pounds|ounces))\b",
    re.IGNORECASE,
)
"""A count of a unit is a measure: "How many days does delivery take?" asks for a duration (as
"How long ...?"), "How many miles ...?" for a length, "How many grams ...?" for a weight."""


_AT_A_TIME = re.compile(
    r"\bwhen (?:do|does|did|will|would|can|should) \w+(?: \w+){0,2} (?:open|opens|close|closes|"
    r"start|starts|finish|finishes|end|ends|leave|leaves|depart|departs|arrive|arrives)\b",
    re.IGNORECASE,
)
"""A when-question about what happens at a time of day ("When do you close that day?", "When
does the last ferry leave?"), unlike one that may be answered by days ("When are you
closed?")."""

_MEASURES["price"] = re.compile(
    r"[$€£]\s*\d|\d[\d.,]*(?:-|\s*)(?:dollars?|cents?|euros?|pounds?|usd|eur|gbp|kr|[€£])(?!\w)|"
    r"\bfree\b|\bno charge\b|\bno cost\b|\bincluded\b|\bcharged\b|"
    r"\b(?:half|full) (?:the )?(?:price|fee|cost)\b",
    re.IGNORECASE,
)
_PRICE_ASKED = re.compile(
    r"(?:^|,)\W*(?:how much|what)\b.*\b(?:cost|costs|charge|charges|price|fee|fees|pay)\b|"
    r"(?:^|,)\W*how much (?:is|are|was|were|would|will|'s)\b(?!.*\b(?:time|notice|space|room|"
    r"luggage|weight|left)\b)",
    re.IGNORECASE,
)
"""A question for a price: "How much does a day pass cost?", "What would I pay for ...?", "How
much is a ten-visit card?" (not "How much notice do you need?"), also after what it supposes
("If I leave my car in your car park for three hours, what do I pay?")."""


def _unit_measure(m: re.Match[str]) -> re.Pattern[str]:
    """The measure a match of :data:`_HOW_MANY_UNITS` asks for."""
    return _MEASURES[("long", "deep", "heavy")[(m.lastindex or 1) - 1]]


def asked_measure(question: str) -> re.Pattern[str] | None:
    """What a text answering ``question`` must state, for a question that asks for a measure
    ("How deep ...?": a length; "What time ...?": a time of day; "How much does ... cost?": a
    price, or "free"; "When did it open?": a year, :data:`_SINCE_ASKED`): the pattern of
    it."""
    last = _last_question(question)
    if _SINCE_ASKED.search(last):
        return _MEASURES["year"]
    m = _MEASURE_ASKED.search(last)
    if m is None:
        unit = _HOW_MANY_UNITS.search(last)
        if unit is not None:
            return _unit_measure(unit)
        return _MEASURES["price"] if _PRICE_ASKED.search(last) else None
    if m.group(3) and _AT_A_TIME.search(last):
        return _MEASURES["time"]  # "When do you close on Saturdays?": a time, not the days
    return _MEASURES[(m.group(1) or m.group(2) or m.group(3)).lower()]


_PRICE_CLAIMED = re.compile(
    r"[$€£]\s*\d|\b(?:dollars?|cents?|euros?|pounds?|bucks|quid)\b|\bfree\b", re.IGNORECASE
)


def claimed_measure(question: str) -> re.Pattern[str] | None:
    """The measure a yes/no question claims a figure of, that a sentence answering it must
    state: "Late books are a dollar a day, right?" claims a price (so does "Membership is free,
    isn't it?"). Only prices so far."""
    last = _last_question(question)
    if is_yes_no(last) and _PRICE_CLAIMED.search(last):
        return _MEASURES["price"]
    return None


def asked_measures(question: str) -> list[re.Pattern[str]]:
    """Every measure ``question`` asks for (:func:`asked_measure`), in order: "How much is a
    ten-visit card, and how long is it valid?" asks a price and a duration."""
    last = _last_question(question)
    found = [
        _MEASURES[(m.group(1) or m.group(2) or m.group(3)).lower()]
        for m in _MEASURE_ASKED.finditer(last)
    ] + [_unit_measure(m) for m in _HOW_MANY_UNITS.finditer(last)]
    if _PRICE_ASKED.search(last) or _PRICE_ASKED.search(re.split(r",? and ", last)[-1]):
        found.append(_MEASURES["price"])
    return list(dict.fromkeys(found))


def lacks_measure(question: str, known: Iterable[str]) -> bool:
    """Whether ``question`` asks for a measure (:func:`asked_measure`) that nothing in
    ``known`` states: the answer is then not known, whatever near facts hold ("How deep is the
    Amber pool?" and "The Amber pool is 38 degrees."). False for a question that asks no such
    measure."""
    pattern = asked_measure(question)
    return pattern is not None and not any(pattern.search(text) for text in known)


def _last_question(text: str) -> str:
    """The question proper of "I live in the next town. How far is it?"."""
    pieces = [p for p in re.split(r"(?<=[.!?])\s+", text.strip()) if p]
    return pieces[-1] if pieces else text


_TIME = r"\d{1,2}(?:[:.]\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)"
_TIME_LIST = re.compile(rf"{_TIME}(?:\s*(?:,|,?\s*(?:and|or))\s*{_TIME})+", re.IGNORECASE)
"""Times given as a list of alternatives: "at 11 am and 2 pm", "8 am, 11 am, 2 pm and 5 pm"
(not a range: "from 10 am to 7 pm")."""
_ONE_OF = re.compile(r"\b(?:first|last|next|earliest|latest)\b", re.IGNORECASE)
_CLOCK = re.compile(r"\d{1,2}(?=(?:[:.]\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.))", re.IGNORECASE)


def listed_times(question: str, fact: str) -> list[set[str]]:
    """The lists of times in ``fact`` (:data:`_TIME_LIST`) that an answer to ``question``, a
    question for a time ("What time do the guided tours start?"), must give whole when it
    gives one of them: "at 11 am" is half of "Guided tours start at 11 am and 2 pm.". None
    for a question about one of them ("What time is the last ferry?") or for no time."""
    if asked_measure(question) not in (_MEASURES["time"], _MEASURES["often"], _MEASURES["when"]):
        return []
    if _ONE_OF.search(_last_question(question)):
        return []
    return [set(_CLOCK.findall(m.group(0))) for m in _TIME_LIST.finditer(fact)]


_FIRST = re.compile(r"\b(?:first|earliest)\b", re.IGNORECASE)
_LAST = re.compile(r"\b(?:last|latest|final)\b", re.IGNORECASE)
_CLOCK_TIME = re.compile(r"(\d{1,2})(?:[:.](\d\d))?\s*(am|pm|a\.m\.|p\.m\.)", re.IGNORECASE)


def clock_times(text: str) -> list[int]:
    """The times of day ``text`` states ("9:15 am", "8 pm"), as minutes after midnight."""
    out = []
    for hour, minute, half in _CLOCK_TIME.findall(text):
        h = int(hour) % 12 + (12 if half.lower().startswith("p") else 0)
        out.append(h * 60 + int(minute or 0))
    return out


def extreme_times(question: str, texts: Iterable[str]) -> set[int]:
    """For a question for the first or the last of a list of times ("When does the last ferry
    leave Brennoy?"), the first or last time of each list of ``texts`` ("Ferries return from
    Brennoy at 8:20 am, 11:30 am, 4:10 pm and 8:00 pm.": 8 pm), as minutes after midnight;
    empty for another question."""
    asked = _last_question(question)
    first, last = bool(_FIRST.search(asked)), bool(_LAST.search(asked))
    if first == last:
        return set()
    pick = min if first else max
    return {pick(clock_times(m.group(0))) for text in texts for m in _TIME_LIST.finditer(text)}


_NAMED = r"(?:(?:Dr|Mr|Mrs|Ms)\.? )?[A-Z][a-z]+"
_NAME_LIST = re.compile(rf"\b{_NAMED}(?:, {_NAMED})*,? and {_NAMED}\b")
_WHO = re.compile(r"^\W*(?:who|which)\b", re.IGNORECASE)


_PEOPLE_ASKED = re.compile(
    r"\bwho\b(?! (?:can|may|is allowed|are allowed|is eligible|are eligible)\b(?! (?:i|we)\b))|"
    r"^\W*(?:which|what) \w+ (?:work|works|teach|teaches|run|runs|are there)\b",
    re.IGNORECASE,
)
_CALENDAR = re.compile(
    r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|may|june|"
    r"july|august|september|october|november|december)s?\b",
    re.IGNORECASE,
)
_TITLED = re.compile(r"\b(?:Dr|Mr|Mrs|Ms)\.? [A-Z][a-z]+")


def asks_for_people(question: str) -> bool:
    """Whether ``question`` asks who: "Who would be teaching me?", "Which vets work here?"."""
    return bool(_PEOPLE_ASKED.search(_last_question(question)))


def names_people(text: str) -> bool:
    """Whether ``text`` names people: a list of names ("Yuki, Tariq and Beth"; not "Monday,
    Tuesday and Friday") or a titled name ("Dr. Abara")."""
    if _TITLED.search(text):
        return True
    return any(not _CALENDAR.search(m.group(0)) for m in _NAME_LIST.finditer(text))


def listed_names(question: str, fact: str) -> list[set[str]]:
    """The lists of names in ``fact`` ("The instructors are Yuki, Tariq and Beth.") that an
    answer to ``question``, a question for people ("Who are the coaches?"), must give whole;
    empty for another question."""
    if not _WHO.search(_last_question(question)):
        return []
    return [
        {t for t in terms(m.group(0)) if t not in ("dr", "mr", "mrs", "ms")}
        for m in _NAME_LIST.finditer(fact)
    ]


_GENERIC = frozenset(
    terms(
        """cost costs price pay charge fee fees dollar dollars cent cents euro euros time times
        open opens close closes hour hours day days week weeks month months year years minute
        minutes long old age extra take takes last start starts begin end need use buy get"""
    )
)
"""Terms of a question that do not name what it is about ("How much does a grounds bin
cost?" is about the bin)."""


_UNITS = frozenset(
    terms(
        """second seconds minute minutes hour hours day days night nights week weeks month
        months year years dollar dollars cent cents euro euros pound pounds percent kg kilo
        kilos gram grams km mile miles metre metres meter meters people person persons item
        items page pages pm"""
    )
)
"""Words that measure or count, after a number."""
_HOW_MANY = re.compile(r"\bhow many (\w+)", re.IGNORECASE)
_ORDER = frozenset(
    terms("first last next earliest latest final cheapest dearest best most least second third")
)
"""Words that pick one of several things ("the first ferry"), not what a question is about."""


def measured_units(text: str) -> set[str]:
    """The units ``text`` measures or counts something in ("eight weeks old": weeks; "16
    dollars": dollars), as terms."""
    return {unit for _, unit in _number_pairs(text) if unit in _UNITS}


_NAME = re.compile(r"(?<=[a-z,;:] )(?!I\b)[A-Z][a-z]+(?:[-'][A-Za-z]+)*\b")
"""A capitalised word after a lower-case word or a comma: a name, not a sentence's start."""


_COUNTS = {word: str(n) for n, word in enumerate(NUMBER_WORDS) if 2 <= n <= 12}
"""Numbers said in words, as digits: "three sewing machines" is "3 sewing machines" ("one" is
left as it is: "the one", "one of us")."""


def _number_pairs(text: str) -> set[tuple[str, str]]:
    """Each number of ``text`` (in digits or, from two to twelve, in words) with the term after
    it, if a word ("4 toys", "3 week", "two sewing machines")."""
    found = [_COUNTS.get(t, t) for t in terms(text)]
    return {
        (t, found[i + 1])
        for i, t in enumerate(found[:-1])
        if _is_number(t) and not _is_number(found[i + 1])
    }


_PERIOD = r"(hour|night|day|week|month|year)s?\b"
_MONEY = r"(?:\$\s?(\d[\d.,]*)|(\d[\d.,]*)\s*(?:dollars?|euros?|pounds?|bucks))"
_PRICE_PER = re.compile(rf"{_MONEY}\s+(?:an?|per|each|every)\s+{_PERIOD}", re.IGNORECASE)
_PER_PRICE = re.compile(
    rf"\b(?:for|per)\s+(?:an?|one|1|each)\s+{_PERIOD}[^.;!?]*?{_MONEY}", re.IGNORECASE
)


def priced_per(text: str) -> set[tuple[str, str]]:
    """The prices ``text`` gives for a period, with the period: "20 dollars an hour" and "For
    an hour, ... costs 60 dollars" are ("20", "hour") and ("60", "hour")."""
    found = {
        ((m.group(1) or m.group(2)).rstrip(".,"), m.group(3).lower())
        for m in _PRICE_PER.finditer(text)
    }
    found |= {
        ((m.group(2) or m.group(3)).rstrip(".,"), m.group(1).lower())
        for m in _PER_PRICE.finditer(text)
    }
    return found


_ADMITS = re.compile(
    r"\b(?:(?:don't|do not|doesn't|does not) know|not sure|no idea|no information)\b",
    re.IGNORECASE,
)
"""An answer that says it does not know."""
_AGREES = re.compile(
    r"^\W*(?:yes|yeah|yep|sure|of course|absolutely|definitely|certainly|correct|right|exactly|"
    r"(?:that's|that is|you're|you are) (?:right|correct)|you can(?!['\u2019]t| ?not)|you bet)\b",
    re.IGNORECASE,
)
_DENIES = re.compile(r"^\W*(?:no|nope|sorry|unfortunately|i'm afraid)\b", re.IGNORECASE)
_RESTRICTS = re.compile(
    r"\b(?:not|no|never|none|only|except|without|closed|cannot|can't|don't|doesn't|isn't|"
    r"aren't|won't|must|required|forbidden|prohibited|banned|until|up to|at most|at least|"
    r"before|under|over)\b",
    re.IGNORECASE,
)


_VERB = (
    r"(?:is|isn't|was|can|can't|cannot|will|won't|has|does|doesn't|do|would|should|knows|says|"
    r"thinks|offers|works|sells|rents|owns|may|might|must|loves|likes|wants|helps|recommends)"
)
"""Verbs after which the character's own name is a third-person self-reference."""


def third_person(name: str) -> re.Pattern[str] | None:
    """What a character named ``name`` says of itself in the third person ("Rosa doesn't rent
    bikes.", "As Bella, ...", "Bella: ..."); None for no name."""
    if not name.strip():
        return None
    n = re.escape(name.strip())
    return re.compile(rf"\bas {n}\b|\b{n} {_VERB}\b|^\W*{n}:", re.IGNORECASE)


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _limits(text: str) -> set[str]:
    return {w.lower() for w in _RESTRICTS.findall(text)}


_WH = re.compile(
    r"^\W*(?:(?:and|so|but|ok|okay|then)\W+)?(?:which|what|when|where|who|how)\b"
    r"(?!\W+about\b)",
    re.IGNORECASE,
)
"""A question for a thing, a time, a place, a person or a way ("Which evening are you open
late?"), not for a yes or a no (but "What about Saturday?" may get one)."""
_CHEAPER = re.compile(
    r"\b(?:cheaper|discounts?|reductions?|concessions?|less|reduced|lower price)\b", re.IGNORECASE
)
"""A question whether a group pays less ("Do students get it any cheaper?")."""
_YES_OR_NO = re.compile(r"^\W*(?:yes|no)\b", re.IGNORECASE)


def is_yes_no(question: str) -> bool:
    """Whether ``question`` asks for a yes or a no ("Can I come on Saturday?", "It's free,
    right?"), in its last sentence."""
    return bool(_YES_NO.search(_last_question(question).rstrip("?!. ")))


_PRICE = frozenset(terms("dollars cents euros pounds"))
_FREE = re.compile(r"\bfree\b|\bno charge\b|\bat no cost\b", re.IGNORECASE)
_COMPARED = re.compile(
    r"\b(?:under|over|below|above|less than|more than|fewer than|at least|at most|up to|within|"
    r"about|around|roughly|nearly|almost)\s+(?:\$\s*)?(\d[\d.,]*)",
    re.IGNORECASE,
)


def _figures(text: str) -> set[tuple[str, str]]:
    """The figures ``text`` states: each number (in digits or, two to twelve, in words) with its
    unit (the word after it when that is one of :data:`_UNITS`, else ""), and "free" as a price
    ("free", "dollar")."""
    found = [_COUNTS.get(t, t) for t in terms(text)]
    out = {
        (t, found[i + 1] if i + 1 < len(found) and found[i + 1] in _UNITS else "")
        for i, t in enumerate(found)
        if _is_number(t)
    }
    if _FREE.search(text):
        out.add(("free", "dollar"))
    return out


def prices_another(question: str, sentence: str) -> bool:
    """Whether every price ``sentence`` states goes with something other than what a question
    for a price names, which the sentence lists without one ("How much are the cinnamon buns
    in the Gull's Galley?" and "It serves fish soup for 11 dollars, cinnamon buns and hot
    drinks.": :func:`~characters.knowledge.groups.is_another_price`)."""
    if asked_measure(question) is not _MEASURES["price"]:
        return False
    subject = set(terms(question)) - _GENERIC - FILLER
    clauses = clauses_of([sentence])
    prices = paid_prices(sentence)
    # Every one of them: "A taster class costs 42 dollars for adults and 28 dollars for
    # children ...; children under 8 cannot join the classes." prices the class.
    return bool(prices) and all(is_another_price(subject, price, clauses) for price in prices)


_EXCLUDED = re.compile(r",?\s*\b(?:but not|except(?: for)?|apart from|other than)\b", re.IGNORECASE)
"""Where a list of what is included turns to what is not ("... rabbits and guinea pigs, but not
horses, farm animals or reptiles")."""
_LISTED = re.compile(r"\w,\s+\w.*\b(?:and|or)\s+\w", re.IGNORECASE)


def listed_verdict(question: str, fact: str) -> str:
    """What ``fact``, a sentence that lists what is included and then what is not ("The
    clinic treats cats, dogs, rabbits and guinea pigs, but not horses, farm animals or
    reptiles."), says to a yes/no question about something it lists: ``"yes"`` when what the
    question is about is only in the included list ("My kids have a guinea pig, is that
    something your vets will look at?"), ``"no"`` when it is only in the excluded one ("Do
    you see horses?"), else ``""``."""
    if not is_yes_no(question):
        return ""
    m = _EXCLUDED.search(fact)
    if m is None or not _LISTED.search(fact[: m.start()]):
        return ""
    included, excluded = fact[: m.start()], fact[m.end() :]
    asked = asked_words(question)
    in_included = set(asked) - set(unheld(included, question))
    in_excluded = set(asked) - set(unheld(excluded, question))
    if in_included - in_excluded and not in_excluded - in_included:
        return "yes"
    if in_excluded - in_included and not in_included - in_excluded:
        return "no"
    return ""


def claim_differs(question: str, fact: str) -> str:
    """What ``fact``, the sentence that answers a yes/no question, says of a figure the
    question states as true ("A day pass for my 12-year-old is 16 dollars too, isn't it?",
    "Membership is free, isn't it?", "You're open till 10 on Saturdays too, right?"):

    * ``"wrong"``: the fact gives that kind of figure (a price; a number with the same unit)
      but not this one ("Membership costs 20 dollars a year." to "free"): a "yes" is not
      backed, and the fact is said after "No.";
    * ``"unsure"``: the fact gives this figure among others of its kind ("16 dollars for
      adults and 11 dollars for children under 14"; "free for residents ... 25 dollars for
      everyone else"): which one the question means is not read, so a "yes" is not backed and
      the fact is said whole;
    * ``""``: the question states no figure, or the fact gives it alone, or says nothing of
      its kind. A number the question compares ("under 5 dollars") or counts without a unit
      ("There'll be 10 of us") is not a claim on the fact's figures."""
    if not fact or not is_yes_no(question):
        return ""
    asked = _last_question(question)
    compared = {t for m in _COMPARED.finditer(asked) for t in terms(m.group(1))}
    claims = {(n, u) for n, u in _figures(asked) if n not in compared}
    if not claims:
        return ""
    stated = _figures(fact)
    verdict = ""
    for number, unit in claims:
        kind = {n for n, u in stated if u == unit or (unit == "dollar" and u in _PRICE)}
        if number in {n for n, _ in stated}:
            others = kind if unit else {n for n, _ in stated}
            if len(others - {number}) >= 1:
                verdict = verdict or "unsure"
        elif unit and kind:
            return "wrong"  # "Membership is free?" and "... costs 20 dollars a year"
    return verdict


def disagrees(answer: str, fact: str, confirms: bool = True, question: str = "") -> bool:
    """Whether an answer to a yes/no question opens against ``fact``, the sentence that
    answers it: a "Yes"/"Sure" where the fact restricts (a limit, an exception, a "not":
    "The shop repairs bikes, but not scooters."), even one that goes on to say the limit ("Of
    course, the sauna is for adults only." to "My ten-year-old can use the sauna, right?"; a
    limit the question names does not count), or a "No" where it does not restrict and
    ``confirms``, holds all the question asks ("Is it free?" after "Where can I park?", and
    "Parking is free behind the building."; but not "No, it takes 20 minutes." to "A flat
    tyre repair takes a whole day, right?"). The fact itself is then said, which is never
    wrong; over-reading a restriction costs only a less direct answer. With no such sentence
    (``fact`` empty), any "Yes" disagrees: nothing the character knows backs it ("Do you have
    free Wi-Fi?"). For a
    question about being open on a day, the days the fact names decide
    (:func:`~characters.knowledge.weekdays.day_conflict`: "Yes" to "You're open on Mondays?"
    against "open Tuesday to Saturday" disagrees, as does "No" to "Are you open on
    Wednesday?" against "open Monday to Friday", and any answer that says other days than the
    fact: "The library is open on Mondays.")."""
    if not fact:
        return bool(_AGREES.search(answer) or _DENIES.search(answer))
    restricts = bool(_RESTRICTS.search(fact))
    days = day_conflict(question, fact)  # "You're open on Mondays?" and "open Tuesday to ..."
    if days is not None and day_conflict(question, answer) not in (None, days):
        return True  # "The shop is open on Sundays." without a "yes", against "closed Sundays"
    claim = claim_differs(question, fact) if question else ""
    if _AGREES.search(answer):
        if claim:
            # "Yes" to "Membership is free, isn't it?" and "... costs 20 dollars"; to "You're
            # open till 10 on Saturdays too?" and "... 10 pm on weekdays, 8 pm at weekends".
            return True
        if days is not None:
            return days
        # A limit of the fact's own (one the question did not name) makes the "yes" wrong,
        # even said with it: "Absolutely! Flash photography is allowed, but without flash."
        return restricts and bool(_limits(fact) - _limits(question))
    if _DENIES.search(answer) or re.search(r"\b(?:not|never)\b|n't\b", answer, re.I):
        if claim == "wrong":
            return False  # "No, ..." to a figure the fact gives otherwise
        return days is False or (days is None and confirms and not restricts)
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
        name: str = "",
        group_price: frozenset[str] = frozenset(),
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
        restate the question and the sentence that answers it holds them
        (:meth:`releasable`); ``name``: the character's, which an answer must not speak of in
        the third person ("Rosa doesn't rent bikes.", "As Bella, ..."); ``group_price``: the
        price a known sentence gives the group the question names
        (:func:`~characters.knowledge.groups.group_price`: "I'm a student. What would ... cost
        me?" and "Students pay 15 dollars ..."), which an answer that states a price must
        state."""
        self._asked_text = question
        self._question = set(terms(question))
        self._asked = self._question | FILLER
        known = list(dict.fromkeys(known))
        self._texts = [set(terms(text)) for text in known]
        """Each known text's terms (a passage, with its heading; a persona's sentence)."""
        self._sentences = [s for text in known for s in sentences(text)]
        self._sentence_clauses = clauses_of(self._sentences)
        """Each known sentence cut where one price ends and the next begins, read once for
        :func:`~characters.knowledge.groups.price_of_another`."""
        self._known = set().union(*self._texts)
        self._numbers_given = numbers is not None
        self._numbers = (
            {t for t in self._known if _is_number(t)}
            if numbers is None
            else {t for text in numbers for t in terms(text) if _is_number(t)}
        )
        yes_no = is_yes_no(question)
        self._yes_no = yes_no
        self._answer = answer if answer is not None and yes_no else None
        self._confirms = confirms
        self._unanswered = answer == ""
        """Nothing known answers the question: an answer must be all known, and about it."""
        self._fact = set(terms(answer or ""))
        """The terms of the sentence that answers the question."""
        self._clauses = [set(terms(c)) for c in re.split(r";|, and\b|, but\b", answer or "")]
        """The terms of each clause of that sentence."""
        self._release = release and not yes_no
        self._wh = bool(answer) and not yes_no and bool(_WH.search(_last_question(question)))
        """A question for a thing ("Which evening ...?") that a known sentence answers: an
        answer opening with "Yes" or "No" does not answer it ("No, I'm closed on Sundays.")."""
        self.released: list[str] = []
        """The chunks said before the verdict (:meth:`releasable`)."""
        self._third_person = third_person(name)
        self._figure = bool(
            answer
            and (_FIGURE.search(question) or asked_measure(question) is _MEASURES["time"])
            and any(map(_is_number, terms(answer)))
        )
        """The question asks for a figure that the sentence answering it has."""
        self._lists = listed_times(question, answer or "") + listed_names(question, answer or "")
        """Lists of times the sentence that answers the question has, to be given whole."""
        self._answer_days = day_conflict(question, self._answer) if self._answer else None
        opened = open_days(answer) if answer and asks_closed_days(question) else None
        self._closed_days = EVERY_DAY - opened if opened is not None else frozenset()
        """The days the answering sentence says the place is closed, to a question that asks
        which (:func:`~characters.knowledge.weekdays.asks_closed_days`): the answer must name
        one."""
        self._fact_numbers = {t for t in self._fact if _is_number(t)}
        self._claim = claim_differs(question, self._answer or "")
        self._fact_figures = {n for n, _ in _figures(self._answer or "")}
        self._claimed = {n for n, _ in _figures(_last_question(question))}
        self._fact_limits = _limits(self._answer or "")
        """What a yes/no answer is held to (:meth:`_short_of_fact`, :meth:`_echo_holds`), read
        once."""
        self._asks_people = asks_for_people(question)
        self._group_price = group_price
        self._days = figure_days(answer or "") if _FIGURE.search(question) or yes_no else {}
        """The days each time of that sentence is for ("7" → Monday to Friday)."""
        self._asked_days = days_named(_last_question(question)) or days_named(question)
        """The days the question asks about: in its last sentence, else before it ("We're
        coming this Saturday. How late are you open?")."""
        self._subject = self._question - _GENERIC - FILLER
        self._unheard = {
            t for t in self._question if t not in self._known and not _is_number(t) and yes_no
        }
        """What a yes/no question names that nothing known holds ("club" in "Is there a book
        club I could join?"): an answer may not say it is there."""
        self._unknown_subject = {
            t
            for t in self._question - _GENERIC - FILLER - _ORDER
            if not _is_number(t) and not any(k.startswith(t[:STEM]) for k in self._known)
        }
        """What any question names that nothing known holds, even in another form ("save" is
        held by "saved", "ferry" by "ferries"): "magnification" in "What magnification does
        the Great Refractor have?". An answer may not give a figure of it ("The Great
        Refractor has a magnification of 30 centimetres across.")."""
        self._names_unknown = bool(self._unknown_subject) and bool(unknown_words(known, question))
        """The question names what nothing known holds in any form or topic ("spices", but not
        "Wednesdays" beside "Monday to Friday"): nothing known says yes to it."""
        self._pairs = {p for text in known for p in _number_pairs(text)}
        """Each known number with the word after it ("4 toys", "3 weeks")."""
        self._per = {p for text in known for p in priced_per(text)}
        """Each known price for a period, with the period ("20 dollars an hour")."""
        self._counts = {_COUNTS[t] for text in known for t in terms(text) if t in _COUNTS}
        """The numbers known texts say in words ("two sewing machines", "three 3D printers")."""
        after = Counter(unit for _, unit in self._pairs)
        self._units = {unit for unit, n in after.items() if n > 1 or unit in _UNITS} | set(
            terms(" ".join(m.group(1) for m in _HOW_MANY.finditer(question)))
        )
        """Words that measure or count: units ("weeks", "dollars"), words known texts say after
        two numbers or more, what "How many books ...?" counts."""
        self._measure = asked_measure(question)
        """What the question asks for, if a measure (:func:`asked_measure`)."""
        self._measures = asked_measures(question)
        """Every measure it asks for ("How much ..., and how long ...?")."""
        self._answer_prices = paid_prices(answer or "")
        """The prices the sentence that answers the question states."""
        self._fact_measures = [m for m in self._measures if m.search(answer or "")]
        """Those the sentence that answers the question states: an answer must state each."""
        timed = self._measure in (_MEASURES["time"], _MEASURES["when"])
        self._extremes = extreme_times(question, self._sentences) if timed else set()
        """For "When does the last ferry leave?", the last time of each known list of times
        (the sentence that answers may be another list's: "Ferries return from Brennoy ..." to
        "What time is the first ferry to Brennoy?")."""
        self._unmeasured = lacks_measure(question, self._sentences)
        """The question asks for a measure nothing known states."""
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
            or not set(terms(said)) <= self._fact
            or _AGREES.search(said)
            or _DENIES.search(said)
            or _NEGATIVE.search(said)
            or (self._opening and self._opening.startswith(plain))
        ):
            return []
        released, self.held = self.held, []
        self.released += released
        return released

    def rest_of(self, replacement: str) -> str:
        """What to say of ``replacement`` after the chunks already released: what follows the
        last of their terms in it ("The pool opens" said, "The pool is open from 6 am to
        9 pm." → "from 6 am to 9 pm."; "A cleaning costs" said, "A check-up costs 60 dollars
        and a cleaning 90 dollars." → "90 dollars."), else all of it."""
        wanted = set(terms(" ".join(self.released)))
        if not wanted:
            return replacement
        words = replacement.split()
        for i, word in enumerate(words):
            wanted -= set(terms(word))
            if not wanted:
                rest = " ".join(words[i + 1 :])
                return rest if terms(rest) else replacement
        return replacement

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
        if self._answer_days is not None:
            # "Yes, we're open on Wednesdays." as "open Monday to Friday" says; but not "I
            # don't know." when the days it names answer.
            return not _ADMITS.search(answer)
        negative = bool(_NEGATIVE.search(answer))
        for sentence in self._sentences:
            missing = self._question - set(terms(sentence))
            if self._question and len(missing) <= ECHO_MISSING:
                return bool(_NEGATIVE.search(sentence)) == negative
        return None

    def _judge(self, *, final: bool) -> None:
        said = " ".join(self.held)
        if self._third_person is not None and self._third_person.search(
            " ".join([*self.released, said])
        ):
            self.verdict = False  # "Pixel can borrow up to 4 toys.": not in its own voice
            return
        if self._opening:
            plain = _plain(said) + " "
            if plain.startswith(self._opening) or (final and self._opening.startswith(plain)):
                self.verdict = False  # the start script again, not an answer
                return
            if self._opening.startswith(plain):
                return  # it may be: wait for more
        if self._wh and not self.released and _YES_OR_NO.search(said):
            self.verdict = False  # "Which evening are you open late?" → "No, I'm closed ..."
            return
        if self._yes_no and self._names_unknown and not self.released and _AGREES.search(said):
            # "Can I grind spices in the K7?" → "Yes, you can grind spices ...": nothing known
            # names spices, so nothing known says yes.
            self.verdict = False
            return
        if self._group_price and _CHEAPER.search(self._asked_text) and _DENIES.search(said):
            # "We're all students, do we get it any cheaper?" → "No, we don't." where students
            # have a price of their own.
            self.verdict = False
            return
        stated = terms(said)
        added = [t for t in dict.fromkeys(stated) if t not in self._asked]  # each term once
        # With ``numbers`` (the persona), a number the question itself gave is checked too: "A
        # check-up is 40 dollars, right?" → "Yes, a check-up costs 40 dollars." is not backed
        # by "... costs 60 dollars".
        checked = stated if self._numbers_given else added
        invented_number = any(_is_number(t) and t not in self._numbers for t in checked)
        if (
            invented_number
            or (self._unmeasured and any(map(_is_number, added)))
            or self._of_the_unknown(stated, added)
            or self._other_days(said)
            or self._unsupported(stated, added)
            or price_of_another(self._subject, said, self._sentence_clauses)
            or self._mispaired(" ".join([*self.released, said]))
            or self._invented_name(said)
        ):
            # A number nothing known states, or a figure of a measure nothing known states
            # ("How deep is the pool?" → "The pool is 38 degrees."), a time of other days, a
            # number said of something else or with another unit, an invented name.
            self.verdict = False
        elif (
            self._measure is not None
            and any(map(_is_number, added))
            and not any(m.search(said) for m in self._measures)
        ):
            # "What time is the first ferry?" → "The first ferry takes 1 hour and 25 minutes.":
            # a figure, but not of the kind asked for, which something known states.
            self.verdict = False
        elif self._figure and not any(map(_is_number, stated)) and not _NUMBER_WORD.search(said):
            if final:  # "What time do you close?" → "The library is closed on Sundays."
                self.verdict = False
        elif self._short_of_fact(" ".join([*self.released, said]), final=final):
            if final:  # "Membership is free, isn't it?" → "Membership is 20 dollars?" lacks 20
                self.verdict = False
        elif self._closed_days and self._closed_days.isdisjoint(
            days_named(" ".join([*self.released, said]))
        ):
            if final:  # "Which day are you shut?" → "I am open Monday to Friday ..."
                self.verdict = False
        elif self._partial_list(said):
            if final:  # "What time do the tours start?" → "At 11 am." (and 2 pm)
                self.verdict = False
        elif len(self._fact_measures) > 1 and not all(m.search(said) for m in self._fact_measures):
            if final:  # "How much is a ten-visit card, and how long is it valid?" → "One year."
                self.verdict = False
        elif self._not_extreme(said):
            if final:  # "When does the last ferry leave?" → "At 9:15 am." (8 pm, of 4 times)
                self.verdict = False
        elif self._other_group(said) or self._other_price(said, added, final=final):
            if final:  # "I'm a student. What would ... cost me?" → "It costs 19 dollars."
                self.verdict = False
        elif len(added) >= MIN_TERMS or any(map(_is_number, added)) or (final and added):
            known = sum(t in self._known for t in added)
            if self._unanswered:
                # Nothing known answers it: every term must be known ("Dr. Patel ... is John."
                # is not), one must name what the question is about, not only its generic
                # words ("What would highlights cost me?" → the other prices), and a yes/no
                # answer may not say there is what nothing known names ("Is there a book
                # club?" → "There is a book club ...").
                about = self._subject or self._question
                negative = bool(_NEGATIVE.search(said))
                self.verdict = (
                    not (self._asks_people and not negative)
                    and known == len(added)
                    and not about.isdisjoint(stated)
                    and (self._unheard.isdisjoint(stated) or negative)
                )
            else:
                self.verdict = known >= MIN_KNOWN * len(added)
            if self.verdict and self._disagrees(said):
                self.verdict = False

    def _mispaired(self, said: str) -> bool:
        """A known number said with another known unit than anything known says it with: "up
        to 4 weeks" where 4 is the toys and 3 the weeks; "The library has 12 books." to "How
        many books ...?" where 12 is the items; "three sewing machines" where three is the 3D
        printers and two the sewing machines; a known price said for a period known prices are
        given for, which no known sentence gives it for ("For an hour, ... costs 60 dollars."
        where 60 dollars is a half day's price and an hour's are 20, 25 and 15)."""
        periods = {period for _, period in self._per}
        return any(
            unit in self._units and (number, unit) not in self._pairs
            for number, unit in _number_pairs(said)
            if number in self._numbers or number in self._counts
        ) or any(
            period in periods and (price, period) not in self._per
            for price, period in priced_per(said)
            if price in self._numbers
        )

    def _invented_name(self, said: str) -> bool:
        """A name (a capitalised word inside a sentence) that nothing known or asked holds:
        "Dr. Patel's first name is John."."""
        for m in _NAME.finditer(said):
            if not set(terms(m.group(0))) <= self._known | self._question:
                return True
        return False

    def _short_of_fact(self, said: str, *, final: bool = True) -> bool:
        """A yes/no question's answer that does not say what the sentence answering it says:
        one of its numbers, if it has some and the question is not about being open on a day,
        and one of its limits if it has some ("No, you can't come on Saturday." lacks "closed
        at weekends"; "Membership is free for members." lacks "20 dollars"). Until it does,
        it is not grounded; when it ends so, the sentence is said. An answer the days the
        sentence names back ("Yes, we're open on Wednesdays.") is not held. To a question that
        claims a figure the sentence gives among others (:func:`claim_differs`), an answer that
        says the claimed one must say them all; it is held to its end (``final``) until it
        does."""
        if not self._answer:
            return False
        stated = {n for n, _ in _figures(said)}
        if (
            self._claim == "unsure"
            and not self._fact_figures <= stated
            and (not final or stated & self._claimed)
        ):
            # "The card costs 25 dollars for me." to "... 25 dollars for me too?", where the
            # fact gives 25 dollars for others: the claimed figure said, not the rest. Until
            # the answer ends, it may still go on to say it ("The 6-week course costs" ...).
            return True
        days = self._answer_days
        if days is False:
            return False  # "Yes, we're open on Wednesdays.": the days the fact names back it
        numbers = self._fact_numbers
        if days is None and numbers and numbers.isdisjoint(terms(said)):
            return True
        return bool(self._fact_limits) and self._fact_limits.isdisjoint(_limits(said))

    def _partial_list(self, said: str) -> bool:
        """The answer gives some times or names of a list of the answering sentence, not all
        (no name of a list of names is as partial: "The vets work at the clinic.")."""
        given = set(_CLOCK.findall(said)) | set(terms(said))
        return any(
            not items <= given and (given & items or not any(map(_is_number, items)))
            for items in self._lists
        )

    def _of_the_unknown(self, stated: list[str], added: list[str]) -> bool:
        """A number said of what the question names and nothing known holds, that the sentence
        answering the question does not give ("The Great Refractor has a magnification of 30
        centimetres." where 30 is another telescope's mirror). A number of that sentence is
        let through: the question may name its subject in other words ("How long can I keep
        the books?" and "Members can borrow up to 4 books ..., for 3 weeks.")."""
        if self._unknown_subject.isdisjoint(stated):
            return False
        return any(_is_number(t) and t not in self._fact_numbers for t in added)

    def _not_extreme(self, said: str) -> bool:
        """The answer to "When does the last ferry leave?" states times, none the last of a
        known list ("at 9:15 am" where the ferries return at 8:20 am, 11:30 am, 4:10 pm and
        8:00 pm, and leave at 6:40 am, 9:15 am, 1:50 pm and 6:05 pm)."""
        times = clock_times(said)
        return bool(self._extremes) and bool(times) and self._extremes.isdisjoint(times)

    def _other_group(self, said: str) -> bool:
        """The answer states prices, none of them the one for the group the question names
        (``group_price``): another group's, or the price for no group ("30 dollars per
        person" to students, for whom a known sentence says 22). Until the answer ends, it may
        still go on to say it ("..., or 22 dollars for students")."""
        if not self._group_price:
            return False
        stated = set(stated_prices(said))
        return bool(stated) and stated.isdisjoint(self._group_price)

    def _other_price(self, said: str, added: Iterable[str], *, final: bool) -> bool:
        """A question for a price that a known sentence answers with prices gets prices, none
        of them that sentence's, for a thing neither names ("If I leave my car in your car park
        for three hours, what do I pay?" → "You pay 7 dollars for bathrobes.", where "Parking
        costs 2 dollars per hour ..." answers it). ``added``: the answer's terms the question
        does not have. Until the answer ends, what the price is for may still come."""
        if self._measure is not _MEASURES["price"] or not self._answer_prices:
            return False
        stated = paid_prices(said)
        if not stated or not stated.isdisjoint(self._answer_prices):
            return False
        if not final:
            return True  # what the price is for may still come
        # Of a thing neither the question nor that sentence names ("bathrobes"): not "19
        # dollars for a 3-hour ticket" to "What would I pay for three hours?", where "Students
        # pay 15 dollars for a 3-hour ticket." came first.
        named = set(added) - _GENERIC - self._fact
        return any(not _is_number(t) for t in named)

    def _other_days(self, said: str) -> bool:
        """A question for a figure on some days ("What time do you close on weekdays?") gets
        a time the answering sentence gives only for other days ("1 pm", Saturday's)."""
        if not self._days or not self._asked_days:
            return False
        return any(
            self._asked_days.isdisjoint(self._days.get(n, self._asked_days))
            for n in _CLOCK.findall(said)
        )

    def _unsupported(self, stated: list[str], added: list[str]) -> bool:
        """A number said about what the question names, that nothing known says of it: "A
        replacement grounds bin costs 49 dollars." where 49 dollars is the burr set's; "45
        dollars to bring a bike" where 45 is the car's, in the clause before "a bike costs 5
        dollars". Said of it: in the same known text (a passage, with its heading; a persona's
        sentence), or for a number of the sentence that answers the question, in the same
        clause of it. What the question names: its terms that the answer repeats and exactly
        one known text holds, not the generic ones (:data:`_GENERIC`: cost, time, day) nor
        those several texts hold ("the ferry", "the library": what the place is about)."""
        subject = {
            t
            for t in self._subject.intersection(stated)
            if 0 < sum(t in k for k in self._texts) < 2
        }
        if not subject:
            return False
        for number in {t for t in added if _is_number(t)}:
            within = self._clauses if number in self._fact else self._texts
            holding = [t for t in within if number in t]
            if holding and not any(subject <= t for t in holding):
                return True
        return False

    def _disagrees(self, said: str) -> bool:
        return self._answer is not None and disagrees(
            said, self._answer, self._confirms, self._asked_text
        )
