"""The README's quickstart runs as written (against a real server, with a real face photo)."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Server, wait_for
from tests.face_assets import hopper_bytes

pytestmark = [pytest.mark.slow]


def quickstart_code() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quickstart") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no python block in its Quickstart"
    return match.group(1)


def quickstart_call() -> str:
    """The ``characters call --url URL --token TOKEN ...`` line of the quickstart."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quickstart") :]
    match = re.search(
        r"```bash\n(\.venv/bin/characters call --url URL --token TOKEN[^\n]*)", section
    )
    assert match, "README's Quickstart has no `characters call --url URL --token TOKEN` line"
    return match.group(1)


@pytest.mark.timeout(300)
def test_readme_quickstart_runs_and_ends_with_a_live_call(
    server: Server, api_key: str, tmp_path: Path
) -> None:
    code = quickstart_code()
    assert 'api_key="key_…"' in code and "http://127.0.0.1:8000" in code
    code = code.replace('api_key="key_…"', f'api_key="{api_key}"')
    code = code.replace("http://127.0.0.1:8000", server.base_url)
    (tmp_path / "face.jpg").write_bytes(hopper_bytes())
    (tmp_path / "quickstart.py").write_text(code)
    result = subprocess.run(
        [sys.executable, "quickstart.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    creds = ast.literal_eval(result.stdout.strip().splitlines()[-1])  # the consumed credentials
    assert set(creds) == {"url", "token", "roomName"}

    # The live call, as the README writes it (the server loads its models on this first call).
    line = quickstart_call().replace("URL", creds["url"]).replace("TOKEN", creds["token"])
    argv = shlex.split(line)
    argv[0] = str(Path(sys.executable).parent / "characters")
    call = subprocess.run(
        argv, cwd=tmp_path, env=server.env, capture_output=True, text=True, timeout=240
    )
    assert call.returncode == 0, call.stderr
    assert "character: Hi, I'm Ada!" in call.stdout and "you (typed):" in call.stdout
    assert (tmp_path / "call.mp4").stat().st_size > 10_000
    sdk = server.sdk(api_key, max_retries=0)
    conversation = wait_for(
        lambda: (c := sdk.avatar_conversations.retrieve(creds["roomName"])).recording_url and c,
        timeout=20,
    )
    assert conversation.status == "ended"
    assert [t.role for t in conversation.transcript][:3] == ["assistant", "user", "assistant"]
