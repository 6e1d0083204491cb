"""Settings, read once from ``CHARACTERS_*`` environment variables (and CLI flags).

This is the only module that reads the environment. Everything else receives a ``Settings``
instance, so tests build their own.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

API_VERSION = "2024-11-06"
"""The single ``X-Runway-Version`` value the API accepts."""


@dataclass(frozen=True, slots=True)
class Tier:
    """Limits of one organisation tier (what ``GET /v1/organization`` reports)."""

    max_concurrent_sessions: int
    max_queued_sessions: int
    max_daily_sessions: int
    max_monthly_credit_spend: int


TIERS: dict[int, Tier] = {
    1: Tier(1, 2, 50, 20_000),
    2: Tier(2, 4, 200, 100_000),
    3: Tier(4, 8, 1_000, 500_000),
    4: Tier(8, 16, 5_000, 2_000_000),
    5: Tier(16, 32, 20_000, 10_000_000),
}
"""Tier number → limits. Sessions above the concurrency limit wait (``queued``); above the
concurrency plus queue limit, or the daily limit, session creation answers 429."""


def default_data_dir() -> Path:
    """Where data lives when neither ``--data-dir`` nor ``CHARACTERS_DATA_DIR`` is given."""
    return Path.cwd() / "data"


class Settings(BaseSettings):
    """All server settings. Each field can be set with ``CHARACTERS_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="CHARACTERS_", env_ignore_empty=True, extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL. Default: ``sqlite`` file ``characters.db`` in the data dir. PostgreSQL:
    ``postgresql://user:pass@host/db`` (the psycopg driver is used)."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    """Base URL clients use to reach this server (for upload and media URLs). Default: taken from
    each request's Host header."""

    secret: str | None = None
    """Key used to sign blob and upload URLs. Default: generated once into ``<data dir>/secret``."""

    log_level: str = "info"

    # Sessions
    session_ready_ttl_s: float = Field(60.0, gt=0)
    """How long a READY session waits for its media peer before it fails with SESSION_EXPIRED."""
    session_default_max_duration_s: int = Field(300, ge=10, le=1800)
    session_max_duration_cap_s: int = Field(300, ge=10, le=1800)
    """Largest maxDuration a session may ask for (Runway allows up to 1800; we default to 300)."""
    session_peer_grace_s: float = Field(10.0, ge=0)
    """A live call whose client sends nothing (no microphone audio) for this long is over
    (COMPLETED, "media peer vanished"); the database timer uses the same grace as a backstop."""
    sweep_interval_s: float = Field(0.5, gt=0)

    # Live calls (characters/realtime): the embedded WebRTC transport
    max_calls: int = Field(1, ge=1, le=1000)
    """Live calls this deployment runs at once (counted over the database: READY and RUNNING
    sessions and admitted ones being set up). Beyond it new sessions wait queued (NOT_READY,
    ``queued: true``). The default comes from ``bench/realtime.py`` on a 2-core machine: one
    call holds 25 fps while its character talks non-stop, two drop to about 17 fps each (their
    audio never gaps: video gives way). Raise it on more cores, or to trade frame rate for
    calls."""
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    """STUN/TURN servers for WebRTC as JSON, e.g. ``[{"urls": "turn:turn.example.com:3478",
    "username": "u", "credential": "p"}]``. Used by the server and handed to clients (consume's
    ``iceServers``, WHIP ``Link`` headers). Default: none, so nothing off the machine is asked;
    calls then work on loopback and a LAN (docs/realtime.md: TURN for the internet)."""
    node_name: str | None = None
    """This server process's name in the database (which process runs which call). Default:
    ``<hostname>:<port>``; give each process on a shared database its own."""
    record_calls: bool = True
    """Record every call to MP4 (the character's video with both voices), served as the
    conversation's ``recordingUrl``."""
    video_bitrate: int = Field(1_000_000, ge=100_000, le=8_000_000)
    """Bits per second of the character's video (VP8 or H.264)."""
    call_connect_timeout_s: float = Field(15.0, gt=0, le=120)
    """How long an answered offer waits for its media to connect before the session FAILs
    (``CONNECTION_FAILED``)."""
    goodbye_s: float = Field(10.0, ge=0, le=60)
    """How long before a call's duration cap the client is told (``session`` ``ENDING``) and
    the character says ``goodbye_line``."""
    goodbye_line: str = "I'm afraid our time is almost up. Thank you for talking with me. Goodbye!"
    """What the character says ``goodbye_s`` before the cap (empty: nothing)."""
    preload_models: bool = True
    """Load the conversation models when the server starts (about 4 s, in the background);
    otherwise the first call loads them."""
    media_lead_ms: int = Field(80, ge=20, le=1000)
    """How far ahead of playback the character's media is produced: more absorbs hiccups of a
    loaded machine, less answers and stops sooner."""

    # LiveKit mode (characters/realtime/livekit.py; docs/livekit.md)
    livekit_url: str | None = None
    """A LiveKit server, as clients reach it (``wss://lk.example.com``; ``ws://`` on a LAN).
    Set with ``livekit_api_key`` and ``livekit_api_secret``: ``consume`` then returns a LiveKit
    room's credentials instead of the embedded WebRTC endpoint, and the character joins that
    room (Runway's React SDK works unchanged). Default: none (the embedded transport)."""
    livekit_api_key: str | None = None
    """The API key of ``livekit_url`` (the ``keys:`` entry of its configuration)."""
    livekit_api_secret: str | None = None
    """That key's secret (LiveKit wants at least 32 characters)."""
    livekit_workers: bool = False
    """LiveKit mode on several machines: ``consume`` creates the session's room with a dispatch
    to the ``characters worker`` processes (LiveKit assigns it to one by load) instead of the
    character joining from this process. The workers share this server's database and data
    dir (docs/livekit.md)."""
    worker_calls: int = Field(1, ge=1, le=100)
    """Calls one ``characters worker`` takes at once (its load is its calls over this; LiveKit
    sends rooms elsewhere when it is full). The default is what ``bench/livekit.py`` measured
    on 2 cores: one call at 25 fps."""

    # Actions (tools) and webhooks (characters/webhooks; docs/actions.md)
    action_filler_after_s: float = Field(1.0, ge=0, le=8)
    """A ``backend_rpc`` call still unanswered after this long makes the character say it is
    checking (unless it already said something), so the user never waits in silence."""
    action_results: Literal["auto", "model", "plain"] = "auto"
    """How a ``backend_rpc`` result is spoken: ``model``: the language model reads it and says
    it (its words must repeat something of it, else it is said plainly); ``plain``: said at once
    as it is (a string or ``say`` as written, an object as "Here is what I found. Key: value.");
    ``auto``: ``model`` for a remote model, ``plain`` for the embedded one (the 0.5B model's
    words used the result 0 times in 12, ``bench/actions.py``: a second pass only delayed it)."""
    webhook_timeout_s: float = Field(10.0, gt=0, le=60)
    """Time limit of one delivery attempt of a session webhook."""
    webhook_max_attempts: int = Field(8, ge=1, le=50)
    """Attempts of a session webhook before it is recorded as failed."""
    webhook_backoff_s: float = Field(5.0, gt=0, le=3600)
    """Wait before the second attempt of a session webhook; each further wait is 4× longer, at
    most an hour (5 s, 20 s, 80 s, 5 min, 21 min, 1 h, 1 h: about 2.7 h in all)."""
    webhook_final_hold_s: float = Field(30.0, ge=0, le=600)
    """The last event of a session that had a call waits for its recording to be stored; this
    is the longest wait (if the process running the call died, say)."""
    webhook_allow_http_loopback: bool = False
    """Allow webhook and backend RPC URLs with plain ``http://`` on loopback (127.0.0.1,
    ::1, localhost): for development and tests only. Otherwise only ``https://``."""

    # Organisations and credits
    default_tier: int = 1
    default_credits: int = Field(10_000, ge=0)
    credits_per_unit: int = 2
    """Credits charged per started ``credit_unit_s`` of session time (Runway: 2 per 6 s)."""
    credit_unit_s: int = 6

    # Images
    max_image_bytes: int = Field(5 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(40_000_000, gt=0)
    min_image_side: int = Field(64, gt=0)
    max_processed_side: int = Field(2048, ge=256)
    remote_fetch_timeout_s: float = Field(10.0, gt=0)
    allow_private_urls: bool = False
    """Allow reference images from private, loopback or link-local addresses (off by default)."""
    allow_http_urls: bool = False
    """Allow ``http://`` reference image URLs (off by default; for local testing only)."""

    # Avatar videos (POST /v1/avatar_videos, run as tasks one at a time per server process)
    max_audio_bytes: int = Field(16 * 1024 * 1024, gt=0)
    """Largest speech audio accepted for an avatar video (data URI, upload or URL)."""
    max_speech_s: float = Field(600.0, gt=0)
    """Longest speech an avatar video may have (recorded, or the text once spoken)."""
    max_active_tasks: int = Field(50, gt=0)
    """Tasks (PENDING or RUNNING) one organisation may have at once; more answer 429."""

    # Face
    face_orientation: Literal["auto", "landscape", "portrait"] = "auto"
    """Video framing of avatars: 1088×704 landscape, 704×1088 portrait, or ``auto`` (landscape
    for images at least 1.2× wider than tall, else portrait)."""
    face_head_turn_deg: float = Field(8.0, ge=0.0, le=12.0)
    """Largest head turn (yaw) of the animated face, in degrees each way; pitch gets ⅔ of it
    and roll ½. 0 keeps the head still apart from small shifts."""

    # Conversation engine (characters/conversation): models are installed from packages and
    # assembled into <data dir>/models on first use (see docs/models.md).
    models_dir: Path | None = None
    """Folder where models split across several packages are assembled on first use (about
    650 MB). Default: ``models`` in the data dir; several data dirs may share one."""
    stt_model: Literal["whisper-tiny.en", "whisper-base", "moonshine-base-en"] = "whisper-tiny.en"
    """Speech recognition model: ``whisper-tiny.en`` (the fastest), ``whisper-base`` or
    ``moonshine-base-en`` (measured against each other in docs/turn-taking.md, "Choosing the
    speech recognizer")."""
    stt_threads: int = Field(2, ge=1, le=64)
    """CPU threads of speech recognition."""
    llm_model: str = "qwen2.5-coder-0.5b-instruct"
    """With no ``llm_url``: the id of an embedded GGUF model (``characters models check`` lists
    them). With ``llm_url``: the model name sent to that endpoint."""
    llm_url: str | None = None
    """Base URL of an OpenAI-compatible chat completions endpoint (Ollama, vLLM, llama.cpp
    server, a cloud), e.g. ``http://localhost:11434/v1``. Default: the embedded llama.cpp."""
    llm_api_key: str | None = None
    """Bearer key sent to ``llm_url``."""
    llm_threads: int | None = Field(None, ge=1, le=64)
    """CPU threads of the embedded llama.cpp model. Default: the cores (at most 4), one fewer
    in the server, whose live calls need CPU for the face and voice while the model writes."""
    llm_max_tokens: int = Field(160, ge=16, le=4096)
    """Longest answer, in tokens."""
    llm_temperature: float = Field(0.4, ge=0.0, le=2.0)
    llm_seed: int | None = Field(None, ge=0, le=2**31 - 1)
    """Seed of the embedded model's sampling: every answer is sampled from it, so the same
    prompt gets the same answer (the benchmarks use it: without it one question answered
    differently changes the samples of all the questions after it). Default: a seed per
    answer."""
    llm_facts: Literal["rules", "facts", "off"] = "off"
    """What goes with each user turn in the prompt: the persona's sentence that bears on it and
    a one-line rule (``rules``: most truthful, about 0.3 s later), the sentence only
    (``facts``), or nothing (``off``: the first word soonest). See docs/llm.md."""
    llm_timeout_s: float = Field(20.0, gt=0)
    """Connect and first-token timeout for ``llm_url``."""
    turn_silence_ms: int = Field(900, ge=100, le=5000)
    """Silence after speech that ends the user's turn whatever the end-of-turn model says."""
    turn_min_silence_ms: int = Field(96, ge=32, le=2000)
    """Silence after which the answer to the words so far starts speculatively (the
    end-of-turn model is asked from 128 ms)."""
    turn_threshold: float = Field(0.9, ge=0.0, le=1.0)
    """Smart Turn probability above which a pause ends the turn early."""
    turn_model_silence_ms: int = Field(600, ge=50, le=5000)
    """Pause from which the end-of-turn model's "finished" ends the turn."""

    # Knowledge base (characters/knowledge; docs/knowledge.md)
    knowledge_max_tokens: int = Field(50_000, ge=100, le=1_000_000)
    """Tokens of knowledge one avatar may have, all its documents together (Runway: 50 000);
    also the most one document may have. Counted with the embedding model's tokenizer."""
    knowledge_max_chars: int = Field(700, ge=0, le=8000)
    """Characters of retrieved document text put into the prompt with each user turn (0: none).
    Every token of it is evaluated after the user stops speaking (about 0.1 s per 15 tokens
    with the embedded model on 2 cores)."""

    knowledge_unknown_line: str = "I'm sorry, I don't have any information about that."
    """What a character with documents says, without asking the language model, to a question
    that neither its documents nor its personality, memory or tools say anything about (empty:
    the model answers, told that its documents say nothing about it). The small embedded model
    often invents an answer instead of admitting it (docs/knowledge.md)."""
    knowledge_partial_line: str = "I'm not sure about that exactly."
    """Said before the sentence that replaces an unchecked answer (``knowledge_grounding``,
    ``persona_grounding``) when that sentence holds only part of what the question asks
    ("What is Dr. Patel's first name?" → "I'm not sure about that exactly. Dr. Patel and
    Dr. Moreau are the dentists."). Empty: the sentence alone."""
    in_character_line: str = "It's lovely to hear from you! What can I help you with?"
    """Said in place of an answer whose first words break character (an answer the check
    above does not read: small talk): "As an AI language model, I don't have feelings.", "I'm
    not sure what you mean. Could you please clarify?", the character's name in the third
    person (:mod:`characters.conversation.in_character`). Words that break character after
    others were said end the answer there. Empty: the model's words are said as they are."""
    knowledge_grounding: bool = True
    """Check each answer of a character with documents to a question against what it knows
    (the passages found, persona, conversation): an answer that only echoes the question or
    adds what nothing says is replaced by the passages' sentence that answers the question,
    or ``knowledge_unknown_line`` (docs/knowledge.md, "Grounded answers")."""
    persona_grounding: bool = True
    """The same check for a character without documents whose personality states facts (at
    least three sentences not addressed to it): a question nothing it knows is about gets
    ``knowledge_unknown_line``, and an answer its persona does not back is replaced by the
    persona's sentence that answers the question, or that line (docs/llm.md). Off: the model
    answers freely (open small talk, general knowledge)."""

    # Uploads
    upload_ttl_s: int = Field(24 * 3600, gt=0)
    max_upload_bytes: int = Field(200 * 1024 * 1024, gt=0)
    max_pending_uploads: int = Field(1000, gt=0)

    @field_validator("default_tier")
    @classmethod
    def _known_tier(cls, v: int) -> int:
        if v not in TIERS:
            raise ValueError(f"unknown tier {v}; choose one of {sorted(TIERS)}")
        return v

    @property
    def resolved_database_url(self) -> str:
        """The database URL with the default filled in and the async driver chosen."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'characters.db'}"
        return async_url(url)

    @field_validator("ice_servers")
    @classmethod
    def _ice_servers(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for server in v:
            urls = server.get("urls")
            if not urls or not isinstance(urls, str | list):
                raise ValueError('each ICE server needs "urls" (a string or a list of strings)')
            for url in [urls] if isinstance(urls, str) else urls:
                if not isinstance(url, str) or not url.startswith(("stun:", "turn:", "turns:")):
                    raise ValueError(
                        f"ICE server URL {url!r} must start with stun:, turn: or turns:"
                    )
        return v

    @model_validator(mode="after")
    def _livekit_complete(self) -> Settings:
        given = [self.livekit_url, self.livekit_api_key, self.livekit_api_secret]
        if any(given) and not all(given):
            raise ValueError(
                "LiveKit mode needs all three of CHARACTERS_LIVEKIT_URL, "
                "CHARACTERS_LIVEKIT_API_KEY and CHARACTERS_LIVEKIT_API_SECRET"
            )
        if self.livekit_url and not self.livekit_url.startswith(("ws://", "wss://")):
            raise ValueError(
                f"CHARACTERS_LIVEKIT_URL {self.livekit_url!r} must start with ws:// or wss://"
            )
        if self.livekit_workers and not self.livekit_url:
            raise ValueError("CHARACTERS_LIVEKIT_WORKERS needs CHARACTERS_LIVEKIT_URL and its key")
        if self.livekit_api_secret and len(self.livekit_api_secret) < 32:
            raise ValueError(
                "CHARACTERS_LIVEKIT_API_SECRET must have at least 32 characters "
                "(LiveKit refuses shorter secrets)"
            )
        return self

    @property
    def livekit(self) -> bool:
        """Whether calls go through a LiveKit server (``livekit_url`` and its key are set)."""
        return bool(self.livekit_url and self.livekit_api_key and self.livekit_api_secret)

    @property
    def node(self) -> str:
        """This process's name (``node_name`` or ``<hostname>:<port>``)."""
        import socket

        return self.node_name or f"{socket.gethostname()}:{self.port}"

    @property
    def recordings_dir(self) -> Path:
        """Recordings of live calls while they are written (then moved into the blob store)."""
        return self.data_dir / "recordings"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def ensure_dirs(self) -> None:
        """Create the data dir and its sub-folders on first run."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.blob_dir.mkdir(parents=True, exist_ok=True)

    def signing_key(self) -> bytes:
        """Secret for signed URLs; created once in the data dir when not configured."""
        if self.secret:
            return self.secret.encode()
        self.ensure_dirs()
        path = self.data_dir / "secret"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        return path.read_text().strip().encode()


def async_url(url: str) -> str:
    """Map a plain SQLAlchemy URL to the async driver this project uses."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def sync_url(url: str) -> str:
    """The sync-driver twin of :func:`async_url` (used by Alembic)."""
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url.removeprefix("sqlite+aiosqlite:///")
    return url  # psycopg 3 serves both sync and async under one dialect name


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with CLI flags (non-None values) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
