"""The client's A/V sync logic (``static/sync.js``) under node, without a browser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SYNC_JS = HERE.parents[1] / "tuner" / "web" / "static" / "sync.js"


def test_sync_scenarios() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run .ci/install-web-test-deps.sh")
    done = subprocess.run(
        [node, str(HERE / "sync_scenarios.js"), str(SYNC_JS)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
