"""Who a price is for: the group a question names, and the price a fact gives that group.

"I'm a student. What would a three-hour visit cost me?" has one right answer when the facts say
"A 3-hour ticket costs 19 dollars. Students pay 15 dollars for a 3-hour ticket.": 15 dollars.
The small model often answers with the first price it reads (19), which the words check
(:mod:`characters.knowledge.grounding`) cannot see as wrong: 19 is a known price, said of the
3-hour ticket. This module reads the group a question is about (:func:`asked_group`: students,
children, or a child of a given age, seniors, members, residents, adults) and the prices facts
pair with groups (:func:`group_prices`: "14 dollars for adults, 9 dollars for students and
8 dollars for children from 5 to 15"), so that an answer can be held to the group's price
(:func:`group_price`). It also reads what a price in a list is for
(:func:`price_of_another`): in "It serves tea, coffee, hot chocolate for 3.50 dollars", tea
has no price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from characters.knowledge.keywords import NUMBER_WORDS, STEM, terms

_GROUPS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in (
        ("student", r"\bstudents?\b|\bcollege\b|\buniversity\b|\bstudent card\b"),
        ("senior", r"\bseniors?\b|\bpensioners?\b|\bretired\b|\bover[- ]?(?:60|65|70)s?\b"),
        ("member", r"\bmembers?\b"),
        ("resident", r"\bresidents?\b|\blocals?\b"),
        (
            "child",
            r"\bchild(?:ren)?\b|\bkids?\b|\bunder[- ]?\d{1,2}s\b|\btoddlers?\b|\bbab(?:y|ies)\b|"
            r"\bson\b|\bdaughter\b|\bnephew\b|\bniece\b|\bgrand(?:son|daughter|child)\b",
        ),
        ("adult", r"\badults?\b|\bgrown[- ]?ups?\b"),
    )
}
"""The groups a price is given for, and the words that name each (in a question or a fact)."""

_AGE = re.compile(
    r"\b(\d{1,2})[- ]?(?:year[- ]?olds?|years? old|yo)\b|\baged? (\d{1,2})\b|"
    r"\b(?:son|daughter|nephew|niece|kid|child|boy|girl|grandson|granddaughter)(?:'s| is) "
    r"(?:only |just )?(\d{1,2})\b|\bturns (\d{1,2})\b",
    re.IGNORECASE,
)
"""An age a question gives: "my 12-year-old", "aged 9", "my nephew's 10", "he turns 16"."""
_ABOUT_PRICE = re.compile(
    r"\b(?:cost|costs|costing|price|prices|pay|paying|charge|charged|fee|fees|how much|cheaper|"
    r"discount|discounts|fare|fares|free|dollars?)\b|^\W*(?:and|what about|how about)\b",
    re.IGNORECASE,
)
"""A question about a price ("What would ... cost me?", "Do we get it any cheaper?"), or a
follow-up that may be one ("And for a child of ten?")."""
_JOINS = re.compile(r"\b(?:join|joining|become|becoming|sign(?:ing)? up)\b", re.IGNORECASE)
"""A question about joining a group ("What does it cost to join as a member?") asks what
joining costs, not the group's price of something."""
_UNDER = re.compile(r"\bunder[- ]?(\d{1,2})s?\b", re.IGNORECASE)
_OVER = re.compile(r"\b(?:over|from)[- ]?(\d{1,2})(?:s\b|\b)(?! to)", re.IGNORECASE)
_RANGE = re.compile(r"\b(?:from|aged?|between) (\d{1,2}) (?:to|and|-) (\d{1,2})\b", re.IGNORECASE)
_PRICE = re.compile(
    r"[$€£]\s*(\d[\d.,]*)|(\d[\d.,]*)(?:-|\s*)(?:dollars?|euros?|pounds?|usd|eur|gbp)\b|\b(free)\b",
    re.IGNORECASE,
)
_CLAUSES = re.compile(r";|,|\.\s|\bor\b|\band\b(?! up to)|\bwhile\b|\bbut\b|\bwhereas\b", re.I)
"""Where one price ends and the next begins: "14 dollars for adults, 9 dollars for students
and 8 dollars for children"."""
_ADULT_AGE = 18
"""The age from which a question's person pays an adult's price (when facts name none)."""


@dataclass(frozen=True, slots=True)
class Asked:
    """The group a question is about, and the age it gives, if any."""

    group: str
    age: int | None = None


@dataclass(frozen=True, slots=True)
class GroupPrice:
    """A price a fact gives a group ("8 dollars for children from 5 to 15")."""

    group: str
    """A key of :data:`_GROUPS`, or ``""`` for a price said for no group ("costs 19 dollars")."""
    prices: frozenset[str]
    """Its price as terms ("8", "free")."""
    lowest: int = 0
    highest: int = 17
    """The ages a child's price is for ("from 5 to 15", "under 14"; else any child's)."""

    def fits(self, asked: Asked) -> bool:
        """Whether this price is the one for ``asked`` (a child's by its ages, when given)."""
        if asked.age is not None and self.group == "child":
            return self.lowest <= asked.age <= self.highest
        return self.group == asked.group


def asked_group(question: str) -> Asked | None:
    """The group ``question`` asks a price for: "I'm a student. What would ... cost me?" →
    students; "My 12-year-old ..." → a child of 12; "for a grown-up" → adults. None when it
    names none, or is not about a price ("Who runs the kids' parties?")."""
    if not _ABOUT_PRICE.search(question):
        return None
    m = _AGE.search(question)
    if m is not None:
        age = int(next(g for g in m.groups() if g))
        return Asked("child" if age < _ADULT_AGE else "adult", age)
    for name, pattern in _GROUPS.items():
        if pattern.search(question):
            return None if name == "member" and _JOINS.search(question) else Asked(name)
    return None


_AGE_WORDS = {word: str(n) for n, word in enumerate(NUMBER_WORDS)}
_AGE_WORD = re.compile(r"\b(" + "|".join(_AGE_WORDS) + r")\b", re.IGNORECASE)
_MIN_AGE = re.compile(
    r"\bat least (\d{1,2})(?=\s+(?:years?|and|to)\b|[.,;]|$)|\bminimum age is (\d{1,2})\b|"
    r"\b(?:aged |people )?(\d{1,2})(?: years)? and (?:over|older|up|above)\b|"
    r"\bunder[- ]?(\d{1,2})s? (?:cannot|can't|can not|may not|must not|are not allowed|is not "
    r"allowed)\b|(\badults? only\b|\bonly for adults\b)",
    re.IGNORECASE,
)
"""A lowest age a sentence sets: "must be at least 12 years old", "aged 14 and over", "children
under 8 cannot join", "for adults only" (18)."""


def too_young(question: str, fact: str) -> bool:
    """Whether the age ``question`` gives ("My daughter's only five", "my 10-year-old") is under
    the lowest age ``fact`` sets (:data:`_MIN_AGE`): "..., she can have a go on the wall,
    can't she?" against "Children must be at least 6 years old to climb"."""
    m = _AGE.search(_AGE_WORD.sub(lambda w: _AGE_WORDS[w.group(1).lower()], question))
    if m is None:
        return False
    age = int(next(g for g in m.groups() if g))
    lowest = [
        _ADULT_AGE if found.group(5) else int(next(g for g in found.groups() if g))
        for found in _MIN_AGE.finditer(fact)
    ]
    return bool(lowest) and age < min(lowest)


def stated_prices(text: str) -> list[str]:
    """The prices ``text`` states, as terms ("15", "free"), in order."""
    return [t for m in _PRICE.finditer(text) for t in terms(next(g for g in m.groups() if g))]


def paid_prices(text: str) -> set[str]:
    """The prices ``text`` states that are paid: :func:`stated_prices` without "free"."""
    return set(stated_prices(text)) - {"free"}


def group_prices(fact: str) -> list[GroupPrice]:
    """The prices ``fact`` gives, each with the group it is for (``""``: none named): one per
    clause that states one price (:data:`_CLAUSES`)."""
    out: list[GroupPrice] = []
    for clause in _CLAUSES.split(fact):
        price = frozenset(stated_prices(clause))
        if len(price) != 1:
            continue
        named = [name for name, pattern in _GROUPS.items() if pattern.search(clause)]
        if not named:
            out.append(GroupPrice("", price))
            continue
        lowest, highest = 0, _ADULT_AGE - 1
        if (r := _RANGE.search(clause)) is not None:
            lowest, highest = int(r.group(1)), int(r.group(2))
        elif (u := _UNDER.search(clause)) is not None:
            highest = int(u.group(1)) - 1
        elif (o := _OVER.search(clause)) is not None:
            lowest = int(o.group(1))
        out += [GroupPrice(name, price, lowest, highest) for name in named]
    return out


def group_price(question: str, facts: Iterable[str]) -> tuple[str, frozenset[str]] | None:
    """For a question that names a group (:func:`asked_group`), the first of ``facts`` that
    gives that group a price of its own, and that price; None when the question names no group
    or no fact prices it apart. An adult's price is also the one a fact gives no group beside
    others' ("30 dollars per person, or 22 dollars for students"), and an age picks the
    children's price whose ages hold it, else the adults' ("My 15-year-old" and "28 dollars
    for children aged 8 to 15")."""
    asked = asked_group(question)
    if asked is None:
        return None
    for fact in facts:
        priced = group_prices(fact)
        if not any(p.group for p in priced):
            continue  # no group priced apart: every price is everybody's
        for p in priced:
            if p.group and p.fits(asked):
                return fact, p.prices
        if asked.group == "adult" or asked.age is not None:
            # Older than every child's price is for: the adults', or the price for no group.
            older = [p for p in priced if p.group == "adult"] or [p for p in priced if not p.group]
            if older:
                return fact, older[0].prices
    return None


def clauses_of(sentences: Iterable[str]) -> list[list[str]]:
    """Each sentence cut where one price ends and the next begins (:data:`_CLAUSES`)."""
    return [_CLAUSES.split(sentence) for sentence in sentences]


def price_of_another(subject: Iterable[str], said: str, sentences: Iterable[list[str]]) -> bool:
    """Whether a price ``said`` states is, in every known sentence that gives it, another
    thing's in a list that names the question's ``subject`` (its terms) without a price: "A
    cup of tea costs 3.50 dollars." where "It serves tea, coffee, hot chocolate for 3.50
    dollars, ..." gives 3.50 for the hot chocolate, and tea no price. A clause that prices the
    subject, or a subject said before its prices ("Tickets cost 17 dollars for adults and 9
    dollars for children"), lets the price through. ``sentences``: the known sentences, each
    as its clauses (:func:`clauses_of`)."""
    subject, sentences = set(subject), list(sentences)
    return any(is_another_price(subject, price, sentences) for price in paid_prices(said))


def is_another_price(subject: Iterable[str], price: str, sentences: Sequence[list[str]]) -> bool:
    """Whether ``price`` (a term: "3.50") is, in every one of ``sentences`` (each as its
    clauses) that gives it, and in at least one, another thing's in a list that names
    ``subject`` without a price (:func:`price_of_another`)."""
    stems = {t[:STEM] for t in subject}
    if not stems:
        return False

    def names(clause: str) -> bool:
        return any(t[:STEM] in stems for t in terms(clause))

    holding = [clauses for clauses in sentences if any(price in stated_prices(c) for c in clauses)]
    return bool(holding) and all(
        not any(names(c) for c in clauses if price in stated_prices(c))
        and any(names(c) and not stated_prices(c) for c in clauses)
        for clauses in holding
    )
