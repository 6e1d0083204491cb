"""Keyword search (BM25) over passages: finds names, numbers and rare words exactly.

Embeddings find passages that mean the same as the question, but blur exact tokens: "the
Zorblax 3000" or "room 4B" look like any product or room to them. BM25 scores passages by the
question's words they contain, each weighted by how rare it is among the passages. Terms are
lower-case words, numbers and codes ("4,217" and "4217" are the same term; "9:30" is "9" and
"30"; "E22" and "4B" stay whole), with
a crude English stem ("repairs" = "repair") and without words that say nothing ("the", "what").

:meth:`Keywords.scores` returns, per passage, the BM25 score divided by the score a passage
holding every question word once would get (so 1.0 means "has all of them"; a question word that
no passage has lowers every score, which is what an off-topic question looks like).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

K1 = 1.2
B = 0.75

_WORD = re.compile(r"\d+(?:[.,]\d+)+|[a-z0-9]+(?:'[a-z]+)?")

STOPWORDS = frozenset(
    """a an the and or but if of at by for with about to from in on into over under is are was
    were be been being am do does did done have has had having i you he she it we they me him
    her us them my your his its our their this that these those there here what which who whom
    whose can could will would shall should may might must not no yes so than too very just
    also any some all each every other such only own same as then once again out off more most
    much many how why where when tell please know want like get got go going isn't aren't don't
    doesn't can't won't i'm you're it's we're there's that's let let's okay ok hi hello hey
    thanks thank s""".split()
)


STEM = 4
"""Letters that make two forms of a word the same where a loose match is enough ("save" and
"saved", "ferry" and "ferries", "bun" and "buns", "close" and "closing")."""

NUMBER_WORDS = tuple(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen""".split()
)
"""The numbers from 0 to 19 in words, each at its value."""


IRREGULAR = {
    form: base
    for base, forms in (
        ("pay", "paid payment payments"),
        ("build", "built"),
        ("make", "made"),
        ("sell", "sold"),
        ("buy", "bought"),
        ("keep", "kept"),
        ("take", "took taken"),
        ("give", "gave given"),
        ("bring", "brought"),
        ("tell", "told"),
        ("hold", "held"),
        ("meet", "met"),
        ("begin", "began begun"),
        ("go", "went gone"),
        ("come", "came"),
        ("spend", "spent"),
        ("send", "sent"),
        ("teach", "taught"),
        ("think", "thought"),
        ("choose", "chose chosen"),
        ("drive", "drove driven"),
        ("write", "wrote written"),
        ("eat", "ate eaten"),
        ("wear", "wore worn"),
        ("lose", "lost"),
        ("catch", "caught"),
        ("run", "ran"),
        ("sit", "sat"),
        ("sleep", "slept"),
        ("stand", "stood"),
        ("feed", "fed"),
        ("show", "shown"),
        ("grow", "grew grown"),
        ("fly", "flew flown"),
        ("break", "broke broken"),
        ("freeze", "froze frozen"),
        ("ride", "rode ridden"),
        ("swim", "swam swum"),
        ("drink", "drank drunk"),
        ("child", "children"),
        ("man", "men"),
        ("woman", "women"),
        ("foot", "feet"),
        ("tooth", "teeth"),
        # Derived forms that ask for the same thing ("join as a member" and "membership").
        ("member", "membership memberships"),
        ("work", "workplace workplaces"),
        ("collect", "collection collections"),
        ("deliver", "delivery deliveries"),
        ("arrive", "arrival arrivals"),
        ("depart", "departure departures"),
        ("enter", "entry entries entrance entrances"),
        ("admit", "admission admissions"),
        ("weight", "weigh weighs weighed weighing heavy heavier"),
    )
    for form in forms.split()
}
"""Irregular forms and the word they are a form of ("paid" and "payment" are "pay", "built" is
"build"; "membership" is "member"): the stem of a regular form is made by cutting its ending,
these are looked up."""


def _stem(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    if word in IRREGULAR:
        return IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """The searchable terms of ``text``, in order (repeats kept)."""
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("\u2019", "'")):
        if re.fullmatch(r"\d{1,3}(,\d{3})+", word):
            out.append(word.replace(",", ""))
        elif any(c.isdigit() for c in word):
            out.append(word.removesuffix("'s"))  # a number or a code: "1.2", "4b", "e22"
        elif word not in STOPWORDS and not (word.endswith("'s") and word[:-2] in STOPWORDS):
            out.append(_stem(word))  # "what's" says no more than "what"
    return out


class Keywords:
    """A BM25 index of passages (built once per conversation). Each term's passages and their
    saturated term weights are precomputed as arrays, so a query costs one vectorised add per
    word (well under a millisecond at 1 500 passages)."""

    def __init__(self, passages: Sequence[str]) -> None:
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for i, text in enumerate(passages):
            counts = Counter(terms(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                postings.setdefault(term, []).append((i, tf))
        self.size = len(passages)
        length = np.array(lengths, np.float32)
        norm = length / float(length.mean()) if lengths and length.mean() > 0 else length
        self._postings: dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]] = {}
        for term, rows in postings.items():
            ids = np.array([i for i, _ in rows], np.intp)
            freq = np.array([f for _, f in rows], np.float32)
            saturated = freq * (K1 + 1) / (freq + K1 * (1 - B + B * norm[ids]))
            self._postings[term] = (ids, saturated.astype(np.float32))

    def holding(self, term: str) -> npt.NDArray[np.intp]:
        """The passages that hold ``term`` (a term of :func:`terms`)."""
        posting = self._postings.get(term)
        return np.zeros(0, np.intp) if posting is None else posting[0]

    def idf(self, term: str) -> float:
        posting = self._postings.get(term)
        df = 0 if posting is None else len(posting[0])
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def scores(
        self, query: str, *, context: str = "", context_weight: float = 0.5
    ) -> npt.NDArray[np.float32]:
        """Each passage's BM25 score for ``query`` as a fraction of a perfect match of its words
        (0–1); words of ``context`` (the previous question) add ``context_weight`` as much."""
        out = np.zeros(self.size, np.float32)
        asked = set(terms(query))
        weights = dict.fromkeys(asked, 1.0)
        for t in set(terms(context)) - asked:
            weights[t] = context_weight
        if not weights or not self.size:
            return out
        ideal = sum(self.idf(t) for t in asked)
        for term, weight in weights.items():
            posting = self._postings.get(term)
            if posting is not None:
                ids, saturated = posting
                out[ids] += np.float32(self.idf(term) * weight) * saturated
        return np.minimum(out / ideal, 1.0) if ideal > 0 else out
