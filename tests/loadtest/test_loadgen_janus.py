"""The load generator against Janus VideoRoom, where Janus is installed: the same short 4-bot run as the product's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import uvloop

from benchmarks.loadtest.config import RunConfig
from benchmarks.loadtest.janus_server import JanusUnavailable, unavailable_reason
from benchmarks.loadtest.report import REQUIRED_FIELDS
from benchmarks.loadtest.runner import run

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "loadtest"
SHORT_RUN = RunConfig(participants=4, duration=10.0, warmup=1.0, join_timeout=20.0, progress=False, target="janus")


@pytest.mark.skipif(unavailable_reason() is not None, reason=f"janus target unavailable: {unavailable_reason()}")
def test_four_bots_for_ten_seconds_through_janus() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    config = replace(SHORT_RUN, json_path=ARTIFACTS / "short-run-janus.json")
    try:
        report = uvloop.run(run(config))
    except JanusUnavailable as exc:  # installed, but this sandbox refuses a network namespace (no CAP_SYS_ADMIN)
        pytest.skip(f"janus could not start here: {exc}")

    missing = [f for f in REQUIRED_FIELDS if report.get(f) is None]
    assert not missing, f"report fields missing or empty: {missing}"
    assert report["target"] == "janus"
    assert report["tracks_receiving"] == report["tracks_expected"] == 4 * 3 * 2, report["delivery_worst_tracks"]
    assert report["delivery_ratio"] >= 0.99, report["delivery_worst_tracks"]
    assert report["server_cpu_us_per_forwarded_packet"] > 0
    assert report["errors"] == {}, report["errors"]
