"""Which days of the week a sentence says a place is open, to check a yes/no answer about a day.

The small model agrees to "You're open on Mondays, aren't you?" against "The library is open
Tuesday to Saturday.": no restrictive word ("not", "closed", "only") tells the answer check
(:func:`~characters.knowledge.grounding.disagrees`) that Monday is left out. Reading the days
does: "Tuesday to Saturday" is a range, "weekdays" Monday to Friday, "every day except Monday"
six days; days after "closed", "except" or "not open" are closed, the others named with "open"
are open.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVERY_DAY = frozenset(range(7))
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_TOKEN = re.compile(
    rf"(?P<range>(?P<first>{_DAY})\s*(?:to|through|thru|until|till|-|–)\s*(?P<last>{_DAY}))"
    rf"|(?P<day>{_DAY})"
    r"|(?P<weekdays>\bweekdays?\b)|(?P<weekends>\bweekends?\b)"
    r"|(?P<every>\bevery day\b|\bdaily\b|\b(?:seven|7) days a week\b)"
    r"|(?P<closed>\bclosed\b|\bexcept\b|\bnot open\b|\bshut\b)|(?P<open>\bopen\b)"
    r"|(?P<stop>[,;:]|\.(?!\d)|\bbut\b)",
    re.IGNORECASE,
)


def _index(day: str) -> int:
    return DAYS.index(day.lower().removesuffix("s"))


def days_named(text: str) -> frozenset[int]:
    """The days of the week ``text`` names (0 = Monday): single days, ranges ("Monday to
    Friday"), weekdays, weekends, every day."""
    opened, closed = _read(text)
    return opened | closed


def open_days(fact: str) -> frozenset[int] | None:
    """The days ``fact`` says the place is open, or None when it does not say which: it must
    say "open" or "closed" and name days."""
    opened, closed = _read(fact)
    if not re.search(r"\b(?:open|closed|shut)\b", fact, re.IGNORECASE) and not (
        # "opens at 9 am and closes at 5 pm, every day except Monday" (not "closes at 5 pm on
        # Fridays", a single day, which says nothing of the others)
        re.search(r"\b(?:opens|closes)\b", fact, re.IGNORECASE) and len(opened | closed) > 1
    ):
        return None
    if opened:
        return opened - closed
    if closed:
        return EVERY_DAY - closed
    return None


_FIGURE_DAYS = re.compile(
    rf"(?P<days>(?:{_DAY})(?:\s*(?:to|through|thru|until|till|-|–)\s*(?:{_DAY}))?|\bweekdays?\b|"
    r"\bweekends?\b|\bevery day\b|\bdaily\b)"
    r"|(?P<time>\b\d{1,2}(?=(?:[:.]\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)))",
    re.IGNORECASE,
)


def figure_days(fact: str) -> dict[str, frozenset[int]]:
    """The days each time of day in ``fact`` is for, by its hour ("7" → Monday to Friday in
    "open Monday to Friday from 10 am to 7 pm and on Saturdays from 9 am to 1 pm"): the days
    named right after it ("until 8 pm on Thursdays"), else the last days named before it, else
    the first named after it ("from 8 am to 6 pm, Monday to Friday"), less the days a time of
    the same kind (an end, "to"/"until", or a start) is named right before ("open Wednesday to
    Monday from 9 am to 6 pm, and until 8 pm on Saturdays": 6 is not Saturday's, 9 is).
    Empty when the fact names no days."""
    found = list(_FIGURE_DAYS.finditer(fact))
    if not any(m.group("days") for m in found):
        return {}
    read: list[tuple[str, bool, bool, frozenset[int]]] = []
    for i, m in enumerate(found):
        if not m.group("time"):
            continue
        after = next((f for f in found[i + 1 :] if f.group("days")), None)
        before = next((f for f in reversed(found[:i]) if f.group("days")), None)
        right_after = after is not None and re.fullmatch(
            r"(?:[:.]\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)\W*(?:on\s+|every\s+)?",
            fact[m.end() : after.start()],
            re.IGNORECASE,
        )
        source = after if right_after or before is None else before
        assert source is not None
        ends = bool(_ENDS.search(fact[: m.start()]))
        read.append((m.group("time"), bool(right_after), ends, days_named(source.group("days"))))
    out: dict[str, frozenset[int]] = {}
    for time, own, ends, days in read:
        if not own:
            # "from 9 am to 6 pm, and until 8 pm on Saturdays": 6 pm is not Saturday's.
            kept = days - frozenset().union(*(d for _, o, e, d in read if o and e == ends))
            days = kept or days
        out[time] = out.get(time, frozenset()) | days
    return out


_ENDS = re.compile(r"\b(?:to|until|till|closes at|close at)\s*$|[-–]\s*$", re.IGNORECASE)
"""Before a time at which something ends ("to 6 pm", "until 8 pm")."""


def asks_about_days(question: str) -> bool:
    """Whether ``question`` asks about being open (or coming) on some days: it names days and
    says open, closed, come, visit ... (what :func:`day_conflict` reads)."""
    return bool(_ASKS_OPEN.search(question)) and bool(days_named(question))


def asks_closed_days(question: str) -> bool:
    """Whether ``question`` asks which days the place is closed ("Which day of the week are you
    shut?", "What days are you closed?", "When is the clinic closed?")."""
    return bool(_ASKS_CLOSED.search(question))


_ASKS_CLOSED = re.compile(
    r"\b(?:which|what)\s+days?\b[^?.!]*\b(?:closed|shut)\b"
    r"|\bwhen\s+(?:are|is)\s+(?:you|it|the\s+\w+)\s+(?:closed|shut)\b",
    re.IGNORECASE,
)
_ASKS_OPEN = re.compile(
    r"\b(?:open|closed|come|visit|drop by|pop in|pop by|collect|pick (?:\w+ )?up)\b", re.IGNORECASE
)


def day_conflict(question: str, fact: str) -> bool | None:
    """For a yes/no question about being open on some days ("Are you open on Sunday?", "I'll
    come on Monday, you're open then, right?", "Are you closed on Mondays?"): True when
    ``fact`` says the opposite of what the question asks to confirm (a day it asks about is
    not open; for "closed", one is open), False when it says the same, None when either does
    not say."""
    if not _ASKS_OPEN.search(question):
        return None
    asked = days_named(question)
    days = open_days(fact)
    if not asked or days is None:
        return None
    if re.search(r"\b(?:closed|shut)\b", question, re.IGNORECASE):
        return not asked.isdisjoint(days)
    return not asked <= days


def days_fact(question: str, sentences: Sequence[str]) -> str | None:
    """The sentence of ``sentences`` that says which days the place is open, for a question
    about being open on some days (:func:`day_conflict` can tell); None otherwise. It answers
    such a question whatever its similarity ("I'll come on Monday, you're open then, right?"
    and "The museum is open every day from 10 am to 5 pm, except Mondays.")."""
    if _WHY.search(question):
        return None  # "How come you're shut on Mondays?" asks for a reason, not the days
    return next((s for s in sentences if day_conflict(question, s) is not None), None)


_WHY = re.compile(r"^\W*(?:(?:and|so|but|ok|okay)\W+)?(?:why|how come)\b", re.IGNORECASE)


def _read(text: str) -> tuple[frozenset[int], frozenset[int]]:
    """The days ``text`` names as open and as closed."""
    opened: set[int] = set()
    closed: set[int] = set()
    shut = False
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        named: set[int] = set()
        if m.group("range"):
            first, last = _index(m.group("first")), _index(m.group("last"))
            named = {(first + i) % 7 for i in range((last - first) % 7 + 1)}
        elif kind == "day":
            named = {_index(m.group("day"))}
        elif kind == "weekdays":
            named = set(range(5))
        elif kind == "weekends":
            named = {5, 6}
        elif kind == "every":
            named = set(EVERY_DAY)
        elif kind == "closed":
            shut = True
        elif kind == "open":
            shut = False
        elif kind == "stop":  # a new clause (a list after "closed" goes on over commas)
            shut = shut and m.group("stop") == ","
        (closed if shut else opened).update(named)
    return frozenset(opened), frozenset(closed)
