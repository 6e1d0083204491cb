"""``/v1/voices`` lists the 30 preset voices as READY Voice objects the official SDK parses, with
a signed preview link; previews are WAV files made once and cached."""

from __future__ import annotations

import io
import uuid
import wave
from typing import Any

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.slow


def test_the_sdk_lists_the_presets_page_by_page(client: Any) -> None:
    voices = list(client.voices.list(limit=7))  # the SDK follows nextCursor
    assert [v.id for v in voices][:3] == ["victoria", "vincent", "clara"]
    assert len(voices) == 30 and len({v.id for v in voices}) == 30
    clara = voices[2]
    assert clara.status == "READY" and clara.name == "Clara"
    assert clara.description == "Soft, approachable"
    assert clara.created_at.year == 2024 and clara.preview_url
    extra = clara.model_extra or {}
    assert extra["type"] == "preset" and extra["gender"] == "female"
    assert "soft" in extra["style"]
    page = client.voices.list(limit=30)
    assert len(page.data) == 30 and not page.has_next_page()


def test_retrieve_a_preset_and_custom_ids_are_not_found(server: Server, api_key: str) -> None:
    http = server.http(api_key)
    got = http.get("/v1/voices/vincent")
    assert got.status_code == 200
    assert got.json()["id"] == "vincent" and got.json()["status"] == "READY"
    for missing in (str(uuid.uuid4()), "nobody"):
        r = http.get(f"/v1/voices/{missing}")
        assert r.status_code == 404 and "error" in r.json()
    bad = http.get("/v1/voices", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400
    presets = http.get("/v1/voice_presets").json()
    assert [p["id"] for p in presets][:3] == ["victoria", "vincent", "clara"]
    assert presets[1]["gender"] == "male"


def _wav(data: bytes) -> tuple[int, float]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), w.getnframes() / w.getframerate()


def test_preview_is_a_cached_wav_behind_auth_and_a_signed_link(
    server: Server, api_key: str
) -> None:
    http = server.http(api_key)
    r = http.get("/v1/voices/vincent/preview")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    rate, seconds = _wav(r.content)
    assert rate == 22_050 and 2.0 < seconds < 8.0
    assert list((server.data_dir / "voice_previews").glob("vincent-*.wav"))
    again = http.get("/v1/voices/vincent/preview")
    assert again.content == r.content  # served from the cache
    assert http.get("/v1/voices/nobody/preview").status_code == 404
    assert httpx.get(server.base_url + "/v1/voices/vincent/preview").status_code == 401

    url = http.get("/v1/voices/vincent").json()["previewUrl"]
    assert url.startswith(server.base_url + "/files/voice_previews/vincent.wav?expires=")
    public = httpx.get(url)  # no credentials: the signature is the credential
    assert public.status_code == 200 and public.content == r.content
    forged = url.replace("vincent.wav", "clara.wav")
    assert httpx.get(forged).status_code == 404
    assert httpx.get(url[:-4] + "0000").status_code == 404
