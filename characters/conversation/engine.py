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

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from characters.config import Settings
from characters.conversation.facts import coverage, persona_facts, relevant_facts
from characters.conversation.listener import UNFINISHED_SILENCE_MS, Listener, ListenerConfig
from characters.conversation.llm import LLM, make_llm
from characters.conversation.prompt import Character, asks_for_information, build_messages
from characters.conversation.spoken import Speech, SpokenStream, ToolCallEvent
from characters.conversation.stt import Recognizer, load_recognizer
from characters.conversation.turn import SmartTurn
from characters.conversation.vad import SileroVAD
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

    @property
    def remembered(self) -> str:
        """What memory keeps of this answer."""
        if self.interrupted:
            return f"{self.text} …" if self.text else ""
        return self.raw or self.text


AgentEvent = AgentSpeech | AgentToolCall | AgentDone


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
    _facts: list[str] | None = field(default=None, init=False, repr=False)

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
        before = next((m["content"] for m in reversed(self.history) if m["role"] == "user"), "")
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
        self, user_text: str, cancel: threading.Event | None = None
    ) -> Iterator[AgentEvent]:
        """The character's answer to ``user_text``, chunk by chunk.

        Memory is not changed here: the caller calls :meth:`remember` once the answer is
        committed (a speculative answer that is thrown away must leave no trace). Setting
        ``cancel`` stops the language model and the speech within one chunk; the final
        :class:`AgentDone` then has ``interrupted`` set and the text said so far.
        """
        cancel = cancel or threading.Event()
        timings = TurnTimings(started=time.monotonic())
        s = self.engines.settings
        retrieved: Sequence[str] | None = None
        if self.retrieve is not None:
            retrieved = self.retrieve(user_text)
            timings.retrieval_s = time.monotonic() - timings.started
            timings.knowledge_chars = sum(len(r) for r in retrieved)
            if not retrieved and self.unknown(user_text):
                yield from self._say(s.knowledge_unknown_line, timings, cancel)
                return
        llm = self.engines.llm
        messages = build_messages(
            self.character,
            [*self.memory(), {"role": "user", "content": user_text}],
            retrieved=retrieved,
            facts=self.facts_for(user_text),
            rule=s.llm_facts == "rules",
            native_tools=llm.native_tools,
            max_knowledge_chars=max(s.knowledge_max_chars, 1),
        )
        deltas = llm.stream(
            messages,
            tools=self.character.tools or None,
            max_tokens=s.llm_max_tokens,
            temperature=s.llm_temperature,
            cancel=cancel,
        )
        parser = SpokenStream(
            first_clause_words=FIRST_CLAUSE_WORDS,
            first_phrase_words=FIRST_PHRASE_WORDS,
            tools=self.character.tools or None,
        )
        said: list[str] = []
        raw: list[str] = []
        try:
            for event in self._parse(deltas, parser, timings, cancel, raw):
                if isinstance(event, ToolCallEvent):
                    call = event.call
                    yield AgentToolCall(call.name, dict(call.arguments), call.id)
                    continue
                if cancel.is_set():
                    break
                if timings.first_speech_text is None:
                    timings.first_speech_text = time.monotonic()
                yield from self._speak(event.text, timings, cancel)
                if not cancel.is_set():
                    said.append(event.text)
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()
        timings.done = time.monotonic()
        yield AgentDone(" ".join(said), cancel.is_set(), timings, "".join(raw))

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
        """Whether ``user_text``, which the character's documents do not cover, asks for
        information that nothing else it knows is about either (its personality, start script,
        memory, tools): it then says ``knowledge_unknown_line`` rather than let the model
        guess."""
        if not self.engines.settings.knowledge_unknown_line or not asks_for_information(user_text):
            return False
        c = self.character
        known = [
            *persona_facts(c.personality),
            c.start_script or "",
            *(m["content"] for m in self.history),
            *(f"{t.name.replace('_', ' ')} {t.description}" for t in c.tools),
        ]
        return coverage(known, user_text) < UNKNOWN_COVERAGE

    def _say(
        self, text: str, timings: TurnTimings, cancel: threading.Event
    ) -> Iterator[AgentEvent]:
        """A fixed answer, spoken (no language model)."""
        timings.first_speech_text = time.monotonic()
        yield from self._speak(text, timings, cancel)
        said = "" if cancel.is_set() else text
        timings.done = time.monotonic()
        yield AgentDone(said, cancel.is_set(), timings, said)

    def facts_for(self, user_text: str) -> list[str] | None:
        """The persona's sentences that bear on ``user_text`` (and on the previous user turn,
        for a follow-up such as "Is it free?"), said with the question; ``None`` for a
        character without a personality."""
        if self.engines.settings.llm_facts == "off":
            return None
        if self._facts is None:
            self._facts = persona_facts(self.character.personality)
        if not self._facts:
            return None
        before = next((m["content"] for m in reversed(self.history) if m["role"] == "user"), "")
        return relevant_facts(self._facts, user_text, context=before, limit=FACTS_PER_ANSWER)

    def prepare(self) -> None:
        """Between turns: put the prompt up to the opening of the user's next turn into the
        model's cache, so the next answer evaluates only the user's words (first token 0.13 s
        rather than 0.13–0.18 s on 2 cores: a small batch costs about one forward pass)."""
        llm = self.engines.llm
        upcoming = [*self.memory(), {"role": "user", "content": ""}]
        llm.warm(build_messages(self.character, upcoming, native_tools=llm.native_tools))

    def anticipate(self, words: str) -> None:
        """While the user is still speaking (``words``: what they said so far): put the
        passages those words call for into the model's cache, after the conversation so far and
        before the opening of the user's turn. If the whole turn finds the same passages (it
        usually does), its answer then evaluates only the user's words (about 0.3 s sooner per
        passage on 2 cores with the 0.5B model). Nothing happens without documents."""
        if self.retrieve is None or not words.strip():
            return
        passages = self.retrieve(words)
        if not passages:
            return
        llm = self.engines.llm
        upcoming = [*self.memory(), {"role": "user", "content": ""}]
        messages = build_messages(
            self.character,
            upcoming,
            retrieved=passages,
            native_tools=llm.native_tools,
            max_knowledge_chars=max(self.engines.settings.knowledge_max_chars, 1),
        )
        llm.warm(messages)

    def remember(self, user_text: str, answer: str) -> None:
        """Add a committed turn to the conversation's memory (``answer``: usually
        :attr:`AgentDone.remembered`; empty when the user cut in before a word was said)."""
        self.history.append({"role": "user", "content": user_text})
        if answer:
            self.history.append({"role": "assistant", "content": answer})

    def forget_last_turn(self) -> None:
        """Take the last committed turn (the user's words and the answer) out of memory: the
        user was not done, and the whole utterance will be answered as one turn."""
        if self.history and self.history[-1]["role"] == "assistant":
            self.history.pop()
        if self.history and self.history[-1]["role"] == "user":
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
    ) -> Iterator[Speech | ToolCallEvent]:
        """LLM deltas → spoken chunks and tool calls, timing the model as it goes; the text
        deltas are collected in ``raw``."""
        waited = time.monotonic()
        for delta in deltas:
            now = time.monotonic()
            timings.llm_s += now - waited
            if timings.llm_first_token is None:
                timings.llm_first_token = now
            timings.tokens += 1
            if isinstance(delta, str):
                raw.append(delta)
            yield from parser.feed(delta)
            if cancel.is_set():
                return
            waited = time.monotonic()
        timings.llm_s += time.monotonic() - waited
        yield from parser.flush()

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
