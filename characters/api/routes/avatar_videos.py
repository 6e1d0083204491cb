"""``POST /v1/avatar_videos``: start a task that renders an avatar speaking text or audio.

The request is checked completely before the task exists: the avatar must be READY, the voice
known, and audio (data URI, ``runway://`` upload or ``https://`` URL) must decode; then the task
is queued and its id returned. Poll it at ``GET /v1/tasks/{id}``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from characters.api import wire
from characters.api.deps import PrincipalDep, Services, ServicesDep
from characters.api.routes.realtime_sessions import CustomAvatar, PresetAvatar
from characters.api.routes.uploads import read_media_uri
from characters.api.wire import ok
from characters.avatars.usable import preset_not_installed, ready_avatar
from characters.errors import InvalidInput
from characters.fetch import decode_data_uri, fetch_url
from characters.render.audio import UnreadableAudio, decode_audio, sniff_format
from characters.store.keys import Principal
from characters.store.tables import Avatar
from characters.tasks.avatar_video import AUDIO_MODEL, TEXT_MODEL, credits_for
from characters.voices.presets import PRESET_IDS
from characters.voices.tts import estimate_duration_s

router = APIRouter(prefix="/v1", tags=["avatar_videos"])

AUDIO_PATH = ["speech", "audio"]
CONTENT_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "mov": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "matroska": "audio/webm",
    "aiff": "audio/aiff",
}


class PresetVoice(wire.Request):
    type: Literal["preset"]
    presetId: Literal[PRESET_IDS]  # type: ignore[valid-type]


class CustomVoice(wire.Request):
    type: Literal["custom"]
    id: wire.Uuid


class AudioSpeech(wire.Request):
    type: Literal["audio"]
    audio: Annotated[str, StringConstraints(min_length=13, max_length=16_777_216)]
    """An https:// URL, a runway:// upload URI or a data:audio/...;base64 URI."""


class TextSpeech(wire.Request):
    type: Literal["text"]
    text: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    voice: (
        Annotated[
            Annotated[PresetVoice, wire.tag("preset")] | Annotated[CustomVoice, wire.tag("custom")],
            wire.TypeDiscriminator,
        ]
        | None
    ) = None
    """Defaults to the avatar's voice."""


class AvatarVideoCreate(wire.Request):
    model: Literal["gwm1_avatars"]
    avatar: Annotated[
        Annotated[PresetAvatar, wire.tag("runway-preset")]
        | Annotated[CustomAvatar, wire.tag("custom")],
        wire.TypeDiscriminator,
    ]
    speech: Annotated[
        Annotated[AudioSpeech, wire.tag("audio")] | Annotated[TextSpeech, wire.tag("text")],
        wire.TypeDiscriminator,
    ]


class TaskCreated(wire.Response):
    id: str


def decode_audio_data_uri(uri: str, max_bytes: int) -> bytes:
    return decode_data_uri(
        uri,
        field="speech.audio",
        media="audio",
        max_bytes=max_bytes,
        too_big=_too_big(max_bytes),
        path=AUDIO_PATH,
    )


def _too_big(max_bytes: int) -> str:
    return f"speech.audio is larger than {max_bytes / (1024 * 1024):g} MB; send a shorter or more compressed recording."


async def load_audio(services: Services, principal: Principal, uri: str) -> bytes:
    """The audio bytes behind a data URI, upload URI or URL (not yet decoded)."""
    s = services.settings
    data = await read_media_uri(
        services,
        principal,
        uri,
        field="speech.audio",
        media="audio",
        decode=lambda data_uri: decode_audio_data_uri(data_uri, s.max_audio_bytes),
        fetch=lambda url: fetch_url(
            url,
            field="speech.audio",
            noun="audio",
            accept="audio/*",
            max_bytes=s.max_audio_bytes,
            too_big=_too_big(s.max_audio_bytes),
            timeout_s=s.remote_fetch_timeout_s,
            allow_private=s.allow_private_urls,
            allow_http=s.allow_http_urls,
            path=AUDIO_PATH,
        ),
        path=AUDIO_PATH,
    )
    if len(data) > s.max_audio_bytes:
        raise InvalidInput(_too_big(s.max_audio_bytes), AUDIO_PATH)
    return data


@router.post(
    "/avatar_videos",
    response_model=TaskCreated,
    summary="Generate a video of an avatar speaking text or audio",
    description="Starts an asynchronous task; poll `GET /v1/tasks/{id}` for its progress and, "
    "once SUCCEEDED, the MP4's URL. Text is spoken with the given preset voice, or the "
    "avatar's own.",
    responses={429: {"description": "Too many tasks pending or running"}},
)
async def create_avatar_video(
    body: AvatarVideoCreate, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    if isinstance(body.avatar, PresetAvatar):
        raise preset_not_installed(body.avatar.presetId)
    avatar_id = body.avatar.avatarId.lower()
    async with services.db.transaction() as db:
        avatar = await ready_avatar(db, principal.organization_id, avatar_id)
    s = services.settings
    avatar_ref = {"type": "custom", "avatarId": avatar_id}
    audio: tuple[bytes, str] | None = None
    speech = body.speech
    params: dict[str, Any]
    if isinstance(speech, TextSpeech):
        if not speech.text.strip():
            raise InvalidInput("speech.text is empty.", ["speech", "text"])
        voice = _voice_for(speech, avatar)
        seconds = estimate_duration_s(speech.text, voice)
        params = {
            "avatar": avatar_ref,
            "speech": {"type": "text", "text": speech.text, "voice": voice},
        }
        model = TEXT_MODEL
    else:
        data = await load_audio(services, principal, speech.audio)
        try:
            chunk = await asyncio.to_thread(
                decode_audio, data, max_seconds=s.max_speech_s, what="speech.audio"
            )
        except UnreadableAudio as e:
            raise InvalidInput(e.message, AUDIO_PATH) from e
        seconds = chunk.duration_s
        fmt = sniff_format(data[:16]) or ""
        audio = (data, CONTENT_TYPES.get(fmt, "application/octet-stream"))
        params = {
            "avatar": avatar_ref,
            "speech": {"type": "audio", "durationS": round(seconds, 3)},
        }
        model = AUDIO_MODEL
    task = await services.tasks.create(
        principal,
        model=model,
        params=params,
        estimated_credits=credits_for(seconds, s.credit_unit_s, s.credits_per_unit),
        audio=audio,
    )
    return ok({"id": task.id})


def _voice_for(speech: TextSpeech, avatar: Avatar) -> str:
    if isinstance(speech.voice, CustomVoice):
        raise InvalidInput(
            f"Custom voice {speech.voice.id} not found: this server has no custom voices yet. "
            "Use {'type': 'preset', 'presetId': ...}.",
            ["speech", "voice", "id"],
        )
    if speech.voice is not None:
        return str(speech.voice.presetId)
    voice = avatar.voice or {}
    if voice.get("type") == "runway-live-preset" and voice.get("presetId") in PRESET_IDS:
        return str(voice["presetId"])
    raise InvalidInput(
        f"Avatar {avatar.id} has no preset voice; give speech.voice {{'type': 'preset', "
        "'presetId': ...}.",
        ["speech", "voice"],
    )
