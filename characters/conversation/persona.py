"""Which of the persona's facts answers a question: embeddings first, words as a fallback.

A character without documents answers from its personality. To check an answer
(:mod:`characters.knowledge.grounding`) and to replace one the persona does not back, the
conversation needs the persona sentence that answers the question, if one does.
:class:`PersonaFacts` finds it with the knowledge base's embedding model (MiniLM): the
question's cosine similarity with each fact sentence (embedded once per conversation, a few
milliseconds each; the question about 5 ms per turn), plus a share of the question's words it
holds, as the knowledge base's hybrid search does. Embeddings see what shared words miss ("How
can I pay for tickets?" and "... the ticket office takes cash and cards"), words what
embeddings blur ("What are your hours on Saturday?" and the opening hours). A follow-up ("And
for an adult?") is embedded with the previous user turn. Without the embedding model, the
word-overlap rule :func:`~characters.conversation.facts.answering_facts` decides.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from characters.conversation.facts import (
    answering_facts,
    held_shares,
    is_fact,
    modifiers_unheld,
    unheld,
)
from characters.errors import CharactersError
from characters.knowledge.embedder import Embedder, Vectors, load_embedder
from characters.knowledge.grounding import (
    asked_measure,
    asks_for_people,
    claimed_measure,
    measured_units,
    names_people,
    prices_another,
)
from characters.knowledge.groups import asked_group, group_price
from characters.knowledge.index import CODE_BONUS, follows_up, last_sentence, rare_codes
from characters.knowledge.keywords import terms
from characters.knowledge.weekdays import day_conflict, days_fact

log = logging.getLogger(__name__)

WORDS_WEIGHT = 0.3
"""Weight of the share of the question's words a fact holds, beside the cosine similarity."""
MIN_SCORE = 0.6
"""Lowest combined score of the fact that answers a question. On the benchmark's questions
(bench/answers.py, three splits), the facts that answer them scored 0.52–1.20 (two under 0.6),
the best facts for questions the persona cannot answer 0.16–0.73 (eight of 30 over 0.6)."""
NEAR_SCORE = 0.45
"""Lowest score of a fact an answer may take its numbers from, that keeps a question from
being declined before the model answers ("How much is a haircut for a guy?" and "... a men's
cut 30 dollars": 0.52), and that replaces a failed answer after the partial line when no fact
answers ("Which day of the week are you shut?" and "... it is closed on Sundays")."""
HEDGE_SCORE = 0.38
"""Lowest score of a fact said after the partial line in place of an answer that failed, or of
a question declined before the model answers, when none answers it: on the benchmark's
questions the facts that answer them but score under :data:`NEAR_SCORE` scored 0.39–0.44
("Is there somewhere to buy food on the boat?" and "There is a snack bar on board ..."), and
the questions a persona cannot answer that score as much get a hedge with the nearest thing it
knows ("Do you have free Wi-Fi?" → "I'm not sure about that exactly. The public computers are
free to use ...") rather than the unknown line."""
PEOPLE_BONUS = 0.35
"""Added to the score of a sentence that names people (:func:`~characters.knowledge.grounding.
names_people`) for a question that asks who (:func:`~characters.knowledge.grounding.
asks_for_people`): MiniLM scores "Which hairdressers work at the salon?" higher with the opening
hours (0.49) than with "The stylists are Lena, Marco and Priya." (0.44), and "Who would be
teaching me to drive?" with the lesson prices (0.57) than with the instructors' names."""
MARGIN = 0.1
"""Facts scoring more than this under the best one do not answer the question."""
GROUP_BONUS = 0.15
"""Added to the score of a sentence that gives the group a question names a price of its own
(:func:`~characters.knowledge.groups.group_price`): "What would it cost me as an adult to climb
for the day?" and "A day pass costs 16 dollars for adults and 11 dollars for children under
14." (0.62 before, against 0.76 for the belay course's price)."""
UNIT_BONUS = 0.15
"""Added to the score of a sentence that measures something in a unit the question gives a
figure in (:func:`~characters.knowledge.grounding.measured_units`): "My puppy's eight weeks
old, so she can come in for her first groom, can't she?" is about "Puppies must be at least
12 weeks old ...", not (only) "A puppy's first groom costs 20 dollars ..."."""
MEASURE_PENALTY = 0.4
"""Taken off the score of a sentence that does not state the measure a question asks for
(:func:`~characters.knowledge.grounding.asked_measure`: a price, a time, a length), when
another does: "What would it cost me as an adult to climb for the day?" is nearer, in MiniLM's
eyes, to "Children must be at least 6 years old to climb, and anyone under 16 must be with an
adult at all times." (0.81) than to "A day pass costs 16 dollars for adults ..." (0.62). A
yes/no question that claims a price asks for one too (:func:`~characters.knowledge.grounding.
claimed_measure`): "Late books are a dollar a day, right?" is answered by "Overdue items cost
20 cents a day each.", not by the loan limits ("Card holders can borrow ... books for 3 weeks
...", which hold more of its words). 0.3 left "How loud is the K7 when it's grinding?" with
"The K7 grinds by time." (0.43 against 0.42 for "Noise: 68 dB at 1 metre."); 0.4, with
"charged half the price" read as a price, changed no other answer of either benchmark's
replay (2026-12-07)."""

DAYS_GAP = 0.15
"""How much more than the sentence that says the open days (when the asked day is open) a
sentence must score to answer a question about coming on a day: "I'll just pop in
for a colour on Saturday without booking, that's OK, isn't it?" turns on the colour's
appointment (0.50), not on Saturday's hours (0.31); "I'd like to come in on Sunday and talk
about a cake. What are your hours that day?" on the hours (0.72, against 0.78)."""


SURE_SCORE = 0.75
"""Lowest score of a sentence said in place of an answer without ``knowledge_partial_line``
when it does not hold every word of the question (:func:`answers_surely`). On the answers
benchmark's replacements (2026-12-06), the sentences that answered scored 0.39–1.30, a quarter
of them over 0.75 ("How much is my cat's yearly jab?" and "A yearly vaccination booster costs
..." 0.82); the nearest sentences to questions the persona cannot answer 0.38–0.81, the three
over 0.7 each missing a word no sentence holds ("Can I buy a pair of climbing shoes from
you?" and "Climbing shoes can be rented ..." 0.73) or one another holds ("What does it cost
to have a dog neutered?" and "Neutering a cat costs 120 dollars ..." 0.81)."""


def answers_surely(
    question: str, sentence: str, score: float, *, context: str, others: Sequence[str]
) -> bool:
    """Whether ``sentence`` (its heading and the sentence before it in ``context``), found for
    ``question`` with ``score``, answers it without doubt: it holds all the question is about
    (:func:`~characters.conversation.facts.unheld`), or it scores at least
    :data:`SURE_SCORE` and what it lacks is held by none of ``others`` (the other sentences
    known) nor stands before a word it holds (:func:`~characters.conversation.facts.
    modifiers_unheld`: "part-time" against "full-time"), and it names people when the
    question asks who ("Who repairs the broken toys?" is not answered by "Toys must be
    returned clean ..."). Never when the question asks the price of something the sentence
    lists without one (:func:`~characters.knowledge.grounding.prices_another`)."""
    if prices_another(question, sentence):
        # "How much are the cinnamon buns?" and "... fish soup for 11 dollars, cinnamon buns".
        return False
    if not unheld(context, question):
        return True
    if (
        score < SURE_SCORE
        or (asks_for_people(question) and not names_people(sentence))
        or modifiers_unheld(context, question)
    ):
        return False
    return not unheld(context, question, others)


class PersonaFacts:
    """The fact sentences of one personality (:func:`~characters.conversation.facts.is_fact`:
    not "You are Bella, ..." or "Keep answers short.") and their vectors, made on first use."""

    def __init__(self, sentences: Sequence[str], models_dir: Path | None) -> None:
        self.facts = [s for s in sentences if is_fact(s)]
        self._models_dir = models_dir
        self._embedder: Embedder | None = None
        self._vectors: Vectors | None = None
        self._ready = models_dir is None  # nothing to load: words only
        self._last: tuple[tuple[str, str], npt.NDArray[np.float32]] | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Load the embedding model (once per process) and embed the facts, now rather than
        during the first answer (a second thread waits for the first); without the model, words
        alone decide (logged once)."""
        with self._lock:
            if self._ready:
                return
            self._ready = True
            if not self.facts or self._models_dir is None:
                return
            try:
                embedder = load_embedder(self._models_dir)
                self._vectors = embedder.embed(self.facts)
                self._embedder = embedder
            except CharactersError as e:
                log.warning("persona facts are matched by their words only: %s", e)
            except Exception:
                log.exception("persona facts are matched by their words only")

    def answering(
        self, question: str, *, context: str = "", limit: int = 1, min_score: float | None = None
    ) -> list[str]:
        """The facts that answer ``question`` (``context``: the previous user turn), best
        first, at most ``limit``: each fact scores its cosine similarity with the question plus
        :data:`WORDS_WEIGHT` times the share of the question's words it holds
        (:func:`~characters.conversation.facts.held_shares`); facts scoring at least
        ``min_score`` (default :data:`MIN_SCORE`; :data:`NEAR_SCORE` for the facts an answer
        may draw on), and within :data:`MARGIN` of the best, answer it. Without the
        embedding model the words alone decide
        (:func:`~characters.conversation.facts.answering_facts`)."""
        self.prepare()
        scores = None
        if self._embedder is None or self._vectors is None or not question.strip():
            found = answering_facts(self.facts, question, context=context, limit=limit)
        else:
            scores = self._scores(question, context)
            found = _best(self.facts, scores, limit, min_score)
        return _days_first(question, found, self.facts, limit, scores)

    def score_of(self, question: str, fact: str, *, context: str = "") -> float:
        """``fact``'s score for ``question`` (as :meth:`answering` ranks it); 0.0 without the
        embedding model, or for a sentence that is not one of the facts."""
        self.prepare()
        if self._embedder is None or fact not in self.facts or not question.strip():
            return 0.0
        return float(self._scores(question, context)[self.facts.index(fact)])

    @cached_property
    def _fact_terms(self) -> list[set[str]]:
        """Each fact's terms (:func:`~characters.knowledge.keywords.terms`), read once."""
        return [set(terms(f)) for f in self.facts]

    def _scores(self, question: str, context: str) -> npt.NDArray[np.float32]:
        """Each fact's score for ``question``; the last question's are kept, as a turn asks
        two or three times (an embedding costs 5–20 ms on a busy core)."""
        key = (question, context)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        assert self._embedder is not None and self._vectors is not None
        texts = [question]
        if context and follows_up(question):
            texts = [f"{context} {question}"]
        elif alone := last_sentence(question):
            texts.append(alone)  # the question alone too, as a document search does
        vectors = self._embedder.embed(texts)
        similarities = np.einsum("ij,kj->ik", self._vectors, vectors).max(axis=1)
        scores = combined(similarities, self.facts, question)
        codes = rare_codes(question, self._fact_terms)
        scores = (scores + CODE_BONUS * np.array(codes, np.float32)).astype(np.float32)
        self._last = (key, scores)
        return scores


def combined(
    similarities: npt.NDArray[np.float32], sentences: Sequence[str], question: str
) -> npt.NDArray[np.float32]:
    """Each sentence's score for ``question``: its cosine similarity plus :data:`WORDS_WEIGHT`
    times the share of the question's words it holds
    (:func:`~characters.conversation.facts.held_shares`), plus :data:`PEOPLE_BONUS` for one
    that names people when the question asks who."""
    words = np.array(held_shares(sentences, question), np.float32)
    scores: npt.NDArray[np.float32] = similarities.astype(np.float32) + WORDS_WEIGHT * words
    if asks_for_people(question):
        people = np.array([names_people(s) for s in sentences], np.float32)
        scores = scores + PEOPLE_BONUS * people
    if asked_group(question) is not None:
        priced = np.array([group_price(question, [s]) is not None for s in sentences])
        scores = (scores + GROUP_BONUS * priced).astype(np.float32)
    units = measured_units(question)
    if units:
        measured = np.array([not units.isdisjoint(measured_units(s)) for s in sentences])
        scores = (scores + UNIT_BONUS * measured).astype(np.float32)
    measure = asked_measure(question) or claimed_measure(question)
    if measure is not None:
        states = np.array([bool(measure.search(s)) for s in sentences])
        if states.any():
            scores = np.where(states, scores, scores - MEASURE_PENALTY).astype(np.float32)
    return scores


def sentence_score(scored: Sequence[tuple[str, float]], question: str, sentence: str) -> float:
    """``sentence``'s score for ``question`` among ``scored`` (as :func:`answering_sentences`
    ranks them); 0.0 if it is not one of them."""
    texts = [t for t, _ in scored]
    if sentence not in texts:
        return 0.0
    scores = combined(np.array([c for _, c in scored], np.float32), texts, question)
    return float(scores[texts.index(sentence)])


def answering_sentences(
    scored: Sequence[tuple[str, float]],
    question: str,
    *,
    limit: int = 1,
    min_score: float | None = None,
) -> list[str]:
    """The sentences that answer ``question``, best first, from ``(sentence, cosine
    similarity)`` pairs (a document's passages, :meth:`~characters.knowledge.index.
    KnowledgeIndex.sentence_scores`), by the rule :meth:`PersonaFacts.answering` applies to a
    persona's facts."""
    if not scored:
        return []
    texts = [t for t, _ in scored]
    scores = combined(np.array([c for _, c in scored], np.float32), texts, question)
    return _days_first(question, _best(texts, scores, limit, min_score), texts, limit, scores)


def _days_first(
    question: str,
    found: list[str],
    sentences: Sequence[str],
    limit: int,
    scores: npt.NDArray[np.float32] | None = None,
) -> list[str]:
    """``found``, with the sentence that says which days the place is open first for a
    question about being open on a day (:func:`~characters.knowledge.weekdays.days_fact`),
    unless that sentence agrees with the question (the day is open) and another sentence
    scores :data:`DAYS_GAP` more (``scores``: each sentence's): then the day is not what the
    question turns on."""
    days = days_fact(question, sentences)
    if days is None:
        return found
    if (
        scores is not None
        and not day_conflict(question, days)
        and float(scores.max()) >= scores[sentences.index(days)] + DAYS_GAP
    ):
        return found
    return [days, *(f for f in found if f != days)][:limit]


def _best(
    texts: Sequence[str], scores: npt.NDArray[np.float32], limit: int, min_score: float | None
) -> list[str]:
    """The (at most ``limit``) texts scoring at least ``min_score`` (default
    :data:`MIN_SCORE`) and within :data:`MARGIN` of the best, best first."""
    if not len(texts):
        return []
    best = float(scores.max())
    floor = MIN_SCORE if min_score is None else min_score
    order = [int(i) for i in np.argsort(-scores, kind="stable")[:limit]]
    return [texts[i] for i in order if scores[i] >= floor and scores[i] >= best - MARGIN]
