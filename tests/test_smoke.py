"""The first-contact path: a server starts, refuses calls without a key, and serves the SDK."""

from __future__ import annotations

import pytest
import runwayml

from tests.conftest import ready_avatar

pytestmark = [pytest.mark.store, pytest.mark.slow]


def test_organization_needs_a_key(server):
    with server.http() as http:
        resp = http.get("/v1/organization")
    assert resp.status_code == 401
    assert "API key" in resp.json()["error"]


def test_sdk_creates_an_avatar_that_becomes_ready(client, image_uri):
    avatar = ready_avatar(client, image_uri)
    assert avatar.status == "READY"
    assert avatar.voice.name == "Clara"
    with pytest.raises(runwayml.NotFoundError):
        client.avatars.retrieve("550e8400-e29b-41d4-a716-446655440000")
