"""``/v1/voices``: custom voices. This server has no voice-design or cloning engine yet, so the
list is empty and creation answers a clear 400 pointing at the 30 preset voices.

Extension: ``GET /v1/voice_presets`` lists the preset voices with their name and description.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from characters.api import wire
from characters.api.deps import PrincipalDep
from characters.api.wire import ok
from characters.errors import InvalidInput, NotFound
from characters.voices.presets import PRESETS

router = APIRouter(prefix="/v1", tags=["voices"])

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


@router.get("/voices", response_model=VoicePage, summary="List custom voices")
async def list_voices(
    principal: PrincipalDep,
    limit: wire.Limit = 50,
    cursor: Annotated[wire.Cursor | None, Query()] = None,
) -> JSONResponse:
    return ok({"data": [], "hasMore": False, "nextCursor": None})


@router.post(
    "/voices",
    summary="Create a custom voice (not available on this server)",
    responses={400: {"description": "No voice engine"}},
)
async def create_voice(body: VoiceCreate, principal: PrincipalDep) -> dict[str, str]:
    raise InvalidInput(NO_ENGINE, ["from"])


@router.post(
    "/voices/preview",
    summary="Preview a designed voice (not available on this server)",
    responses={400: {"description": "No voice engine"}},
)
async def preview_voice(body: VoicePreview, principal: PrincipalDep) -> dict[str, str]:
    raise InvalidInput(NO_ENGINE, ["prompt"])


@router.get("/voices/{id}", summary="Retrieve a custom voice")
async def get_voice(id: uuid.UUID, principal: PrincipalDep) -> dict[str, Any]:
    raise NotFound(f"Voice {id} not found.")


@router.patch("/voices/{id}", summary="Update a custom voice")
async def update_voice(id: uuid.UUID, body: VoiceUpdate, principal: PrincipalDep) -> dict[str, Any]:
    raise NotFound(f"Voice {id} not found.")


@router.delete(
    "/voices/{id}", status_code=204, response_class=Response, summary="Delete a custom voice"
)
async def delete_voice(id: uuid.UUID, principal: PrincipalDep) -> Response:
    raise NotFound(f"Voice {id} not found.")


@router.get(
    "/voice_presets", response_model=list[PresetOut], summary="List the preset voices (extension)"
)
async def list_presets(principal: PrincipalDep) -> JSONResponse:
    return ok(
        [{"id": p.id, "name": p.name, "description": p.description} for p in PRESETS.values()]
    )
