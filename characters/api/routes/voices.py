"""``/v1/voices``: the voices of this server. It has no voice-design or cloning engine, so the
voices it lists are the 30 preset voices, each as a READY ``Voice`` whose id is the preset id,
with additive fields ``type: "preset"``, ``gender``, ``engine`` and ``style``; creating a custom
voice answers a clear 400 pointing at the presets. Custom (uuid) voice ids are 404.

Previews: ``GET /v1/voices/{presetId}/preview`` (authenticated) returns a WAV of the preset
introducing itself, made once and cached in the data dir; ``previewUrl`` is a signed public link
to the same file, ``/files/voice_previews/{presetId}.wav?expires=…&sig=…`` (signed like
``/files/{id}`` links, with the server's signing key; valid 24 h). Synthesis runs in a worker
thread.

Extension: ``GET /v1/voice_presets`` lists the preset voices with their name and description.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from characters.api import wire
from characters.api.deps import BaseUrlDep, PrincipalDep, Services, ServicesDep
from characters.api.wire import ok
from characters.errors import InvalidInput, NotFound
from characters.voices.presets import PRESETS, VoicePreset
from characters.voices.tts import ENGINE_VOICES

router = APIRouter(tags=["voices"])

PRESET_CREATED_AT = "2024-11-06T00:00:00Z"
"""``createdAt`` of every preset voice (they ship with the server)."""
PREVIEW_TTL_S = 24 * 3600
WAV = "audio/wav"

NO_ENGINE = (
    "Custom voices are not available on this server: it has no voice design or cloning engine. "
    "Use a preset voice instead: {'type': 'runway-live-preset', 'presetId': 'clara'} "
    "(GET /v1/voice_presets lists all 30)."
)


class TextSource(wire.Request):
    type: Literal["text"]
    prompt: Annotated[str, StringConstraints(min_length=20, max_length=1000)]
    model: Literal["eleven_ttv_v3", "eleven_multilingual_ttv_v2"]


class AudioSource(wire.Request):
    type: Literal["audio"]
    audio: Annotated[str, StringConstraints(min_length=13)]


class VoiceCreate(wire.Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    description: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    from_: Annotated[
        Annotated[TextSource, wire.tag("text")] | Annotated[AudioSource, wire.tag("audio")],
        wire.TypeDiscriminator,
    ] = Field(alias="from")


class VoiceUpdate(wire.Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None


class VoicePreview(wire.Request):
    prompt: Annotated[str, StringConstraints(min_length=20, max_length=1000)]
    model: Literal["eleven_ttv_v3", "eleven_multilingual_ttv_v2"]


class VoicePage(wire.Response):
    data: list[dict[str, Any]]
    hasMore: bool
    nextCursor: str | None


class PresetOut(wire.Response):
    id: str
    name: str
    description: str
    gender: str
    style: str


class PresetVoiceOut(wire.Response):
    id: str
    name: str
    description: str | None
    createdAt: str
    status: Literal["READY"]
    previewUrl: str | None
    type: Literal["preset"]
    gender: str
    engine: str
    style: str


def _style(preset: VoicePreset) -> str:
    """``"female, soft, approachable (kokoro)"``: gender, description words, engine."""
    return f"{preset.gender}, {preset.description.lower()} ({ENGINE_VOICES[preset.id].engine})"


def _preview_path(preset_id: str) -> str:
    return f"/files/voice_previews/{preset_id}.wav"


def _preview_url(preset_id: str, services: Services, base_url: str) -> str:
    """A signed public link to the preset's preview (signed like ``/files/{id}`` links)."""
    expires = int(time.time()) + PREVIEW_TTL_S
    sig = services.blobs.sign(f"voice-preview:{preset_id}", expires)
    return f"{base_url}{_preview_path(preset_id)}?expires={expires}&sig={sig}"


def preset_voice(preset: VoicePreset, services: Services, base_url: str) -> dict[str, Any]:
    """A preset as a READY ``Voice`` (plus additive fields)."""
    return {
        "id": preset.id,
        "name": preset.name,
        "description": preset.description,
        "createdAt": PRESET_CREATED_AT,
        "status": "READY",
        "previewUrl": _preview_url(preset.id, services, base_url),
        "type": "preset",
        "gender": preset.gender,
        "engine": ENGINE_VOICES[preset.id].engine,
        "style": _style(preset),
    }


def _encode_cursor(preset_id: str) -> str:
    return base64.urlsafe_b64encode(f"preset:{preset_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    """The catalogue index after which the page starts."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raw = ""
    kind, _, preset_id = raw.partition(":")
    ids = list(PRESETS)
    if kind != "preset" or preset_id not in PRESETS:
        raise InvalidInput(
            "Invalid cursor: pass the nextCursor value of a previous page unchanged.", ["cursor"]
        )
    return ids.index(preset_id) + 1


def _preset(id: str) -> VoicePreset:
    preset = PRESETS.get(id)
    if preset is None:
        raise NotFound(f"Voice {id} not found; the preset voices are: {', '.join(PRESETS)}.")
    return preset


@router.get("/v1/voices", response_model=VoicePage, summary="List voices (the preset voices)")
async def list_voices(
    services: ServicesDep,
    principal: PrincipalDep,
    base_url: BaseUrlDep,
    limit: wire.Limit = 50,
    cursor: Annotated[wire.Cursor | None, Query()] = None,
) -> JSONResponse:
    start = _decode_cursor(cursor) if cursor else 0
    presets = list(PRESETS.values())[start : start + limit]
    has_more = start + limit < len(PRESETS)
    return ok(
        {
            "data": [preset_voice(p, services, base_url) for p in presets],
            "hasMore": has_more,
            "nextCursor": _encode_cursor(presets[-1].id) if has_more else None,
        }
    )


@router.post(
    "/v1/voices",
    summary="Create a custom voice (not available on this server)",
    responses={400: {"description": "No voice engine"}},
)
async def create_voice(body: VoiceCreate, principal: PrincipalDep) -> dict[str, str]:
    raise InvalidInput(NO_ENGINE, ["from"])


@router.post(
    "/v1/voices/preview",
    summary="Preview a designed voice (not available on this server)",
    responses={400: {"description": "No voice engine"}},
)
async def preview_voice(body: VoicePreview, principal: PrincipalDep) -> dict[str, str]:
    raise InvalidInput(NO_ENGINE, ["prompt"])


@router.get(
    "/v1/voices/{id}", response_model=PresetVoiceOut, summary="Retrieve a voice (a preset id)"
)
async def get_voice(
    id: str, services: ServicesDep, principal: PrincipalDep, base_url: BaseUrlDep
) -> JSONResponse:
    return ok(preset_voice(_preset(id), services, base_url))


async def _preview_wav(preset_id: str, services: Services) -> Response:
    from characters.voices.preview import cached_preview

    data = await asyncio.to_thread(cached_preview, preset_id, services.settings.data_dir)
    return Response(data, media_type=WAV, headers={"cache-control": "private, max-age=3600"})


@router.get(
    "/v1/voices/{id}/preview",
    summary="A WAV of a preset voice introducing itself (extension)",
    response_class=Response,
    responses={200: {"content": {WAV: {}}}},
)
async def get_voice_preview(id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    return await _preview_wav(_preset(id).id, services)


@router.get(
    "/files/voice_previews/{id}.wav",
    summary="Download a preset voice preview by signed URL",
    tags=["files"],
    response_class=Response,
    responses={200: {"content": {WAV: {}}}},
)
async def get_signed_voice_preview(
    id: str, expires: int, sig: str, services: ServicesDep
) -> Response:
    if id not in PRESETS or not services.blobs.verify(f"voice-preview:{id}", expires, sig):
        raise NotFound("File not found or link expired; fetch the voice again for a new link.")
    return await _preview_wav(id, services)


@router.patch("/v1/voices/{id}", summary="Update a custom voice")
async def update_voice(id: uuid.UUID, body: VoiceUpdate, principal: PrincipalDep) -> dict[str, Any]:
    raise NotFound(f"Voice {id} not found.")


@router.delete(
    "/v1/voices/{id}", status_code=204, response_class=Response, summary="Delete a custom voice"
)
async def delete_voice(id: uuid.UUID, principal: PrincipalDep) -> Response:
    raise NotFound(f"Voice {id} not found.")


@router.get(
    "/v1/voice_presets",
    response_model=list[PresetOut],
    summary="List the preset voices (extension)",
)
async def list_presets(principal: PrincipalDep) -> JSONResponse:
    return ok(
        [
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "gender": p.gender,
                "style": _style(p),
            }
            for p in PRESETS.values()
        ]
    )
