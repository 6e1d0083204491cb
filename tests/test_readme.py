"""The README's quickstart runs as written (against a real server, with a real face photo)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Server
from tests.face_assets import hopper_bytes

pytestmark = [pytest.mark.slow]


def quickstart_code() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quickstart") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no python block in its Quickstart"
    return match.group(1)


def test_readme_quickstart_runs(server: Server, api_key: str, tmp_path: Path) -> None:
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
    lines = result.stdout.strip().splitlines()
    assert "'roomName'" in lines[0] and "'token'" in lines[0]  # the consumed credentials
    assert lines[-1] == "ended"  # the conversation of the cancelled session
