"""The conversation engine: the models a process loads once, and one character's conversation.

:class:`Engines` holds what is shared by every conversation of a process: the speech
recognizer, the voice activity and end-of-turn models, and the language model. It is built once
(:meth:`Engines.load`), which is where bad configuration (an unknown voice, an unreachable LLM
URL, a missing model package) fails, with one clear error, before any user speaks.

:class:`Conversation` is one character talking with one user: it keeps the session's memory and
turns a user's text into the character's answer, as a stream of :class:`AgentEvent` s: spoken
text with its audio chunk by chunk, tool calls, and a final :class:`AgentDone` with the
timings of the turn. It is synchronous (the models are), cancellable through a
``threading.Event``; :mod:`characters.conversation.voice` drives it from live audio.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from characters.config import Settings
from characters.conversation.facts import (
    coverage,
    first_person,
    persona_facts,
    relevant_facts,
    unknown_thing,
)
from characters.conversation.in_character import InCharacter
from characters.conversation.listener import UNFINISHED_SILENCE_MS, Listener, ListenerConfig
from characters.conversation.llm import LLM, make_llm
from characters.conversation.persona import (
    HEDGE_SCORE,
    NEAR_SCORE,
    PersonaFacts,
    answering_sentences,
    answers_surely,
    sentence_score,
)
from characters.conversation.prompt import (
    KNOWLEDGE_HEADER,
    Character,
    Message,
    ToolCall,
    ToolSpec,
    asks_for_information,
    build_messages,
)
from characters.conversation.spoken import Speech, SpokenStream, ToolCallEvent, without_label
from characters.conversation.stt import Recognizer, load_recognizer
from characters.conversation.tools import (
    EVENT_SENT,
    Actions,
    ArgumentError,
    ToolResult,
    check_arguments,
    error_note,
    result_note,
    said_as_is,
    spoken_result,
    uses_result,
)
from characters.conversation.turn import SmartTurn
from characters.conversation.vad import SileroVAD
from characters.knowledge.chunking import sentences
from characters.knowledge.grounding import (
    Grounding,
    asks_for_people,
    claim_differs,
    is_yes_no,
    lacks_measure,
    listed_verdict,
    names_people,
)
from characters.knowledge.groups import group_price, too_young
from characters.knowledge.index import follows_up, split_heading
from characters.knowledge.weekdays import asks_about_days, day_conflict
from characters.models import resolve
from characters.voices.models import configure as configure_voice_models
from characters.voices.tts import SpeechChunk, check_voice, synthesize, warm_up

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

FIRST_CLAUSE_WORDS = 1
"""The first spoken chunk of an answer may end at the first comma (or other clause boundary)
after this many words: "Yes," is spoken while the rest of the sentence is still generated,
which takes the first audio about 0.3 s earlier on 2 cores."""
FIRST_PHRASE_WORDS = 2
"""The first chunk may also end before a word that opens a phrase, two words in: "We're open |
from 8 am to 6 pm." (a short break in the speech, for an earlier start)."""

UNKNOWN_COVERAGE = 0.5
"""A question the documents do not cover is unknown when no sentence of the persona, turn of
memory or tool mentions at least this share of its content words (``Conversation.unknown``)."""
PERSONA_COVERAGE = 0.01
"""The same for a character without documents: only a question none of whose words anything
it knows holds ("Is there a gift shop?"), and that no persona fact is near in meaning, is
declined before the model answers; the check of the answer (:meth:`Conversation.grounding`)
catches the rest."""
IN_CHARACTER_SAID = 4
"""Words an answer may have said before words that break character and still get
``in_character_line`` after them ("Sorry," then "but as an AI language model, ...")."""
NUMBER_FACTS = 2
"""Persona sentences near a question (:class:`~characters.conversation.persona.PersonaFacts`,
:data:`~characters.conversation.persona.NEAR_SCORE`) whose numbers an answer may state,
besides those of the start script, memory and tools: "A filling costs 60 dollars." is not
backed by "A check-up costs 60 dollars and a cleaning 90 dollars."."""
PERSONA_MIN_FACTS = 3
"""Facts a personality must state (:func:`~characters.conversation.facts.is_fact`) for the
answers of a character without documents to be checked against it
(:meth:`Conversation.checks_persona`)."""

FACTS_PER_ANSWER = 1
"""Persona sentences repeated next to each question (each costs about 20 prompt tokens, 0.1 s
of first-token latency on 2 cores with the 0.5B model)."""


@dataclass
class TurnTimings:
    """Monotonic times (``time.monotonic()``) of one answer, from the moment it was asked for."""

    started: float
    llm_first_token: float | None = None
    first_speech_text: float | None = None
    first_audio: float | None = None
    done: float | None = None
    tokens: int = 0
    """Text deltas the language model produced (about one per token)."""
    llm_s: float = 0.0
    """Time spent waiting on the language model."""
    tts_s: float = 0.0
    """Time spent synthesising speech."""
    audio_s: float = 0.0
    """Length of the speech produced."""
    retrieval_s: float | None = None
    """Time spent searching the character's documents (``None``: it has none)."""
    knowledge_chars: int = 0
    """Characters of document passages put into the prompt."""

    def since_start(self, at: float | None) -> float | None:
        return None if at is None else at - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "llm_first_token_s": self.since_start(self.llm_first_token),
            "first_speech_text_s": self.since_start(self.first_speech_text),
            "first_audio_s": self.since_start(self.first_audio),
            "total_s": self.since_start(self.done),
            "tokens": self.tokens,
            "llm_s": self.llm_s,
            "tts_s": self.tts_s,
            "audio_s": self.audio_s,
            "retrieval_s": self.retrieval_s,
            "knowledge_chars": self.knowledge_chars,
        }


def _standing_in(sentence: str, passages: Sequence[str]) -> str:
    """``sentence`` with what it stands in, in the first of ``passages`` that holds it: the
    passage's heading and the sentence before it (``sentence`` alone when none holds it)."""
    passage = next((p for p in passages if sentence in p), "")
    if not passage:
        return sentence
    heading, body = split_heading(passage)
    said = sentences(body)
    at = said.index(sentence) if sentence in said else -1
    before = said[at - 1] if at > 0 else ""
    return " ".join(t for t in (f"{heading}:" if heading else "", before, sentence) if t)


def _answers_whole(answering: Sequence[str], question: str) -> bool:
    """Whether the best of the sentences that answer ``question`` holds all it asks
    (:func:`~characters.conversation.facts.coverage`)."""
    return bool(answering) and coverage(answering[:1], question) == 1.0


def settled_words(partial: str) -> str:
    """A partial transcript without its last word, which the next decode may still cut or
    change ("When does the muse" → "When does the"); empty for one word or none."""
    head, _, _ = partial.strip().rpartition(" ")
    return head.rstrip()


@dataclass(frozen=True, slots=True)
class AgentSpeech:
    """One chunk of the character's answer: its text (on the first chunk of a sentence, else
    empty) and its audio, with phoneme timings for the face."""

    text: str
    chunk: SpeechChunk


@dataclass(frozen=True, slots=True)
class AgentToolCall:
    """The character decided to call one of the session's tools."""

    name: str
    arguments: dict[str, Any]
    id: str
    kind: str = "client_event"
    """``client_event`` or ``backend_rpc`` (empty for a tool the session does not have)."""
    valid: bool = True
    """False when the call did not fit the tool: its error went back to the model; the call is
    recorded but never sent to the client."""


@dataclass(frozen=True, slots=True)
class AgentToolResult:
    """What a tool call gave (an event sent, a backend's answer, or why it failed)."""

    result: ToolResult
    shown: bool = True
    """Whether the call was valid (and so shown to the client)."""


@dataclass(frozen=True, slots=True)
class AgentDone:
    """The end of an answer: everything that was said, and whether it was cut short."""

    text: str
    interrupted: bool
    timings: TurnTimings
    raw: str = ""
    """The language model's own output (markup and tool calls included). Memory keeps it for
    a finished answer: the next prompt then starts with exactly the tokens the model's cache
    holds, so only the user's new words are evaluated."""
    actions: tuple[Message, ...] = ()
    """When the answer called tools whose results the model read: its earlier output and the
    notes of the results, remembered between the user's words and the answer."""
    replaced: str = ""
    """The model's words that the answer check (:mod:`characters.knowledge.grounding`) judged
    not backed by what the character knows and replaced (empty: none were); for logs and
    benchmarks."""

    @property
    def remembered(self) -> str:
        """What memory keeps of this answer."""
        if self.interrupted:
            return f"{self.text} …" if self.text else ""
        return self.raw or self.text


AgentEvent = AgentSpeech | AgentToolCall | AgentToolResult | AgentDone

MAX_TOOL_ROUNDS = 2
"""Times the model may read tool results (or errors) and go on, within one answer."""
FILLER_LINE = "One moment, let me check that."
"""Said when a backend call takes longer than ``action_filler_after_s`` and nothing was said."""
FAILED_LINE = "Sorry, I couldn't get that done right now."
"""Said for a failed backend call when the model's words do not admit it."""
DONE_LINE = "There you go."
"""Said when an answer only performed client actions and said nothing."""


@dataclass
class Engines:
    """The models of one process, shared by its conversations (each model serialises its own
    use)."""

    settings: Settings
    llm: LLM
    stt: Recognizer | None = None
    vad_model: Path | None = None
    turn: SmartTurn | None = None

    @classmethod
    def load(
        cls,
        settings: Settings,
        *,
        listen: bool = True,
        live: bool = False,
        voices: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> Engines:
        """Load and check every model a conversation needs; fail here, not mid-session.

        ``listen`` loads speech recognition and turn-taking (not needed for text chat);
        ``live``: for live calls, whose media shares the CPU (the language model's default
        threads, :func:`~characters.conversation.llm.default_threads`); ``voices`` are preset
        ids whose engines are checked (and warmed) now.
        """
        say = progress or (lambda _msg: None)
        configure_voice_models(settings.resolved_models_dir)
        for voice in voices:
            check_voice(voice)
        models_dir = settings.resolved_models_dir
        say(f"language model: {settings.llm_url or settings.llm_model}")
        llm = make_llm(settings, models_dir, live=live)
        llm.check()
        engines = cls(settings=settings, llm=llm)
        if voices:
            say(f"voices: {', '.join(voices)}")
            warm_up(list(voices))
        if listen:
            say(f"speech recognition: {settings.stt_model}")
            engines.stt = load_recognizer(
                settings.stt_model, models_dir, cpu_threads=settings.stt_threads
            )
            engines.vad_model = resolve("silero-vad", models_dir)
            engines.turn = SmartTurn(resolve("smart-turn-v3.2", models_dir))
        return engines

    def listener(self) -> Listener:
        """A new turn-taking state machine for one conversation."""
        if self.stt is None or self.vad_model is None:
            raise RuntimeError("Engines were loaded without listen=True")
        s = self.settings
        config = ListenerConfig(
            min_silence_ms=s.turn_min_silence_ms,
            silence_ms=s.turn_silence_ms,
            threshold=s.turn_threshold,
            model_silence_ms=s.turn_model_silence_ms,
            unfinished_silence_ms=max(s.turn_silence_ms, UNFINISHED_SILENCE_MS),
        )
        return Listener(SileroVAD(self.vad_model), self.turn, self.stt, config)

    def warm(self, character: Character) -> None:
        """Put the character's stable prompt prefix into the language model's cache."""
        self.llm.warm(build_messages(character, [], native_tools=self.llm.native_tools))


@dataclass
class Conversation:
    """One character in conversation with one user: memory, and answers as events."""

    engines: Engines
    character: Character
    history: list[dict[str, str]] = field(default_factory=list)
    """The turns so far, as chat messages (``role`` user or assistant, ``content``)."""
    retrieve: Callable[[str], Sequence[str]] | None = None
    """Knowledge hook: the passages that bear on the user's words. Default: a search of the
    character's documents (:meth:`search`), when it has any."""
    actions: Actions | None = None
    """Runs the ``backend_rpc`` calls (a live call's webhook client); without it they fail
    with an error the model reads."""
    _facts: list[str] | None = field(default=None, init=False, repr=False)
    _persona_facts: PersonaFacts | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if (
            self.retrieve is None
            and self.character.knowledge is not None
            and self.engines.settings.knowledge_max_chars > 0
        ):
            self.retrieve = self.search

    def search(self, user_text: str) -> list[str]:
        """The passages of the character's documents that bear on ``user_text`` (or, for a
        follow-up, on it with the previous user turn), within ``knowledge_max_chars``."""
        knowledge = self.character.knowledge
        if knowledge is None:
            return []
        before = self._last_question()
        found = knowledge.search(
            user_text, context=before, max_chars=self.engines.settings.knowledge_max_chars
        )
        return found.texts

    def opening(self, cancel: threading.Event | None = None) -> Iterator[AgentEvent]:
        """The start script, spoken (nothing when the character has none)."""
        return self.line(self.character.start_script or "", cancel)

    def line(self, text: str, cancel: threading.Event | None = None) -> Iterator[AgentEvent]:
        """A fixed line (the start script, a goodbye), spoken as it is: no language model."""
        cancel = cancel or threading.Event()
        timings = TurnTimings(started=time.monotonic())
        text = text.strip()
        said: list[str] = []
        if text:
            for event in self._speak(text, timings, cancel):
                if event.text:
                    said.append(event.text)
                yield event
        timings.done = time.monotonic()
        yield AgentDone(" ".join(said), cancel.is_set(), timings)

    def respond(
        self,
        user_text: str,
        cancel: threading.Event | None = None,
        *,
        gate: Callable[[], bool] | None = None,
    ) -> Iterator[AgentEvent]:
        """The character's answer to ``user_text``, chunk by chunk.

        Memory is not changed here: the caller calls :meth:`remember` once the answer is
        committed (a speculative answer that is thrown away must leave no trace). Setting
        ``cancel`` stops the language model and the speech within one chunk; the final
        :class:`AgentDone` then has ``interrupted`` set and the text said so far.

        Tool calls are checked (:func:`~characters.conversation.tools.check_arguments`); an
        invalid one goes back to the model as an error. ``backend_rpc`` calls run through
        :attr:`actions` once ``gate`` returns True (it blocks until the answer is committed, so
        a speculative answer has no side effects; False: cancelled); their results go back to
        the model, which speaks them (:data:`FILLER_LINE` first if they are slow).
        """
        cancel = cancel or threading.Event()
        turn = _Turn(self, cancel, gate)
        try:
            yield from turn.run(user_text)
        finally:
            turn.timings.done = time.monotonic()
        yield AgentDone(
            " ".join(turn.said),
            cancel.is_set(),
            turn.timings,
            turn.raw,
            tuple(turn.memory),
            turn.replaced,
        )

    def memory(self) -> list[dict[str, str]]:
        """The turns the prompt shows: every remembered turn except questions answered with
        ``knowledge_unknown_line`` (the small model copied that line into its next answers,
        even with the right passage in front of it)."""
        line = self.engines.settings.knowledge_unknown_line
        shown: list[dict[str, str]] = []
        for m in self.history:
            if m["role"] == "assistant" and m["content"] == line and shown:
                if shown[-1]["role"] == "user":
                    shown.pop()
                continue
            shown.append(m)
        return shown

    def unknown(self, user_text: str) -> bool:
        """Whether ``user_text``, which the character's documents do not cover (or which a
        character without documents is asked), asks for information that nothing else it knows
        is about either (its personality, start script, memory, tools): it then says
        ``knowledge_unknown_line`` rather than let the model guess (:data:`UNKNOWN_COVERAGE`).
        Without documents, only when nothing known holds any of the question's words
        (:data:`PERSONA_COVERAGE`)."""
        if not self.engines.settings.knowledge_unknown_line or not asks_for_information(user_text):
            return False
        if self.character.knowledge is not None:
            return coverage(self.known(), user_text) < UNKNOWN_COVERAGE
        # Without documents: not a follow-up ("And if my sister comes too?"), nothing known
        # holds a word of it, and no fact is near it in meaning.
        return (
            not follows_up(user_text)
            and coverage(self.known(), user_text) < PERSONA_COVERAGE
            and not self.persona_facts().answering(user_text, min_score=NEAR_SCORE)
        )

    def unmeasured(self, user_text: str, retrieved: Sequence[str] | None) -> bool:
        """Whether ``user_text`` asks for a measure ("How deep is the pool?": a length) that
        nothing the character knows states (:func:`~characters.knowledge.grounding.
        lacks_measure`), or which one of a thing nothing it knows names ("What make of car
        would I be learning in?": :func:`~characters.conversation.facts.unknown_thing`), when
        its answers are checked (:meth:`grounding`): it then says ``knowledge_unknown_line``
        (or a near sentence after ``knowledge_partial_line``) rather than let the model read
        out a near fact's figure or name."""
        s = self.engines.settings
        if not s.knowledge_grounding or not s.knowledge_unknown_line:
            return False
        if self.character.knowledge is not None:
            known = [*(retrieved or ()), *self.known()]
        elif self.checks_persona():
            known = self.known()
        else:
            return False
        return asks_for_information(user_text) and (
            lacks_measure(user_text, known) or unknown_thing(known, user_text) is not None
        )

    def known(self) -> list[str]:
        """What the character knows besides its documents: its personality's sentences, start
        script, the conversation so far, its tools."""
        return [*self.persona(), *self.said_and_tools()]

    def said_and_tools(self) -> list[str]:
        """The start script, the conversation so far and the tools (name and description)."""
        c = self.character
        return [
            c.start_script or "",
            *(m["content"] for m in self.history),
            *(f"{t.name.replace('_', ' ')} {t.description}" for t in c.tools),
        ]

    def grounding(self, user_text: str, retrieved: Sequence[str] | None) -> Grounding | None:
        """The check of the answer to ``user_text`` (:mod:`characters.knowledge.grounding`),
        for a question that asks for information, when ``knowledge_grounding`` is on: against
        the passages found and everything else the character knows for a character with
        documents; against its persona, start script, memory and tools for one without
        (:meth:`checks_persona`). None: the answer is said as the model writes it."""
        s = self.engines.settings
        if (
            not s.knowledge_grounding
            or not s.knowledge_unknown_line
            # Whisper writes "Is the museum open every day?" as "It's the museum open every
            # day.": a statement about the days the place opens is checked all the same.
            or not (asks_for_information(user_text) or asks_about_days(user_text))
        ):
            return None
        if self.character.knowledge is not None:
            if retrieved is None:
                return None
            answering = self.answering_passages(user_text, retrieved)
            return Grounding(
                user_text,
                [*retrieved, self.character.name, *self.known()],
                answer=(answering[0] if answering else "") if retrieved else None,
                confirms=_answers_whole(answering, user_text),
                opening=self.character.start_script or "",
                name=self.character.name,
                group_price=self._group_price(user_text, retrieved),
            )
        if not self.checks_persona():
            return None
        facts = self.persona_facts()
        before = self._last_question()
        answering = facts.answering(user_text, context=before, limit=NUMBER_FACTS)
        near = facts.answering(user_text, context=before, limit=NUMBER_FACTS, min_score=NEAR_SCORE)
        # An answer comes from the sentences that answer the question when some do ("Late
        # books are a dollar a day, right?" is not answered by the loan limits), else from
        # anything the character knows.
        said = self.said_and_tools()
        words = relevant_facts(self.persona(), user_text, context=before, limit=3)
        identity = [f for f in self.persona() if f not in facts.facts]  # "You are Bella, ..."
        on_topic = [*identity, *answering, *near, *words] if answering else self.persona()
        # The fact holds everything the question asks: it may confirm a yes/no answer, and an
        # answer's first words may be said before the verdict (a replacement then goes on from
        # them; one that holds less comes after knowledge_partial_line, which cannot).
        whole = _answers_whole(answering, user_text)
        return Grounding(
            user_text,
            [self.character.name, *on_topic, *said],
            numbers=[*near, *said],
            answer=answering[0] if answering else "",
            confirms=whole,
            opening=self.character.start_script or "",
            release=whole,
            name=self.character.name,
            group_price=self._group_price(user_text, ()),
        )

    def _group_price(self, user_text: str, retrieved: Sequence[str]) -> frozenset[str]:
        """The price the sentences near ``user_text`` give the group it names ("I'm a
        student. What would ... cost me?" and "Students pay 15 dollars ...":
        :func:`~characters.knowledge.groups.group_price`), if any."""
        found = group_price(user_text, self._near(user_text, retrieved))
        return found[1] if found else frozenset()

    def _near(self, user_text: str, retrieved: Sequence[str]) -> list[str]:
        """The sentences near ``user_text`` (at least :data:`~characters.conversation.persona.
        NEAR_SCORE`; at most :data:`NUMBER_FACTS`), best first: of the passages found, else of
        the persona."""
        if self.character.knowledge is not None:
            return self.answering_passages(user_text, retrieved, min_score=NEAR_SCORE)
        return self.persona_facts().answering(
            user_text, context=self._last_question(), limit=NUMBER_FACTS, min_score=NEAR_SCORE
        )

    def checks_persona(self) -> bool:
        """Whether this character, which has no documents, answers only from its persona:
        ``persona_grounding`` is on and the personality states at least
        :data:`PERSONA_MIN_FACTS` facts (a persona that only says who to be, "You are a grumpy
        pirate.", leaves the model free)."""
        if self.character.knowledge is not None or not self.engines.settings.persona_grounding:
            return False
        return len(self.persona_facts().facts) >= PERSONA_MIN_FACTS

    def persona_facts(self) -> PersonaFacts:
        """The persona's fact sentences, to find the one that answers a question
        (:class:`~characters.conversation.persona.PersonaFacts`, made once)."""
        if self._persona_facts is None:
            self._persona_facts = PersonaFacts(
                self.persona(), self.engines.settings.resolved_models_dir
            )
        return self._persona_facts

    def persona(self) -> list[str]:
        """The personality's sentences (:func:`~characters.conversation.facts.persona_facts`),
        cut once."""
        if self._facts is None:
            self._facts = persona_facts(self.character.personality)
        return self._facts

    def grounded_answer(self, user_text: str, retrieved: Sequence[str]) -> str:
        """What replaces an answer that is not grounded: the sentence of the passages found
        that answers the question (:meth:`answering_passages`); for a character without
        documents, the persona's sentence that answers it
        (:meth:`~characters.conversation.persona.PersonaFacts.answering`, in the first person);
        else ``knowledge_unknown_line``. Never a sentence when the question asks for a measure
        none states (:func:`~characters.knowledge.grounding.lacks_measure`: "How deep is the
        pool?" is not answered by its temperature). A sentence that holds only part of what
        the question asks and does not surely answer it (:meth:`_surely`), or is only near
        it (:data:`~characters.conversation.persona.HEDGE_SCORE`: "Which day of the week are
        you shut?" and "... closed on Sundays"), comes after ``knowledge_partial_line``; one
        that says a yes/no question's day is not open, after "No." ("Is the makerspace open on
        Tuesdays?" → "No. The makerspace is open from Wednesday to Sunday ...")."""
        s = self.engines.settings
        partial = s.knowledge_partial_line
        before = self._last_question()
        if self.character.knowledge is not None:
            if lacks_measure(user_text, retrieved):
                return s.knowledge_unknown_line

            def find(min_score: float | None) -> list[str]:
                return self.answering_passages(user_text, retrieved, min_score=min_score)
        else:
            facts = self.persona_facts()

            def find(min_score: float | None) -> list[str]:
                found = facts.answering(user_text, context=before, min_score=min_score)
                return [first_person(f) for f in found if not lacks_measure(user_text, [f])]

        found, near = find(None), False
        priced = group_price(user_text, self._near(user_text, retrieved))
        if priced is not None:
            # "I'm a student. What would a three-hour visit cost me?": the sentence that gives
            # students their price, not the 3-hour ticket's.
            fact = priced[0] if self.character.knowledge is not None else first_person(priced[0])
            found = [fact, *(f for f in found if f != fact)]
        if not found and partial:
            found, near = find(HEDGE_SCORE), True
            if asks_for_people(user_text):
                # "Who owns the shop?": only a sentence that names people is near it.
                found = [f for f in found if names_people(f)]
        if not found:
            return s.knowledge_unknown_line
        # What the sentence stands in: its passage's heading and the sentence before it ("Dogs
        # are not allowed on the tours." after "A night tour costs ..."), not the whole passage
        # ("Leave: Full-time staff get 27 days of paid leave a year ..." does not answer "How
        # many paid sick days do we get?", though "Sick leave ..." follows it); for a persona,
        # the fact itself.
        context = _standing_in(found[0], retrieved)
        if day_conflict(user_text, found[0]):
            # "Is the makerspace open on Tuesdays?": the days it names say no, however near.
            return f"No. {found[0]}"
        if not near and is_yes_no(user_text) and too_young(user_text, found[0]):
            # "My daughter's eleven, so she can take a kayak out on her own, can't she?" and
            # "Kayaks are only for people aged 14 and over, ...".
            return f"No. {found[0]}"
        if not near and (verdict := listed_verdict(user_text, found[0])):
            # "My kids have a guinea pig, is that something your vets will look at?" and "The
            # clinic treats cats, dogs, rabbits and guinea pigs, but not horses, ...".
            return f"{verdict.capitalize()}. {found[0]}"
        if not near and claim_differs(user_text, found[0]) == "wrong":
            # "Membership is free, isn't it?": the price it gives says no; "My puppy's eight
            # weeks old, she can come in, can't she?": "... at least 12 weeks old ...".
            return f"No. {found[0]}"
        if partial and (near or not self._surely(user_text, found[0], context, retrieved)):
            # "What is Dr. Patel's first name?" → "... Dr. Patel and Dr. Moreau are the dentists."
            return f"{partial} {found[0]}"
        return found[0]

    def _surely(self, user_text: str, said: str, context: str, retrieved: Sequence[str]) -> bool:
        """Whether ``said``, the sentence found for ``user_text`` (``context``: what it stands
        in), answers it without doubt (:func:`~characters.conversation.persona.
        answers_surely`), by its score and the other sentences known: the passages' found, or
        the persona's facts."""
        before = self._last_question()
        index = self.character.knowledge
        if index is not None:
            scored = index.sentence_scores(user_text, retrieved, context=before)
            score = sentence_score(scored, user_text, said)
            others = [t for t, _ in scored if t not in context]
        else:
            facts = self.persona_facts()
            fact = next((f for f in facts.facts if first_person(f) == said), said)
            score = facts.score_of(user_text, fact, context=before)
            others = [f for f in facts.facts if f != fact]
        return answers_surely(user_text, said, score, context=context, others=others)

    def answering_passages(
        self, user_text: str, retrieved: Sequence[str], *, min_score: float | None = None
    ) -> list[str]:
        """The sentences of the passages found that answer ``user_text``, best first (at most
        :data:`NUMBER_FACTS`): scored as a persona's facts are
        (:func:`~characters.conversation.persona.answering_sentences`: the sentence's cosine
        similarity, from its stored vector, plus the share of the question's words it holds).
        Their numbers are not the only ones an answer may state, as a persona's near facts'
        are: on bench/knowledge.py that rule changed nothing (82 % of 159 either way)."""
        index = self.character.knowledge
        if index is None or not retrieved:
            return []
        scored = index.sentence_scores(user_text, retrieved, context=self._last_question())
        return answering_sentences(scored, user_text, limit=NUMBER_FACTS, min_score=min_score)

    def _last_question(self) -> str:
        return next((m["content"] for m in reversed(self.history) if m["role"] == "user"), "")

    def facts_for(self, user_text: str) -> list[str] | None:
        """The persona's sentences that bear on ``user_text`` (and on the previous user turn,
        for a follow-up such as "Is it free?"), said with the question; ``None`` for a
        character without a personality."""
        if self.engines.settings.llm_facts == "off":
            return None
        facts = self.persona()
        if not facts:
            return None
        return relevant_facts(
            facts, user_text, context=self._last_question(), limit=FACTS_PER_ANSWER
        )

    def prepare(self) -> None:
        """Between turns: put the prompt up to the opening of the user's next turn into the
        model's cache, so the next answer evaluates only the user's words (first token 0.13 s
        rather than 0.13–0.18 s on 2 cores: a small batch costs about one forward pass)."""
        if self.checks_persona():
            self.persona_facts().prepare()
        llm = self.engines.llm
        upcoming = [*self.memory(), {"role": "user", "content": ""}]
        llm.warm(build_messages(self.character, upcoming, native_tools=llm.native_tools))

    def anticipate(self, words: str) -> None:
        """While the user is still speaking (``words``: a partial transcript of their turn so
        far): put the answer's prompt up to those words into the model's cache, so the answer
        evaluates only the words that follow (about 20 ms per word on one core with the 0.5B
        model, under load). The last word is left out (it may still be cut or change). For a
        character with documents, the passages the words call for go in first, after the
        conversation so far and before the user's turn; if the whole turn finds the same
        passages (it usually does), the answer reuses them too (about 0.3 s per passage)."""
        settled = settled_words(words)
        passages: Sequence[str] | None = None
        if self.retrieve is not None and words.strip():
            passages = self.retrieve(words) or None
        if not settled and passages is None:
            return
        llm = self.engines.llm
        upcoming = [*self.memory(), {"role": "user", "content": settled}]
        messages = build_messages(
            self.character,
            upcoming,
            retrieved=passages,
            native_tools=llm.native_tools,
            max_knowledge_chars=max(self.engines.settings.knowledge_max_chars, 1),
        )
        llm.warm(messages)

    def remember(self, user_text: str, answer: str, actions: Sequence[Message] = ()) -> None:
        """Add a committed turn to the conversation's memory (``answer``: usually
        :attr:`AgentDone.remembered`; empty when the user cut in before a word was said;
        ``actions``: :attr:`AgentDone.actions`)."""
        self.history.append({"role": "user", "content": user_text})
        self.history.extend({"role": m["role"], "content": m["content"]} for m in actions)
        if answer:
            self.history.append({"role": "assistant", "content": answer})

    def forget_last_turn(self) -> None:
        """Take the last committed turn (the user's words and the answer) out of memory: the
        user was not done, and the whole utterance will be answered as one turn."""
        while self.history and self.history[-1]["role"] != "user":
            self.history.pop()
        if self.history:
            self.history.pop()

    def revise_last_answer(self, heard: str) -> None:
        """The user cut off the last answer after it was remembered whole (it was still
        playing): memory keeps what they heard of it (``heard``; nothing if empty)."""
        if self.history and self.history[-1]["role"] == "assistant":
            if heard:
                self.history[-1] = {"role": "assistant", "content": f"{heard} …"}
            else:
                self.history.pop()

    def _parse(
        self,
        deltas: Iterator[Any],
        parser: SpokenStream,
        timings: TurnTimings,
        cancel: threading.Event,
        raw: list[str],
        drop: str = "",
    ) -> Iterator[Speech | ToolCallEvent]:
        """LLM deltas → spoken chunks and tool calls, timing the model as it goes; the text
        deltas are collected in ``raw``. ``drop``: a text the answer must not open with (the
        prompt's :data:`~characters.conversation.prompt.KNOWLEDGE_HEADER`, which the small
        model sometimes copies before the passage it reads out), removed if it does."""
        waited = time.monotonic()
        pending = ""  # the opening, while it may still be ``drop``
        for delta in deltas:
            now = time.monotonic()
            timings.llm_s += now - waited
            if timings.llm_first_token is None:
                timings.llm_first_token = now
            timings.tokens += 1
            if drop and isinstance(delta, str):
                pending += delta
                head = pending.lstrip()
                if len(head) < len(drop) and drop.lower().startswith(head.lower()):
                    continue
                opens = head.lower().startswith(drop.lower())
                delta = head[len(drop) :].lstrip() if opens else pending
                drop = pending = ""
            elif drop:
                drop = ""
                yield from self._feed(parser, pending, raw)
            yield from self._feed(parser, delta, raw)
            if cancel.is_set():
                return
            waited = time.monotonic()
        timings.llm_s += time.monotonic() - waited
        yield from self._feed(parser, pending, raw)
        yield from parser.flush()

    @staticmethod
    def _feed(
        parser: SpokenStream, delta: str | ToolCall, raw: list[str]
    ) -> Iterator[Speech | ToolCallEvent]:
        if isinstance(delta, str):
            if not delta:
                return
            raw.append(delta)
        yield from parser.feed(delta)

    def _speak(
        self, text: str, timings: TurnTimings, cancel: threading.Event
    ) -> Iterator[AgentSpeech]:
        first = True
        started = time.monotonic()
        for chunk in synthesize(text, self.character.voice):
            now = time.monotonic()
            timings.tts_s += now - started
            if timings.first_audio is None:
                timings.first_audio = now
            timings.audio_s += chunk.duration_s
            yield AgentSpeech(text if first else "", chunk)
            first = False
            if cancel.is_set():
                return
            started = time.monotonic()


class _Turn:
    """One answer being produced: the model's rounds, the tools they call, what is said.

    A round is one pass of the language model. When it called ``backend_rpc`` tools (or wrote
    a call that does not fit its tool), their results (or the error) are noted after its
    output and the model goes on, at most :data:`MAX_TOOL_ROUNDS` times. The words of a round
    that follows backend results are held until they repeat something of those results
    (:func:`~characters.conversation.tools.uses_result`); words that never do are replaced by
    the results said plainly (:func:`~characters.conversation.tools.spoken_result`): a small
    model often writes its call again instead of reading the answer.
    """

    def __init__(
        self, conversation: Conversation, cancel: threading.Event, gate: Callable[[], bool] | None
    ) -> None:
        self.conversation = conversation
        self.cancel = cancel
        self.gate = gate
        self.timings = TurnTimings(started=time.monotonic())
        self.said: list[str] = []
        self.raw = ""
        self.replaced = ""
        """The model's words the answer check replaced (:attr:`AgentDone.replaced`)."""
        self.memory: list[Message] = []
        self.tools = {t.name: t for t in conversation.character.tools}
        self.made: set[str] = set()
        """Valid calls made in this answer (name and arguments): a repeated one is not run
        again."""
        self.acted = False
        """A client action was sent."""

    def run(self, user_text: str) -> Iterator[AgentEvent]:
        conversation = self.conversation
        s = conversation.engines.settings
        llm = conversation.engines.llm
        retrieved: Sequence[str] | None = None
        if conversation.retrieve is not None:
            retrieved = conversation.retrieve(user_text)
            self.timings.retrieval_s = time.monotonic() - self.timings.started
            self.timings.knowledge_chars = sum(len(r) for r in retrieved)
        uncovered = not retrieved if retrieved is not None else conversation.checks_persona()
        if (uncovered and conversation.unknown(user_text)) or conversation.unmeasured(
            user_text, retrieved
        ):
            # Nothing the character knows is about it: the nearest thing it knows after the
            # partial line, or a fixed line, not a guess.
            yield from self._say(conversation.grounded_answer(user_text, retrieved or ()))
            self.raw = " ".join(self.said)
            return
        messages = build_messages(
            conversation.character,
            [*conversation.memory(), {"role": "user", "content": user_text}],
            retrieved=retrieved,
            facts=conversation.facts_for(user_text),
            rule=s.llm_facts == "rules",
            native_tools=llm.native_tools,
            max_knowledge_chars=max(s.knowledge_max_chars, 1),
        )
        check: list[ToolResult] = []
        grounding = conversation.grounding(user_text, retrieved)
        headings = {split_heading(p)[0].lower() for p in retrieved or ()} - {""}
        in_character = InCharacter(conversation.character.name)
        for round_ in range(MAX_TOOL_ROUNDS + 1):
            broke = ""
            calls: list[tuple[ToolSpec, ToolCall]] = []
            errors: list[tuple[str, str]] = []
            raw: list[str] = []
            chunks: list[str] = []
            held: list[str] = []
            holding = bool(check)
            deltas = llm.stream(
                messages,
                tools=conversation.character.tools or None,
                max_tokens=s.llm_max_tokens,
                temperature=s.llm_temperature,
                cancel=self.cancel,
            )
            parser = SpokenStream(
                first_clause_words=FIRST_CLAUSE_WORDS, first_phrase_words=FIRST_PHRASE_WORDS
            )
            try:
                header = KNOWLEDGE_HEADER if retrieved else ""
                events = conversation._parse(deltas, parser, self.timings, self.cancel, raw, header)
                for event in events:
                    if isinstance(event, ToolCallEvent):
                        yield from self._call(event.call, calls, errors)
                        continue
                    if self.cancel.is_set():
                        break
                    if retrieved:
                        # "Leave: Full-time staff get ...": the passage's heading is not said.
                        first = not chunks
                        chunks.append(event.text)
                        text = without_label(event.text, headings, user_text if first else "")
                        if not text:
                            continue
                        event = Speech(text)
                    if grounding is not None:
                        if grounding.verdict is False:
                            grounding.held.append(event.text)  # a tool call may still come
                            continue
                        verdict = grounding.add(event.text)
                        if verdict is False and not conversation.character.tools:
                            break  # the model is stopped: its answer is replaced below
                        if verdict:
                            for text in grounding.held:
                                yield from self._say(text)
                            grounding = None
                        else:
                            for text in grounding.releasable():
                                yield from self._say(text)
                        continue
                    if holding:
                        held.append(event.text)
                        if uses_result(" ".join(held), check):
                            holding = False
                            for text in held:
                                yield from self._say(text)
                        continue
                    if s.in_character_line and in_character.breaks(event.text):
                        # "As an AI language model, ...": the model is stopped; the line is
                        # said in its place when nothing but a word or two ("Sorry,") was.
                        broke = event.text
                        if len(" ".join(self.said).split()) < IN_CHARACTER_SAID:
                            yield from self._say(s.in_character_line)
                        break
                    yield from self._say(event.text)
            finally:
                close = getattr(deltas, "close", None)
                if close is not None:
                    close()
            if self.cancel.is_set():
                return
            self.raw = "".join(raw)
            if broke:
                self.replaced = broke
                self.raw = " ".join(self.said)
                log.info("words that break character %r not said", broke)
            if grounding is not None:
                if calls or errors or self.acted or grounding.finish():
                    # Grounded at its end, or words that go with an action: said as they are.
                    for text in grounding.held:
                        yield from self._say(text)
                else:
                    replacement = conversation.grounded_answer(user_text, retrieved or ())
                    self.replaced = " ".join([*grounding.released, *grounding.held])
                    log.info("ungrounded answer %r replaced by %r", self.replaced, replacement)
                    # Words released before the verdict are not said twice.
                    rest = grounding.rest_of(replacement)
                    self.raw = " ".join([*grounding.released, rest]).strip()
                    if rest:
                        yield from self._say(rest)
                grounding = None
            if holding:
                log.info("the model's words did not use the tool results: they are said plainly")
                text = spoken_result(check, FAILED_LINE)
                yield from self._say(text)
                self.raw = text
            results = yield from self._run_calls(calls)
            if self.cancel.is_set():
                return
            if not results and not errors:
                break
            plain = s.action_results == "plain" or (
                s.action_results == "auto" and not llm.native_tools
            )
            if results and not errors and (plain or all(said_as_is(r) for r in results)):
                self.memory += [
                    {"role": "assistant", "content": self.raw},
                    {"role": "system", "content": "\n\n".join(result_note(r) for r in results)},
                ]
                self.raw = spoken_result(results, FAILED_LINE)
                yield from self._say(self.raw)
                break
            if round_ == MAX_TOOL_ROUNDS:
                if results:
                    text = spoken_result(results, FAILED_LINE)
                    yield from self._say(text)
                    self.raw = text
                break
            notes = [result_note(r) for r in results] + [error_note(n, e) for n, e in errors]
            step: list[Message] = [
                {"role": "assistant", "content": self.raw},
                {"role": "system", "content": "\n\n".join(notes)},
            ]
            self.memory += step
            messages = [*messages, *step]
            check = results
        if not self.said and self.acted and not self.cancel.is_set():
            yield from self._say(DONE_LINE)

    def _say(self, text: str) -> Iterator[AgentSpeech]:
        if self.timings.first_speech_text is None:
            self.timings.first_speech_text = time.monotonic()
        yield from self.conversation._speak(text, self.timings, self.cancel)
        if not self.cancel.is_set():
            self.said.append(text)

    def _call(
        self,
        call: ToolCall,
        calls: list[tuple[ToolSpec, ToolCall]],
        errors: list[tuple[str, str]],
    ) -> Iterator[AgentEvent]:
        """One call the model wrote: checked; a client action is sent at once (by whoever
        reads the events), a backend call waits for the end of the round."""
        tool = self.tools.get(call.name)
        try:
            if tool is None:
                raise ArgumentError(f"there is no action named {call.name}")
            args = check_arguments(tool, call.arguments)
        except ArgumentError as e:
            log.info("invalid tool call %s: %s", call.name, e)
            errors.append((call.name, str(e)))
            kind = tool.kind if tool is not None else ""
            yield AgentToolCall(call.name, dict(call.arguments), call.id, kind, valid=False)
            yield AgentToolResult(ToolResult(call.id, call.name, error=str(e)), shown=False)
            return
        key = tool.name + json.dumps(args, sort_keys=True, default=str)
        if key in self.made:
            log.info("the model repeated its call of %s: not run again", tool.name)
            return
        self.made.add(key)
        yield AgentToolCall(tool.name, args, call.id, tool.kind)
        if tool.kind == "client_event":
            self.acted = True
            yield AgentToolResult(ToolResult(call.id, tool.name, result=dict(EVENT_SENT)))
        else:
            calls.append((tool, ToolCall(tool.name, args, call.id)))

    def _run_calls(
        self, calls: list[tuple[ToolSpec, ToolCall]]
    ) -> Generator[AgentEvent, None, list[ToolResult]]:
        """Run the round's backend calls (once the answer is committed) and wait for them,
        saying :data:`FILLER_LINE` if they are slow and nothing was said yet."""
        if not calls:
            return []
        if self.gate is not None and not self.gate():
            return []
        actions = self.conversation.actions
        running: list[tuple[ToolSpec, ToolCall, concurrent.futures.Future[ToolResult], float]] = []
        for tool, call in calls:
            started = time.monotonic()
            future: concurrent.futures.Future[ToolResult]
            try:
                if actions is None:
                    raise RuntimeError("no backend is connected to this conversation")
                future = actions.start(tool, call)
            except Exception as e:
                future = concurrent.futures.Future()
                future.set_result(ToolResult(call.id, tool.name, error=str(e)))
            running.append((tool, call, future, started))
        futures = [f for _, _, f, _ in running]
        filler_after = self.conversation.engines.settings.action_filler_after_s
        if not self._wait(futures, time.monotonic() + filler_after) and not self.cancel.is_set():
            if not self.said:
                yield from self._say(FILLER_LINE)
        deadline = max(started + tool.timeout_s + 2.0 for tool, _, _, started in running)
        self._wait(futures, deadline)
        results: list[ToolResult] = []
        for tool, call, future, started in running:
            if future.done() and not future.cancelled():
                try:
                    result = future.result()
                except Exception as e:  # the executor should not raise, but never stall here
                    result = ToolResult(call.id, tool.name, error=f"{type(e).__name__}: {e}")
            else:
                future.cancel()
                why = "cancelled" if self.cancel.is_set() else f"no answer in {tool.timeout_s:g} s"
                took = 1000 * (time.monotonic() - started)
                result = ToolResult(call.id, tool.name, error=why, duration_ms=took)
            yield AgentToolResult(result)
            results.append(result)
        return results

    def _wait(self, futures: list[concurrent.futures.Future[ToolResult]], until: float) -> bool:
        """Wait until the futures are done (True), ``until`` (monotonic) passes or the answer
        is cancelled (False)."""
        while True:
            pending = [f for f in futures if not f.done()]
            if not pending:
                return True
            left = until - time.monotonic()
            if left <= 0 or self.cancel.is_set():
                return False
            concurrent.futures.wait(pending, timeout=min(0.05, left))
