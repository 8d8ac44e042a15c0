"""The web client's pure ES modules (the reconnect state machine, the client report), under node's test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (scripts/test installs nodejs)")
def test_web_client_modules_pass_their_node_tests() -> None:
    result = subprocess.run(["node", "--test", str(HERE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
