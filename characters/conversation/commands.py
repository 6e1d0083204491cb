"""``characters chat``: talk with a character in a terminal, without WebRTC.

Text mode reads the user's lines from the terminal (or from ``--text``, or from stdin when it is
not a terminal) and prints the answers as they are spoken; ``--audio question.wav`` sends a
recording through the same listening path as a live session (voice activity, end of turn,
speech recognition) and answers it. ``-o answer.wav`` writes the character's spoken answers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import wave
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
import numpy as np
from pydantic import ValidationError

from characters.config import Settings, load_settings
from characters.errors import CharactersError
from characters.pcm import resample

if TYPE_CHECKING:  # the models load only when a chat starts, not for `characters --help`
    from characters.conversation.engine import AgentEvent, Conversation, Engines
    from characters.voices.tts import SpeechChunk

TRAILING_SILENCE_S = 2.0
"""Silence fed after a recorded question, so that the listener sees the turn end."""
FEED_S = 0.02
"""Size of the audio pieces a recording is fed in (a live client sends 20 ms frames)."""
ANSWER_TIMEOUT_S = 120.0
"""How long ``--audio`` waits for the last answer once the recording has been fed."""


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


class _WavOut:
    """The character's speech, appended to one mono 16-bit WAV file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._wav: wave.Wave_write | None = None
        self._rate = 0
        self.seconds = 0.0

    def write(self, chunk: SpeechChunk) -> None:
        if self.path is None:
            return
        pcm = chunk.pcm
        if self._wav is None:
            self._rate = chunk.sample_rate
            self._wav = wave.open(str(self.path), "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(self._rate)
        elif chunk.sample_rate != self._rate:
            pcm = resample(pcm, chunk.sample_rate, self._rate).astype(np.int16)
        self._wav.writeframes(pcm.astype("<i2").tobytes())
        self.seconds += len(pcm) / self._rate

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
        elif self.path is not None:
            _fail("the character said nothing, so no audio was written")


class _Printer:
    """Prints the character's words as they are spoken: ``Bella: ...`` on one line per answer."""

    def __init__(self, name: str, out: _WavOut, show_timings: bool) -> None:
        self.name = name
        self.out = out
        self.show_timings = show_timings
        self._open = False

    def handle(self, event: AgentEvent) -> None:
        from characters.conversation.engine import (
            AgentDone,
            AgentSpeech,
            AgentToolCall,
            AgentToolResult,
        )

        if isinstance(event, AgentSpeech):
            if event.text:
                prefix = "" if self._open else f"{self.name}: "
                click.echo(prefix + event.text + " ", nl=False)
                self._open = True
            self.out.write(event.chunk)
        elif isinstance(event, AgentToolCall):
            invalid = "" if event.valid else " (invalid: back to the model)"
            click.echo(f"\n[tool call] {event.name} {json.dumps(event.arguments)}{invalid}")
        elif isinstance(event, AgentToolResult):
            r = event.result
            what = json.dumps(r.result) if r.ok else f"error: {r.error}"
            click.echo(f"[tool result] {r.name} {what}")
        elif isinstance(event, AgentDone):
            if self._open:
                click.echo(" [interrupted]" if event.interrupted else "")
            self._open = False
            if self.show_timings:
                t = event.timings.as_dict()
                shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()}
                click.echo(f"[timings] {json.dumps(shown)}", err=True)


def _lines(texts: tuple[str, ...]) -> Iterator[str]:
    if texts:
        yield from texts
        return
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("you: ") if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and not line:
            return
        line = line.strip()
        if line in {"/quit", "/exit"}:
            return
        if line:
            yield line


def _text_chat(conversation: Conversation, printer: _Printer, texts: tuple[str, ...]) -> None:
    from characters.conversation.engine import AgentDone

    for event in conversation.opening():
        printer.handle(event)
    for line in _lines(texts):
        done: AgentDone | None = None
        for event in conversation.respond(line):
            printer.handle(event)
            if isinstance(event, AgentDone):
                done = event
        if done is not None:
            conversation.remember(line, done.remembered, done.actions)
        conversation.prepare()


async def _audio_chat(
    engines: Engines, conversation: Conversation, printer: _Printer, audio: Path
) -> None:
    from characters.conversation.engine import (
        AgentDone,
        AgentSpeech,
        AgentToolCall,
        AgentToolResult,
    )
    from characters.conversation.voice import EngineFailure, UserTurn, VoiceConversation
    from characters.render.audio import decode_audio

    speech = decode_audio(audio, max_seconds=120, what=f"{audio}")
    rate = speech.sample_rate
    pcm = np.concatenate([speech.pcm, np.zeros(int(TRAILING_SILENCE_S * rate), np.int16)])
    voice = VoiceConversation(conversation, engines.listener())
    heard: list[str] = []
    answered = asyncio.Event()
    """Every turn heard so far has its answer (or the engine gave up)."""

    async def consume() -> None:
        async for event in voice.events():
            if isinstance(event, UserTurn):
                heard.append(event.text)
                answered.clear()
                click.echo(f"you (heard): {event.text}")
            elif isinstance(event, EngineFailure):
                click.echo(f"error: the {event.stage} step failed: {event.message}", err=True)
                if event.fatal:
                    answered.set()
            elif isinstance(event, AgentSpeech | AgentToolCall | AgentToolResult | AgentDone):
                printer.handle(event)
                if isinstance(event, AgentDone) and not event.interrupted:
                    answered.set()

    consumer = asyncio.create_task(consume())
    step = int(FEED_S * rate)
    for start in range(0, len(pcm), step):
        await voice.push(pcm[start : start + step], rate)
    if heard:
        try:
            await asyncio.wait_for(answered.wait(), ANSWER_TIMEOUT_S)
        except TimeoutError:
            click.echo(f"error: no answer within {ANSWER_TIMEOUT_S:.0f} s", err=True)
    await voice.aclose()
    await consumer
    if not heard:
        _fail(f"no speech was recognised in {audio}")


@click.command("chat")
@click.argument("avatar_id")
@click.option(
    "--text",
    "-t",
    "texts",
    multiple=True,
    help="Say this to the character (repeat for several turns) instead of typing.",
)
@click.option(
    "--audio",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A recording of the user's question (WAV, MP3, OGG, FLAC, M4A or WebM); it is "
    "transcribed and answered through the live listening path.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the character's spoken answers to this WAV file.",
)
@click.option(
    "--tools",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON file with the session's tools (a list in the shape of POST "
    "/v1/realtime_sessions 'tools').",
)
@click.option("--no-start-script", is_flag=True, help="Do not say the avatar's start script first.")
@click.option("--timings", is_flag=True, help="Print each answer's timings on stderr.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the database and models [env CHARACTERS_DATA_DIR; default ./data].",
)
@click.option("--database-url", default=None, help="SQLAlchemy URL [env CHARACTERS_DATABASE_URL].")
def chat(
    avatar_id: str,
    texts: tuple[str, ...],
    audio: Path | None,
    output: Path | None,
    tools: Path | None,
    no_start_script: bool,
    timings: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Talk with the character of AVATAR_ID in the terminal (no browser, no WebRTC).

    \b
    characters chat AVATAR_ID                          type, read the answers
    characters chat AVATAR_ID -t "When are you open?" -o answer.wav
    characters chat AVATAR_ID --audio question.wav -o answer.wav

    The avatar is read from the same data dir (or database) as `characters serve`, also while
    the server runs. The settings of the conversation engine (CHARACTERS_LLM_URL,
    CHARACTERS_STT_MODEL, ...) apply as they do to the server.
    """
    if audio is not None and texts:
        _fail("give either --audio or --text, not both")
    try:
        settings: Settings = load_settings(data_dir=data_dir, database_url=database_url)
    except ValidationError as e:
        err = e.errors()[0]
        _fail(f"invalid setting {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
    from characters.conversation.character import load_character, tools_from_json
    from characters.conversation.engine import Conversation, Engines

    try:
        character = asyncio.run(load_character(settings, avatar_id))
        if tools is not None:
            character = replace(character, tools=tools_from_json(_read_json(tools)))
        if no_start_script:
            character = replace(character, start_script=None)
        engines = Engines.load(settings, listen=audio is not None, voices=[character.voice])
        engines.warm(character)  # the persona's prompt into the model's cache (~1 s, once)
        conversation = Conversation(engines, character)
        out = _WavOut(output)
        printer = _Printer(character.name, out, timings)
        if audio is None:
            _text_chat(conversation, printer, texts)
        else:
            asyncio.run(_audio_chat(engines, conversation, printer, audio))
        out.close()
    except CharactersError as e:
        _fail(e.message)
    except KeyboardInterrupt:
        click.echo("")
    if output is not None:
        click.echo(f"wrote {output}", err=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        _fail(f"{path}: not valid JSON ({e})")
