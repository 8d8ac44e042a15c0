"""Session-wide test helpers: processes under test are started here and always torn down."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def coturn() -> Iterator[Any]:
    """A real coturn on loopback for one test module (tests/turn/coturn.py), skipped where it is not installed."""
    from tests.turn.coturn import coturn_installed, run_coturn

    if not coturn_installed():
        pytest.skip("coturn is not installed (scripts/test installs it)")
    with run_coturn() as server:
        yield server


def pytest_configure(config: pytest.Config) -> None:
    # Child processes (media server, gateway) must import this checkout, not an installed copy.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
