"""Hybrid retrieval over one avatar's passages: embedding similarity plus keywords.

A :class:`KnowledgeIndex` is built once per conversation from the stored passages and their
vectors (a snapshot: documents changed during a call are seen by the next one). For each user
turn :meth:`KnowledgeIndex.search`:

1. embeds the user's words (and, for a follow-up such as "And for children?" or "Is it free?",
   the previous question with them: :func:`follows_up`) with the process's
   :class:`~characters.knowledge.embedder.Embedder` (about 5 ms), and takes every passage's
   cosine similarity: the best of its own vector's and its sentences' (one fact among others is
   found by a question about it alone), one matrix product, about 1 ms for the 50 000 tokens an
   avatar may have;
2. adds :data:`KEYWORD_WEIGHT` times the passage's keyword score
   (:class:`~characters.knowledge.keywords.Keywords`, 0–1), so a passage holding the
   question's names and numbers rises above ones that are only about the same subject;
3. keeps the passages scoring at least :data:`MIN_SCORE` and within :data:`MARGIN` of the best,
   best first, while they fit ``max_chars``.

Nothing passing :data:`MIN_SCORE` means the documents do not cover the question: the prompt
then says so, and the character says it does not know.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from characters.knowledge.chunking import sentences
from characters.knowledge.embedder import DIMENSIONS, Embedder, Vectors
from characters.knowledge.grounding import asked_measure
from characters.knowledge.keywords import Keywords, terms
from characters.knowledge.weekdays import asks_about_days, days_fact, open_days

KEYWORD_WEIGHT = 0.3
"""Weight of the keyword score (0–1) beside the cosine similarity."""
MIN_SCORE = 0.5
"""Lowest combined score of a passage worth reading (below: not about the question). Set on the
benchmark's tune questions: their answers' passages scored 0.66–1.09, the best passages for
questions the documents do not answer 0.27–0.47 (one, "How much does the K7 cost?", 0.82: the
passage about the K7's warranty and spare-part prices)."""
MARGIN = 0.15
"""Passages scoring more than this below the best one are left out."""
FOLLOW_UP_PENALTY = 0.05
"""The previous question plus this one is a weaker clue than this one alone."""
CODE_BONUS = 0.3
"""Added to the score of a passage that holds a code the question names (letters and digits:
"E22", "4B") that few passages hold (:data:`CODE_PASSAGES`). "My K7 shows E22. How long should I
let it cool down?" scored 0.36 with the error-code table (MiniLM 0.31; BM25 0.15 of a perfect
match, as "shows", "long" and "cool" are in no passage), under :data:`MIN_SCORE`, so the
question was declined; a code is as exact a clue as a question can give."""
CODE_PASSAGES = 2
"""A code more passages hold ("K7", the product's name) says nothing about which one answers."""
_CODE = re.compile(r"(?=.*[a-z])(?=.*\d)[a-z0-9]+")


def rare_codes(query: str, holders: Sequence[set[str]]) -> list[bool]:
    """For each of ``holders`` (texts' terms), whether it holds a code ``query`` names
    (letters and digits: "E22", "4B") that at most :data:`CODE_PASSAGES` of them hold."""
    codes = [
        t
        for t in set(terms(query))
        if _CODE.fullmatch(t) and sum(t in h for h in holders) <= CODE_PASSAGES
    ]
    return [any(c in h for c in codes) for h in holders]


_FOLLOW_UP = re.compile(
    r"^\W*(and|but|also|so|what about|how about)\b|\b(it|its|them|they|their|that|those|this|"
    r"these|one|ones|he|she|him|her)\b|(?<!\bis )(?<!\bare )\bthere\b(?! is\b| are\b)",
    re.I,
)


_BARE = frozenset(
    terms("long much many often late early far old cost costs price time times when where why")
)
"""What a question may hold and still name nothing ("For how long?", "How much?")."""


def follows_up(text: str) -> bool:
    """Whether ``text`` leans on what was said before ("And for children?", "Is it free?",
    "How long do I hold them?", "For how long?": a short question that names nothing): only
    then does the previous question help the search (a new question searched with the last
    one finds the last one's passages)."""
    if _FOLLOW_UP.search(text):
        return True
    return len(text.split()) <= 4 and set(terms(text)) <= _BARE


@dataclass(frozen=True, slots=True)
class Source:
    """A stored passage of one of the avatar's documents."""

    document_id: str
    document: str
    """The document's name."""
    position: int
    text: str
    tokens: int


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage found for a question, with its scores."""

    source: Source
    score: float
    similarity: float
    keywords: float


@dataclass(frozen=True, slots=True)
class Search:
    """What one search found and how long it took."""

    hits: list[Hit]
    seconds: float

    @property
    def texts(self) -> list[str]:
        return [h.source.text for h in self.hits]


class KnowledgeIndex:
    """One avatar's passages, searchable (thread-safe: reads only)."""

    def __init__(
        self, sources: Sequence[Source], vectors: Sequence[Vectors] | Vectors, embedder: Embedder
    ) -> None:
        """``vectors``: per passage, its vectors (a ``(k, DIMENSIONS)`` array: its own, then its
        sentences'); or one vector per passage as an ``(n, DIMENSIONS)`` array."""
        groups = [np.atleast_2d(np.asarray(v, np.float32)) for v in vectors]
        if len(groups) != len(sources) or any(g.shape[1] != DIMENSIONS for g in groups):
            raise ValueError(f"{len(sources)} passages but {len(groups)} groups of vectors")
        self.sources = list(sources)
        self._vectors = np.ascontiguousarray(
            np.concatenate(groups) if groups else np.zeros((0, DIMENSIONS), np.float32)
        )
        sizes = [len(g) for g in groups]
        self._starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        self._sizes = sizes
        self._by_text = {s.text: i for i, s in enumerate(self.sources)}
        self._embedder = embedder
        self._keywords = Keywords([s.text for s in self.sources])
        self._days: list[tuple[int, list[str]]] | None = None
        """The passages with sentences that say which days the place opens, and those
        sentences, found on first use (:meth:`_days_passage`)."""
        self._last: tuple[tuple[str, ...], Vectors] | None = None
        """The last texts searched for and their vectors (a turn's sentences are scored
        against the same question right after its search)."""

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.sources)

    def __len__(self) -> int:
        return len(self.sources)

    def search(self, query: str, *, context: str = "", max_chars: int = 700) -> Search:
        """The passages that answer ``query`` best (``context``: the user's previous words),
        at most ``max_chars`` of them (the first one always, if any passes)."""
        started = time.perf_counter()
        if not self.sources or not query.strip() or max_chars <= 0:
            return Search([], time.perf_counter() - started)
        if not follows_up(query):
            context = ""  # a new question searched with the last one finds the last one's
        texts, penalties = _query_texts(query, context)
        asked = self._embed_query(texts)
        similarity = np.max(
            [self._similarity(a) - p for a, p in zip(asked, penalties, strict=True)], axis=0
        )
        keywords = self._keywords.scores(query, context=context)
        scores = similarity + KEYWORD_WEIGHT * keywords + CODE_BONUS * self._codes(query)
        order = np.argsort(-scores)
        hits: list[Hit] = []
        used = 0
        best = float(scores[order[0]])
        for i in order[:16]:
            score = float(scores[i])
            if score < MIN_SCORE or score < best - MARGIN:
                break
            source = self.sources[i]
            if hits and used + len(source.text) > max_chars:
                continue
            hits.append(Hit(source, score, float(similarity[i]), float(keywords[i])))
            used += len(source.text)
        measured = self._measured_passage(query, scores, order, [h.source for h in hits])
        if measured is not None:
            # "I'd never noticed the makerspace before. When did it open?": the opening hours
            # state no year; the passage that does ("It opened in 2021 ...") answers it. It
            # takes the place of the passages after the first one if it does not fit beside
            # them (beside the first one, it may go over max_chars).
            s = self.sources[measured]
            while len(hits) > 1 and used + len(s.text) > max_chars:
                used -= len(hits.pop().source.text)
            hits.append(Hit(s, float(scores[measured]), float(similarity[measured]), 0.0))
            used += len(s.text)
        days = self._days_passage(query, scores)
        if days is not None and all(h.source is not self.sources[days] for h in hits):
            # "We were hoping to come up on a Monday afternoon. Is that possible?": the days
            # the place opens answer it, whatever their score.
            if not hits or used + len(self.sources[days].text) <= max_chars:
                s = self.sources[days]
                hits.append(Hit(s, float(scores[days]), float(similarity[days]), 0.0))
        return Search(hits, time.perf_counter() - started)

    def _rare_codes(self, query: str) -> set[str]:
        """The codes ``query`` names that at most :data:`CODE_PASSAGES` passages hold."""
        return {
            t
            for t in terms(query)
            if _CODE.fullmatch(t) and len(self._keywords.holding(t)) <= CODE_PASSAGES
        }

    def _codes(self, query: str) -> Vectors:
        """1 for each passage that holds a code ``query`` names and few passages hold
        (:data:`CODE_BONUS`), else 0."""
        out = np.zeros(len(self.sources), np.float32)
        for code in self._rare_codes(query):
            out[self._keywords.holding(code)] = 1.0
        return out

    def _measured_passage(
        self, query: str, scores: Vectors, order: npt.NDArray[np.intp], found: Sequence[Source]
    ) -> int | None:
        """For a question that asks for a measure (:func:`~characters.knowledge.grounding.
        asked_measure`: a year, a price, a length ...) that none of the passages ``found``
        states, the best scoring passage at least :data:`MIN_SCORE` that does (``order``: the
        passages best first, as :meth:`search` sorted them); None otherwise."""
        measure = asked_measure(query)
        if measure is None or not found or any(measure.search(s.text) for s in found):
            return None
        for i in order[:16]:
            if float(scores[i]) < MIN_SCORE:
                return None
            if measure.search(self.sources[i].text):
                return int(i)
        return None

    def _days_passage(self, query: str, scores: Vectors) -> int | None:
        """For a question about being open on a day ("Can I come on Monday?"), the best
        scoring passage with a sentence that says which days the place opens
        (:func:`~characters.knowledge.weekdays.days_fact`); None for another question or
        none."""
        if not asks_about_days(query):
            return None
        if self._days is None:
            self._days = [
                (i, days)
                for i, s in enumerate(self.sources)
                if (days := [x for x in sentences(s.text) if open_days(x) is not None])
            ]
        found = [i for i, said in self._days if days_fact(query, said)]
        return max(found, key=lambda i: float(scores[i])) if found else None

    def sentence_scores(
        self, query: str, passages: Sequence[str], *, context: str = ""
    ) -> list[tuple[str, float]]:
        """Each sentence of ``passages``, without its passage's heading, and its cosine
        similarity with ``query`` (for a follow-up, also with ``context`` before it, as
        :meth:`search` does), plus :data:`CODE_BONUS` for a sentence that holds a code the
        query names and few passages hold ("E14"). The stored sentence vectors are used (the
        query's vector is the one its search just made); a passage this index does not hold
        is embedded now."""
        if not query.strip():
            return []
        texts, penalties = _query_texts(query, context)
        asked = self._embed_query(texts)
        codes = self._rare_codes(query)
        out: list[tuple[str, float]] = []
        for passage in passages:
            heading, body = split_heading(passage)
            said = sentences(body) or [body]
            vectors = self._sentence_vectors(passage, len(said))
            if vectors is None:
                vectors = self._embedder.embed([f"{heading}: {s}" if heading else s for s in said])
            products = np.einsum("ij,kj->ik", vectors, asked)
            products -= np.array(penalties, np.float32)
            best = products.max(axis=1)
            if codes:
                best += CODE_BONUS * np.array([not codes.isdisjoint(terms(x)) for x in said])
            out += zip(said, (float(p) for p in best), strict=True)
        return out

    def _sentence_vectors(self, passage: str, count: int) -> Vectors | None:
        """The stored vectors of ``passage``'s ``count`` sentences (a one-sentence passage's
        own), or None when they are not stored so."""
        i = self._by_text.get(passage)
        if i is None:
            return None
        start, size = int(self._starts[i]), self._sizes[i]
        if size == 1 and count == 1:
            return self._vectors[start : start + 1]
        if size - 1 == count:
            return self._vectors[start + 1 : start + size]
        return None

    def _embed_query(self, texts: list[str]) -> Vectors:
        """The vectors of a query's texts (the last ones are kept)."""
        key = tuple(texts)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        vectors = self._embedder.embed(texts)
        self._last = (key, vectors)
        return vectors

    def _similarity(self, vector: Vectors) -> Vectors:
        """Each passage's cosine similarity with ``vector``: the best of its own vector's and
        its sentences'. ``einsum`` rather than ``@``: numpy's BLAS splits this product over
        threads that sleep between turns, and waking them took 7 ms of a 7.3 ms product on
        2 cores (einsum, on the calling thread: 0.3 ms for 5 000 vectors)."""
        products = np.einsum("ij,j->i", self._vectors, vector)
        scores: Vectors = np.maximum.reduceat(products, self._starts)
        return scores


def _query_texts(query: str, context: str) -> tuple[list[str], list[float]]:
    """What a query is embedded as, each text with what is taken off its similarities: itself;
    for a follow-up (:func:`follows_up`) the previous user turn with it
    (:data:`FOLLOW_UP_PENALTY`); for another, its :func:`last_sentence` alone (what is said
    before the question blurs its vector)."""
    if follows_up(query) and context.strip():
        return [query, f"{context} {query}"], [0.0, FOLLOW_UP_PENALTY]
    last = last_sentence(query)
    return ([query, last], [0.0, 0.0]) if last else ([query], [0.0])


_POINTS_BACK = re.compile(r"\b(?:it|its|that|this|these|those|they|them|he|him|she|her)\b", re.I)


def last_sentence(query: str) -> str | None:
    """The last sentence of a query of several, when it does not point back to what comes
    before it ("Is there anything on in the planetarium about *it*?"): the question alone,
    without the story around it ("I've lost the confirmation email for my booking. What does
    the booking reference look like, ...?"). None otherwise."""
    said = sentences(query)
    if len(said) < 2 or not re.search(r"\w", said[-1]) or _POINTS_BACK.search(said[-1]):
        return None
    return said[-1]


_HEADING = re.compile(r"^([^.:!?\n]{1,60}):\s+(?=\S)")


def split_heading(passage: str) -> tuple[str, str]:
    """A passage's section heading ("Opening hours: The baths ...") and the rest."""
    m = _HEADING.match(passage)
    return (m.group(1), passage[m.end() :]) if m else ("", passage)
