"""End-to-end: the official Node SDK (``@runwayml/sdk`` 4.20.1, pinned in tests/node) against a
real server. ``tests/node/sdk_e2e.mjs`` makes the calls and prints what it got as JSON; the
assertions live here."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import AVATAR_KEYS, face_png

pytestmark = [pytest.mark.store, pytest.mark.slow]

NODE_DIR = Path(__file__).parent / "node"
SDK_VERSION = "4.20.1"


@pytest.fixture(scope="module")
def node_sdk() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the Node SDK test")
    installed = NODE_DIR / "node_modules" / "@runwayml" / "sdk" / "package.json"
    if not installed.exists():
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    assert json.loads(installed.read_text())["version"] == SDK_VERSION
    return Path(node)


@pytest.fixture(scope="module")
def result(node_sdk: Path, server, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("node")
    (tmp / "face.png").write_bytes(face_png())
    big = Image.linear_gradient("L").resize((6000, 6000)).convert("RGB")
    buf = io.BytesIO()
    big.save(buf, "PNG")
    (tmp / "big.png").write_bytes(buf.getvalue())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RUNWAYML_")},
        "RUNWAYML_BASE_URL": server.base_url,
        "RUNWAYML_API_SECRET": server.create_key("node", "--tier", "2"),
        "TIER1_API_KEY": server.create_key("node-tier1", "--tier", "1"),
        "IMAGE_PATH": str(tmp / "face.png"),
        "BIG_IMAGE_PATH": str(tmp / "big.png"),
    }
    proc = subprocess.run(
        [str(node_sdk), "sdk_e2e.mjs"],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + "\n--- server log ---\n" + server.log()[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_documents(result):
    doc = result["documentCreate"]
    assert set(doc) == {"id", "name", "type", "content", "createdAt", "updatedAt", "usedBy"}
    assert doc["usedBy"] == [] and doc["type"] == "text"
    assert result["documentUpdate"] == 204
    assert result["documentRetrieve"]["name"] == "Menu v2"
    assert result["documentRetrieve"]["content"] == "Soup of the day: tomato."
    listed = result["documentList"]
    assert [d["id"] for d in listed][0] == doc["id"] and len(listed) == 2  # limit 1, two pages
    assert all("content" not in d["keys"] for d in listed)
    assert [u["name"] for u in result["documentUsedBy"]] == ["Grace"]
    assert result["documentDelete"] == 204
    assert result["documentAfterDelete"]["kind"] == "NotFoundError"
    assert result["avatarAfterDocumentDelete"] == []


def test_uploads(result):
    assert result["upload"]["uri"].startswith("runway://")
    bad = result["uploadBadExtension"]
    assert bad["kind"] == "BadRequestError" and bad["body"]["issues"][0]["path"] == ["filename"]


def test_avatars(result):
    created = result["avatarCreate"]
    assert set(created) == AVATAR_KEYS and created["status"] == "PROCESSING"
    assert created["voice"] == {
        "type": "runway-live-preset",
        "presetId": "clara",
        "name": "Clara",
        "description": "Soft, approachable",
    }
    ready = result["avatarReady"]
    assert ready["status"] == "READY" and set(ready) == AVATAR_KEYS
    assert result["avatarFromUpload"]["status"] == "READY"
    assert result["avatarFromUpload"]["startScript"] == "Hello!"
    retrieved = result["avatarRetrieve"]
    assert retrieved["status"] == 200 and retrieved["contentType"].startswith("application/json")
    assert retrieved["body"]["documentIds"] == [result["documentCreate"]["id"]]

    a1, a2 = created["id"], result["avatarFromUpload"]["id"]
    # limit 1: the SDK followed the cursor; the slow avatar was created after these lists.
    assert result["avatarList"] == [a2, a1]
    assert result["avatarListDefault"] == [a2, a1]

    updated = result["avatarUpdate"]
    assert updated["name"] == "Grace" and updated["startScript"] is None
    assert updated["documentIds"] != retrieved["body"]["documentIds"]
    empty = result["avatarUpdateEmpty"]
    assert empty["kind"] == "BadRequestError" and empty["status"] == 400

    assert result["avatarDelete"] == 204
    assert result["avatarAfterDelete"]["kind"] == "NotFoundError"


def test_conflict_is_not_retried(result):
    conflict = result["conflict"]
    assert conflict["kind"] == "ConflictError" and conflict["status"] == 409
    assert conflict["shouldRetry"] == "false"
    assert conflict["body"] == {
        "error": "The reference image cannot be updated while the avatar is processing."
    }
    assert result["conflictRequests"] == 1


def test_realtime_sessions(result):
    session_id = result["sessionCreate"]["id"]
    assert set(result["sessionCreate"]) == {"id"}
    ready = result["sessionRetrieve"]
    assert set(ready) == {"id", "createdAt", "status", "expiresAt", "sessionKey"}
    assert ready["status"] == "READY" and ready["id"] == session_id
    assert result["consumeWrongKey"] == 401
    assert result["consume"]["status"] == 200
    assert set(result["consume"]["body"]) == {"url", "token", "roomName"}
    assert result["consume"]["body"]["roomName"] == session_id
    assert result["consumeAgain"]["status"] == 409
    assert "consumed" in result["consumeAgain"]["body"]["error"]
    assert result["sessionDelete"] == 204
    assert result["sessionAfterDelete"] == {
        "id": session_id,
        "createdAt": ready["createdAt"],
        "status": "CANCELLED",
    }
    assert result["conversations"] == [{"id": session_id, "status": "ended"}]


def test_errors(result):
    assert result["notFound"]["kind"] == "NotFoundError"
    assert set(result["notFound"]["body"]) == {"error"}
    bad = result["badRequest"]
    assert bad["kind"] == "BadRequestError"
    assert bad["body"]["issues"][0]["path"] == ["voice", "presetId"]
    assert result["unauthorized"]["kind"] == "AuthenticationError"
    assert result["unauthorized"]["status"] == 401
    assert result["sessionNotFound"]["kind"] == "NotFoundError"
    limited = result["rateLimited"]
    assert limited["kind"] == "RateLimitError" and limited["status"] == 429
    assert int(limited["retryAfter"]) >= 1


def test_organization(result):
    org = result["organization"]
    assert set(org) == {"creditBalance", "tier", "usage"}
    assert org["usage"]["models"]["gwm1_avatars"]["dailyGenerations"] == 1
